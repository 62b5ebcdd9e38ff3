/**
 * The value checks a zod schema cannot express well on its own: cron expressions, IANA time zones,
 * durations written in words, and parameter defaults that must match their declared type. Each check
 * returns a problem description (message, expected, hint) or undefined; validate.ts places it in the
 * file. No I/O and no clock: cron is checked by asking croner for the next slot from a fixed date.
 */
import { Cron } from 'croner';
import { parseDuration } from '../duration.js';
import { didYouMean, listQuoted } from './hints.js';

export interface Problem {
  message: string;
  expected?: string;
  hint?: string;
}

export const DURATION_EXPECTED = 'a duration such as 500ms, 10s, 30m, 1h30m or 8d';

const UNIT_WORDS: Record<string, string> = {
  ms: 'ms',
  msec: 'ms',
  msecs: 'ms',
  millisecond: 'ms',
  milliseconds: 'ms',
  s: 's',
  sec: 's',
  secs: 's',
  second: 's',
  seconds: 's',
  m: 'm',
  min: 'm',
  mins: 'm',
  minute: 'm',
  minutes: 'm',
  h: 'h',
  hr: 'h',
  hrs: 'h',
  hour: 'h',
  hours: 'h',
  d: 'd',
  day: 'd',
  days: 'd',
  w: 'w',
  wk: 'w',
  wks: 'w',
  week: 'w',
  weeks: 'w',
};

/** How to write what the user meant: `5 minutes` → `5m`, `1h 30m` → `1h30m`, `30` → `30s or 30m`. */
export function durationHint(value: unknown): string {
  const generic = 'Write a number followed by a unit (ms, s, m, h, d or w), e.g. 30s, 10m or 1h30m.';
  if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value))) {
    const amount = String(value).trim();
    return `A bare number is ambiguous; write ${amount}s for seconds or ${amount}m for minutes.`;
  }
  if (typeof value !== 'string') return generic;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)\s*([A-Za-z]+)/g)];
  const rest = value.replace(/(\d+(?:\.\d+)?)\s*([A-Za-z]+)/g, '').replace(/[\s,]|and/g, '');
  if (parts.length === 0 || rest !== '') return generic;
  let rewritten = '';
  for (const [, amount, word] of parts) {
    const unit = UNIT_WORDS[word!.toLowerCase()];
    if (unit === undefined) return generic;
    rewritten += `${amount}${unit}`;
  }
  return parseDuration(rewritten) === undefined ? generic : `Write ${rewritten}.`;
}

let zoneNames: string[] | undefined;

/** Whether the runtime knows a time zone; Intl is what luxon and croner use as well. */
export function isValidTimeZone(zone: string): boolean {
  if (zone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function checkTimeZone(zone: string): Problem | undefined {
  if (isValidTimeZone(zone)) return undefined;
  zoneNames ??= [...Intl.supportedValuesOf('timeZone'), 'UTC'];
  const suggestion = didYouMean(zone, zoneNames);
  return {
    message: `Unknown time zone '${zone}'`,
    expected: 'an IANA time zone such as Europe/Berlin, America/New_York or UTC',
    hint:
      suggestion === undefined
        ? 'Use a name from the IANA time zone database (Area/City); offsets such as +02:00 do not follow daylight saving time.'
        : `did you mean '${suggestion}'?`,
  };
}

// A fixed reference so the same file always validates the same way, whatever today's date is.
const REFERENCE_DATE = new Date('2000-01-01T00:00:00Z');

export function checkCron(expression: string, zone: string): Problem | undefined {
  const expected =
    "a cron expression with five fields (minute hour day-of-month month day-of-week), e.g. '0 7 * * 1'";
  let job: Cron;
  try {
    job = new Cron(expression, { paused: true, timezone: isValidTimeZone(zone) ? zone : 'UTC' });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^Cron\w*:\s*/, '');
    return {
      message: `Invalid cron expression '${expression}': ${reason}`,
      expected,
      hint: "Fields are minute (0-59), hour (0-23), day of month (1-31), month (1-12) and day of week (0-7, MON-SUN); '0 7 * * MON-FRI' runs on weekdays at 07:00.",
    };
  }
  const next = job.nextRun(REFERENCE_DATE);
  job.stop();
  if (next === null) {
    return {
      message: `Cron expression '${expression}' never matches a date`,
      expected,
      hint: 'Check the day-of-month and month fields (for example, February has no 30th) and any year field.',
    };
  }
  return undefined;
}

export type ParamType = 'string' | 'number' | 'integer' | 'boolean' | 'date';
export const PARAM_TYPES: readonly ParamType[] = ['string', 'number', 'integer', 'boolean', 'date'];

const PARAM_EXPECTED: Record<ParamType, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  date: 'a date written as YYYY-MM-DD',
};

function isIsoDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (match === null) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

/** Whether a value (a default or an enum entry) fits a parameter type. */
export function checkParamValue(type: ParamType, value: unknown): Problem | undefined {
  const fits =
    (type === 'string' && typeof value === 'string') ||
    (type === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (type === 'integer' && Number.isInteger(value)) ||
    (type === 'boolean' && typeof value === 'boolean') ||
    (type === 'date' && typeof value === 'string' && isIsoDate(value));
  if (fits) return undefined;
  let hint = `The parameter has type ${type}; change the value or the type.`;
  if (typeof value === 'string' && (type === 'number' || type === 'integer' || type === 'boolean')) {
    hint = `Remove the quotes around ${JSON.stringify(value)} so that YAML reads it as ${PARAM_EXPECTED[type]}.`;
  } else if (type === 'string' && value !== null && typeof value !== 'object') {
    hint = `Put the value in quotes ('${String(value)}') so that YAML reads it as a string.`;
  }
  return { message: `Value does not match the parameter type ${type}`, expected: PARAM_EXPECTED[type], hint };
}

export function checkParamEnum(value: unknown, allowed: readonly unknown[]): Problem | undefined {
  if (allowed.some((entry) => entry === value)) return undefined;
  const strings = allowed.filter((entry): entry is string => typeof entry === 'string');
  const suggestion = typeof value === 'string' ? didYouMean(value, strings) : undefined;
  return {
    message: 'Default value is not one of the allowed values (enum)',
    expected: `one of ${listQuoted(allowed)}`,
    hint:
      suggestion === undefined
        ? 'Pick the default from the enum list, or add it there.'
        : `did you mean '${suggestion}'?`,
  };
}
