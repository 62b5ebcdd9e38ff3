/**
 * Pipewright's own Liquid filters. Every date is interpreted and formatted in the pipeline's time zone
 * (never the server's), so a definition renders the same on any machine and across DST changes.
 *
 * - `date: 'yyyyMMdd'[, 'de']`   luxon format tokens, optional locale (default en-US)
 * - `date_add: '-7d'`            returns a Date; d and w are calendar days in the zone (a DST day is
 *                                23 or 25 hours), h, m and s are elapsed time; parts combine: '1d12h'
 * - `start_of: 'week'`           returns a Date; week starts on Monday (ISO)
 * - `iso`                        ISO-8601 with the zone's offset, e.g. 2026-03-29T03:00:00+02:00
 * - `sql_string`                 standard SQL literal ('' doubling, as DuckDB, PostgreSQL and SQLite
 *                                read it); nil becomes NULL. Not safe for MySQL with backslash escapes.
 * - `json` / `jsonify`           JSON text; Dates become ISO strings in the zone
 * Inputs accepted as dates: Date objects, ISO-8601 text (without offset = wall time in the zone) and
 * epoch milliseconds. Liquid's `now`/`today` are not accepted: a re-run or backfill must render the
 * same text, so templates use `run.scheduled_for` or `run.started_at` instead.
 */
import { DateTime, type DateTimeUnit, type DurationLikeObject } from 'luxon';
import type { Context, Liquid } from 'liquidjs';
import { PwError } from '../errors/pw-error.js';

/** What liquidjs binds `this` to in a filter (its own FilterImpl type is not exported). */
export type FilterThis = { context: Context; liquid: Liquid };

/** Render-time globals key carrying the zone; a symbol, so no template can read or shadow it. */
export const ZONE_KEY: unique symbol = Symbol('pipewright.zone');

/** Liquid built-ins replaced or removed because they would use the server's clock or zone. */
const REMOVED_FILTERS = ['date_to_xmlschema', 'date_to_rfc822', 'date_to_string', 'date_to_long_string'];

export const PIPEWRIGHT_FILTERS = [
  'date',
  'date_add',
  'start_of',
  'iso',
  'sql_string',
  'json',
  'jsonify',
] as const;

export function registerFilters(liquid: Liquid): void {
  for (const name of REMOVED_FILTERS) liquid.unregisterFilter(name);
  liquid.registerFilter('date', dateFilter);
  liquid.registerFilter('date_add', dateAddFilter);
  liquid.registerFilter('start_of', startOfFilter);
  liquid.registerFilter('iso', isoFilter);
  liquid.registerFilter('sql_string', sqlStringFilter);
  liquid.registerFilter('json', jsonFilter);
  liquid.registerFilter('jsonify', jsonFilter);
}

export function zoneOf(impl: FilterThis): string {
  const zone = (impl.context.globals as Record<symbol, unknown> | undefined)?.[ZONE_KEY];
  return typeof zone === 'string' ? zone : 'UTC';
}

/** Formats a Date as ISO-8601 in `zone`; also used when a Date is printed directly with `{{ }}`. */
export function isoInZone(date: Date, zone: string): string {
  return DateTime.fromJSDate(date, { zone }).toISO({ suppressMilliseconds: true }) ?? '';
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (nil)';
  if (value instanceof Date) return 'an invalid Date';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `text '${shown}'`;
  }
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function filterError(
  filter: string,
  message: string,
  details: { expected: string; found?: string; hint?: string },
): PwError {
  return new PwError('PW_TEMPLATE_RENDER', `Filter \`${filter}\`: ${message}`, details);
}

export function toDateTime(value: unknown, zone: string, filter: string): DateTime {
  let parsed: DateTime | undefined;
  if (value instanceof Date) parsed = DateTime.fromJSDate(value, { zone });
  else if (typeof value === 'number' && Number.isFinite(value)) parsed = DateTime.fromMillis(value, { zone });
  else if (typeof value === 'string') parsed = DateTime.fromISO(value.trim(), { zone });
  if (parsed?.isValid) return parsed;
  const hint =
    value === 'now' || value === 'today'
      ? "Templates have no clock: use run.scheduled_for or run.started_at, e.g. {{ run.scheduled_for | date: 'yyyy-MM-dd' }}."
      : "Pass run.scheduled_for, a value from date_add/start_of, text such as '2026-03-29T08:00' or epoch milliseconds.";
  throw filterError(filter, 'the input is not a date', {
    expected: 'a Date, ISO-8601 text or epoch milliseconds',
    found: describe(value),
    hint,
  });
}

