/**
 * A schedule in words plus its zone, for the CLI and the UI: "Mondays at 08:00, Europe/Berlin",
 * "every hour at :30, UTC", "daily at 07:15, America/New_York". Only shapes that read unambiguously
 * are put into words (a fixed time on every day, on chosen weekdays or on one day of the month, and
 * regular minute or hour steps); anything else, including an invalid expression, falls back to the
 * cron text: `cron "0 9 1-7 * MON", Europe/Berlin`. Pure: it does not validate the expression.
 */
import type { ScheduleSpec } from '../core/spec/pipeline-schema.js';

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const DAY_NAMES = ['Sundays', 'Mondays', 'Tuesdays', 'Wednesdays', 'Thursdays', 'Fridays', 'Saturdays'];
const DAY_TOKENS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const MONTH_TOKENS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

export function describeSchedule(
  schedule: Pick<ScheduleSpec, 'cron' | 'timezone'>,
  projectTimezone: string,
): string {
  return describeCron(schedule.cron, schedule.timezone ?? projectTimezone);
}

export function describeCron(expression: string, timezone: string): string {
  const words = cronInWords(expression);
  return words === undefined ? `cron "${expression.trim()}", ${timezone}` : `${words}, ${timezone}`;
}

/** The expression in words without the zone, or undefined when it is not one of the simple shapes. */
export function cronInWords(expression: string): string | undefined {
  const trimmed = expression.trim();
  const fields = (NICKNAMES[trimmed.toLowerCase()] ?? trimmed).split(/\s+/);
  let second = '0';
  if (fields.length === 6) second = fields.shift() ?? '';
  if (fields.length !== 5) return undefined;
  const [minute = '', hour = '', dayOfMonth = '', month = '', dayOfWeek = ''] = fields;
  const sec = toNumber(second, 0, 59);
  if (sec === undefined) return undefined;

  const anyDay = isStar(dayOfMonth) && isStar(month) && isStar(dayOfWeek);
  // Sub-daily shapes: every day, every hour or every few minutes/hours.
  if (anyDay && sec === 0) {
    if (isStar(minute) && isStar(hour)) return 'every minute';
    const minuteStep = stepOf(minute, 59);
    if (minuteStep !== undefined && isStar(hour)) return `every ${minuteStep} minutes`;
    const m = toNumber(minute, 0, 59);
    if (m !== undefined && isStar(hour)) return `every hour at :${pad(m)}`;
    const hourStep = stepOf(hour, 23);
    if (m !== undefined && hourStep !== undefined) return `every ${hourStep} hours at :${pad(m)}`;
  }

  const m = toNumber(minute, 0, 59);
  const hours = listOf(hour, 0, 23, { most: 4 });
  if (m === undefined || hours === undefined) return undefined;
  const at = `at ${hours.map((h) => clock(h, m, sec)).join(' and ')}`;

  if (anyDay) return `daily ${at}`;
  if (isStar(dayOfMonth) && isStar(month)) {
    const days = listOf(dayOfWeek, 0, 7, { tokens: DAY_TOKENS });
    if (days === undefined) return undefined;
    const set = [...new Set(days.map((day) => day % 7))].sort((a, b) => a - b);
    if (set.join() === '1,2,3,4,5') return `weekdays ${at}`;
    if (set.join() === '0,6') return `weekends ${at}`;
    if (set.length === 7) return `daily ${at}`;
    // Monday first, as calendars in most of the world show the week.
    const mondayFirst = [...set.filter((day) => day !== 0), ...set.filter((day) => day === 0)];
    return `${joinWords(mondayFirst.map((day) => DAY_NAMES[day] ?? ''))} ${at}`;
  }
  if (!isStar(dayOfWeek)) return undefined;
  const day = dayOfMonth.toUpperCase() === 'L' ? 'the last day' : ordinalDay(dayOfMonth);
  if (day === undefined) return undefined;
  if (isStar(month)) return `monthly on ${day} ${at}`;
  const months = listOf(month, 1, 12, { tokens: MONTH_TOKENS, tokenBase: 1 });
  if (months?.length !== 1 || dayOfMonth.toUpperCase() === 'L') return undefined;
  return `yearly on ${toNumber(dayOfMonth, 1, 31)} ${MONTH_NAMES[(months[0] ?? 1) - 1]} ${at}`;
}

function isStar(field: string): boolean {
  return field === '*' || field === '?';
}

function toNumber(field: string, min: number, max: number): number | undefined {
  if (!/^\d{1,2}$/.test(field)) return undefined;
  const value = Number(field);
  return value >= min && value <= max ? value : undefined;
}

/** `*\/15` → 15, when the step divides the field evenly (otherwise the gaps are uneven: not "every"). */
function stepOf(field: string, max: number): number | undefined {
  const match = /^(?:\*|0)\/(\d{1,2})$/.exec(field);
  if (match === null) return undefined;
  const step = Number(match[1]);
  return step > 1 && step <= max && (max + 1) % step === 0 ? step : undefined;
}

/** A comma list of numbers, names or simple ranges, e.g. `1-5`, `MON,WED,FRI`, `8,17`. */
function listOf(
  field: string,
  min: number,
  max: number,
  options: { tokens?: readonly string[]; tokenBase?: number; most?: number } = {},
): number[] | undefined {
  const { tokens, tokenBase = 0, most = Infinity } = options;
  const values: number[] = [];
  for (const part of field.split(',')) {
    const range = part.split('-');
    if (range.length > 2) return undefined;
    const bounds = range.map((item) => {
      const index = tokens?.indexOf(item.toUpperCase()) ?? -1;
      return index >= 0 ? index + tokenBase : toNumber(item, min, max);
    });
    const [from, to = from] = bounds;
    if (from === undefined || to === undefined || to < from) return undefined;
    for (let value = from; value <= to; value += 1) values.push(value);
  }
  return values.length > 0 && values.length <= most ? values : undefined;
}

function ordinalDay(field: string): string | undefined {
  const day = toNumber(field, 1, 31);
  if (day === undefined) return undefined;
  const suffix =
    day % 10 === 1 && day !== 11
      ? 'st'
      : day % 10 === 2 && day !== 12
        ? 'nd'
        : day % 10 === 3 && day !== 13
          ? 'rd'
          : 'th';
  return `the ${day}${suffix}`;
}

function clock(hour: number, minute: number, second: number): string {
  return `${pad(hour)}:${pad(minute)}${second === 0 ? '' : `:${pad(second)}`}`;
}

function pad(value: number): string {
  return value.toString().padStart(2, '0');
}

function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words.at(-1) ?? ''}`;
}
