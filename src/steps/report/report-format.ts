/**
 * How a report writes values: numbers in a small Excel-like format language, dates with luxon tokens in
 * the pipeline's zone, and the change of a metric against the previous run. Pure functions, no I/O.
 *
 * Number formats: optional literal prefix, then `0` or `#,##0` (thousands separators), optionally `.`
 * and zeros (fixed decimals) or hashes (at most that many), optionally `%` (× 100), then a literal
 * suffix: `0.0`, `#,##0`, `$#,##0.00`, `0.0 °C`, `0.#%`. `text` prints the value as it is.
 */
import { DateTime } from 'luxon';

export interface NumberFormat {
  prefix: string;
  suffix: string;
  grouping: boolean;
  minDecimals: number;
  maxDecimals: number;
  percent: boolean;
}

const NUMBER_PATTERN = /^(#,##0|0)(?:\.(0+|#+))?(%?)/;

/** Parses a number format; undefined when `spec` is not one (it may still be a date format). */
export function parseNumberFormat(spec: string): NumberFormat | undefined {
  const start = spec.search(/[#0]/);
  if (start < 0) return undefined;
  const match = NUMBER_PATTERN.exec(spec.slice(start));
  if (!match) return undefined;
  const decimals = match[2] ?? '';
  const fixed = decimals.startsWith('0');
  return {
    prefix: spec.slice(0, start),
    suffix: spec.slice(start + match[0].length),
    grouping: match[1] === '#,##0',
    minDecimals: fixed ? decimals.length : 0,
    maxDecimals: decimals.length,
    percent: match[3] === '%',
  };
}

export function isNumberFormat(spec: string): boolean {
  return spec === 'text' || parseNumberFormat(spec) !== undefined;
}

const formatters = new Map<string, Intl.NumberFormat>();

function numberFormatter(locale: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let formatter = formatters.get(key);
  if (formatter === undefined) {
    formatter = new Intl.NumberFormat(locale, options);
    if (formatters.size > 200) formatters.clear();
    formatters.set(key, formatter);
  }
  return formatter;
}

function special(value: number): string | undefined {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '∞';
  if (value === -Infinity) return '-∞';
  return undefined;
}

/**
 * The default look of a number: whole numbers without decimals (separators from 10,000 on, so years
 * stay 2026), others with up to two decimals, or three significant digits below 1.
 */
function defaultNumber(value: number, locale: string, signed: boolean): string {
  const abs = Math.abs(value);
  const options: Intl.NumberFormatOptions = Number.isInteger(value)
    ? { maximumFractionDigits: 0, useGrouping: abs >= 10_000 }
    : abs >= 1
      ? { maximumFractionDigits: 2, useGrouping: abs >= 10_000 }
      : { maximumSignificantDigits: 3 };
  const text = numberFormatter(locale, options).format(abs);
  return `${signOf(value, signed)}${text}`;
}

function signOf(value: number, signed: boolean): string {
  if (value < 0) return '-';
  return signed && value > 0 ? '+' : '';
}

/**
 * Formats a number with `spec` (or the default look). `signed` puts a `+` before positive values,
 * for changes. A spec that is no number format is an error the caller reports.
 */
export function formatNumber(
  value: number,
  spec: string | undefined,
  locale: string,
  signed = false,
): string {
  const odd = special(value);
  if (odd !== undefined) return odd;
  if (spec === undefined) return defaultNumber(value, locale, signed);
  if (spec === 'text') return `${signed && value > 0 ? '+' : ''}${String(value)}`;
  const format = parseNumberFormat(spec);
  if (format === undefined) throw new TypeError(`'${spec}' is not a number format`);
  // × 100 in binary floating point makes 0.0725 into 7.249999…; 15 significant digits undo that.
  const scaled = format.percent ? Number((value * 100).toPrecision(15)) : value;
  const text = numberFormatter(locale, {
    minimumFractionDigits: format.minDecimals,
    maximumFractionDigits: format.maxDecimals,
    useGrouping: format.grouping,
  }).format(Math.abs(scaled));
  // Rounding can turn -0.01 into "0.0": no sign on a zero.
  const sign = /[1-9]/.test(text) ? signOf(scaled, signed) : '';
  return `${sign}${format.prefix}${text}${format.percent ? '%' : ''}${format.suffix}`;
}

export type DateKind = 'date' | 'timestamp' | 'timestamptz';

const DEFAULT_DATE_FORMATS: Record<DateKind, string> = {
  date: 'yyyy-MM-dd',
  timestamp: 'yyyy-MM-dd HH:mm',
  timestamptz: 'yyyy-MM-dd HH:mm',
};

/**
 * Formats a date from DuckDB. DATE and TIMESTAMP values are wall-clock times (DuckDB hands them over
 * as UTC instants of that wall time), TIMESTAMPTZ values are instants shown in the pipeline's zone.
 */
export function formatDate(
  value: Date,
  kind: DateKind,
  spec: string | undefined,
  zone: string,
  locale: string,
): string {
  const when = DateTime.fromJSDate(value, { zone: kind === 'timestamptz' ? zone : 'UTC' }).setLocale(locale);
  if (!when.isValid) return String(value);
  let format = spec ?? DEFAULT_DATE_FORMATS[kind];
  if (spec === undefined && kind !== 'date' && when.second !== 0) format += ':ss';
  return when.toFormat(format);
}

/** Run dates in the pipeline's zone, e.g. `Mon 23 Mar 2026, 08:00 (Europe/Berlin)`. */
export function formatRunDate(value: Date, zone: string, locale: string, withZone = true): string {
  const text = DateTime.fromJSDate(value, { zone }).setLocale(locale).toFormat('ccc d LLL yyyy, HH:mm');
  return withZone ? `${text} (${zone})` : text;
}

/**
 * The format a number column gets when none is given, from the values it shows, so a column lines up:
 * whole numbers without decimals, DECIMAL(p,s) with its s decimals (at most 4), other fractions with
 * as many decimals as the most precise value needs (at most 2); separators when a value reaches
 * 10,000. Undefined (each value on its own) for fractions below 1.
 */
export function autoNumberFormat(type: string, values: readonly unknown[]): string | undefined {
  const numbers = values.filter(
    (value): value is number => typeof value === 'number' && Number.isFinite(value),
  );
  if (numbers.length === 0) return undefined;
  const largest = Math.max(...numbers.map((value) => Math.abs(value)));
  const whole = largest >= 10_000 ? '#,##0' : '0';
  const scale = /^DECIMAL\(\d+,\s*(\d+)\)$/i.exec(type.trim())?.[1];
  let decimals: number;
  if (scale !== undefined) decimals = Math.min(4, Number(scale));
  else if (numbers.every((value) => Number.isInteger(value))) decimals = 0;
  else if (largest < 1) return undefined;
  else
    decimals = Math.max(...numbers.map((value) => (/\.(\d*?)0*$/.exec(value.toFixed(2))?.[1] ?? '').length));
  return decimals === 0 ? whole : `${whole}.${'0'.repeat(decimals)}`;
}

export type Better = 'higher' | 'lower';

export interface MetricChange {
  /** value − previous */
  delta: number;
  /** Relative change in percent; undefined when the previous value was 0. */
  percent: number | undefined;
  direction: 'up' | 'down' | 'flat';
  /** good/bad from `better`; neutral without it or when nothing changed. */
  sentiment: 'good' | 'bad' | 'neutral';
  /** e.g. `▲ +1.2 °C (+5.3%)` */
  text: string;
}

export function metricChange(
  value: number,
  previous: number,
  format: string | undefined,
  locale: string,
  better: Better | undefined,
): MetricChange {
  const delta = value - previous;
  const percent = previous === 0 ? undefined : Number(((delta / Math.abs(previous)) * 100).toPrecision(15));
  const deltaText = formatDelta(delta, format, locale);
  const direction = /[1-9]/.test(deltaText) ? (delta > 0 ? 'up' : 'down') : 'flat';
  const sentiment =
    better === undefined || direction === 'flat'
      ? 'neutral'
      : (direction === 'up') === (better === 'higher')
        ? 'good'
        : 'bad';
  const arrow = direction === 'up' ? '▲' : direction === 'down' ? '▼' : '■';
  const percentText =
    percent === undefined || direction === 'flat' ? '' : ` (${formatNumber(percent, '0.0', locale, true)}%)`;
  return {
    delta,
    percent,
    direction,
    sentiment,
    text: direction === 'flat' ? `${arrow} no change` : `${arrow} ${deltaText}${percentText}`,
  };
}

/**
 * The change in the metric's own format; the change of a percentage is in percentage points (a share
 * going from 40% to 45% changed by +5.0 pp, which is +12.5%).
 */
function formatDelta(delta: number, format: string | undefined, locale: string): string {
  const parsed = format === undefined ? undefined : parseNumberFormat(format);
  if (parsed?.percent !== true) return formatNumber(delta, format, locale, true);
  const decimals = parsed.minDecimals > 0 ? '0'.repeat(parsed.minDecimals) : '#'.repeat(parsed.maxDecimals);
  const points = decimals === '' ? '0' : `0.${decimals}`;
  return `${formatNumber(delta * 100, points, locale, true)} pp`;
}

/** `weekly-temperature` → `Weekly temperature`, `mean_temp` → `Mean temp`. */
export function humanize(id: string): string {
  const words = id.replace(/[-_]+/g, ' ').trim();
  return words === '' ? id : words.charAt(0).toUpperCase() + words.slice(1);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}