function dateFilter(this: FilterThis, value: unknown, format?: unknown, locale?: unknown): string {
  if (typeof format !== 'string' || format === '') {
    throw filterError('date', 'a format is required', {
      expected: "a luxon format such as date: 'yyyy-MM-dd'",
      found: format === undefined ? 'no format' : describe(format),
      hint: 'Use `iso` for a full timestamp, or date: "yyyy-MM-dd\'T\'HH:mm".',
    });
  }
  if (format.includes('%')) {
    throw filterError('date', 'strftime directives are not supported', {
      expected: "luxon tokens, e.g. 'yyyy-MM-dd HH:mm'",
      found: `'${format}'`,
      hint: '%Y → yyyy, %m → MM, %d → dd, %H → HH, %M → mm, %S → ss.',
    });
  }
  const when = toDateTime(value, zoneOf(this), 'date');
  try {
    return when.setLocale(typeof locale === 'string' && locale !== '' ? locale : 'en-US').toFormat(format);
  } catch (cause) {
    throw filterError('date', 'the locale is not known', {
      expected: "a locale such as 'en-US' or 'de'",
      found: describe(locale),
      hint: String(cause),
    });
  }
}

const DURATION_TEXT = /^([+-]?)((?:\d+[wdhms])+)$/;
const DURATION_PART = /(\d+)([wdhms])/g;
const DURATION_UNIT = { w: 'weeks', d: 'days', h: 'hours', m: 'minutes', s: 'seconds' } as const;

function dateAddFilter(this: FilterThis, value: unknown, amount?: unknown): Date {
  const text = typeof amount === 'string' ? amount.replace(/\s+/g, '') : '';
  const match = DURATION_TEXT.exec(text);
  if (!match) {
    throw filterError('date_add', 'the duration is not valid', {
      expected: "a signed duration such as '-7d', '1h', '90m' or '1w2d' (units w, d, h, m, s)",
      found: amount === undefined ? 'no duration' : describe(amount),
    });
  }
  const sign = match[1] === '-' ? -1 : 1;
  const shift: DurationLikeObject = {};
  for (const [, count, unit] of (match[2] ?? '').matchAll(DURATION_PART)) {
    const key = DURATION_UNIT[unit as keyof typeof DURATION_UNIT];
    shift[key] = (shift[key] ?? 0) + sign * Number(count);
  }
  return toDateTime(value, zoneOf(this), 'date_add').plus(shift).toJSDate();
}

const START_UNITS: readonly DateTimeUnit[] = ['year', 'quarter', 'month', 'week', 'day', 'hour', 'minute'];

function startOfFilter(this: FilterThis, value: unknown, unit?: unknown): Date {
  if (typeof unit !== 'string' || !(START_UNITS as readonly string[]).includes(unit)) {
    throw filterError('start_of', 'the unit is not known', {
      expected: START_UNITS.map((name) => `'${name}'`).join(', '),
      found: unit === undefined ? 'no unit' : describe(unit),
    });
  }
  return toDateTime(value, zoneOf(this), 'start_of')
    .startOf(unit as DateTimeUnit)
    .toJSDate();
}

function isoFilter(this: FilterThis, value: unknown): string {
  const when = toDateTime(value, zoneOf(this), 'iso');
  return when.toISO({ suppressMilliseconds: true }) ?? '';
}

function sqlStringFilter(this: FilterThis, value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  let text: string;
  if (value instanceof Date) text = isoFilter.call(this, value);
  else if (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    typeof value === 'bigint'
  )
    text = String(value);
  else {
    throw filterError('sql_string', 'only single values can be quoted', {
      expected: 'text, a number, a boolean, a Date or nil',
      found: describe(value),
      hint: 'Quote each element, e.g. {% for v in params.list %}{{ v | sql_string }}{% unless forloop.last %}, {% endunless %}{% endfor %}.',
    });
  }
  if (text.includes('\0')) {
    throw filterError('sql_string', 'the text contains a NUL character', {
      expected: 'text without NUL characters',
      found: 'a NUL character',
    });
  }
  return `'${text.replaceAll("'", "''")}'`;
}

function jsonFilter(this: FilterThis, value: unknown, indent?: unknown): string {
  const space = typeof indent === 'number' && indent > 0 ? Math.min(indent, 10) : undefined;
  try {
    return toJson(value, zoneOf(this), space);
  } catch (cause) {
    throw filterError('json', 'the value cannot be written as JSON', {
      expected: 'plain data (objects, lists, text, numbers)',
      found: cause instanceof Error ? cause.message : 'an unserialisable value',
    });
  }
}

/** JSON text with Dates as ISO-8601 in `zone`; throws on cycles and bigints. */
export function toJson(value: unknown, zone: string, space?: number): string {
  // Date.toJSON runs before a replacer sees the value, so look at the holder's original property.
  const text = JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string, replaced: unknown) {
      const original = this[key];
      return original instanceof Date ? isoInZone(original, zone) : replaced;
    },
    space,
  ) as string | undefined;
  return text ?? 'null';
}
