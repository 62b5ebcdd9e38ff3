/**
 * What one XLSX cell holds, reduced to a kind and a text: the text is what goes into the VARCHAR
 * staging table, the kind drives type inference. Rich text is joined, a formula contributes its cached
 * result, a hyperlink its display text, and an error value (#N/A, #DIV/0!) is reported so the caller
 * can store NULL and warn. Also cell-address arithmetic (column letters, ranges).
 */
import type { Cell, CellValue } from 'exceljs';
import { PwError } from '../../core/errors/pw-error.js';
import { CELL_RANGE } from './files-read-schema.js';

export type CellKind = 'number' | 'date' | 'boolean' | 'string';

export type CellReading =
  { kind: CellKind; text: string; integral: boolean } | { kind: 'error'; code: string } | { kind: 'blank' };

const BLANK: CellReading = { kind: 'blank' };

/**
 * Whether a number format shows a date or time. Quoted literals, escaped characters and bracketed
 * parts other than elapsed-time codes ([h], [mm], [ss]) are removed first, so "[$€-407] #,##0" or
 * `0.0 "days"` do not count.
 */
export function isDateFormat(format: string | undefined): boolean {
  if (format === undefined || format === '') return false;
  const stripped = format
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/\[(?!(?:h+|m+|s+)\])[^\]]*\]/gi, '')
    .replace(/general/gi, '');
  return /[dmyhs]/i.test(stripped);
}

/** Excel serial day numbers (1900 or 1904 system) to a Date read in UTC, as exceljs does. */
export function serialToDate(serial: number, date1904: boolean): Date {
  const days = serial + (date1904 ? 1462 : 0) - 25569;
  return new Date(Math.round(days * 86_400_000));
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** An ISO-like text DuckDB casts to TIMESTAMP; the time is left out at midnight for readability. */
export function dateText(date: Date): string {
  const day = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
  const [hours, minutes, seconds, millis] = [
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    date.getUTCMilliseconds(),
  ];
  if (hours === 0 && minutes === 0 && seconds === 0 && millis === 0) return day;
  const time = `${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
  return millis === 0 ? `${day} ${time}` : `${day} ${time}.${pad(millis, 3)}`;
}

function primitive(
  value: number | string | boolean | Date,
  numFmt: string | undefined,
  date1904: boolean,
): CellReading {
  if (typeof value === 'number') {
    // A formula's cached result is stored as a bare number even under a date format.
    if (isDateFormat(numFmt))
      return { kind: 'date', text: dateText(serialToDate(value, date1904)), integral: false };
    return { kind: 'number', text: String(value), integral: Number.isSafeInteger(value) };
  }
  if (typeof value === 'boolean') return { kind: 'boolean', text: String(value), integral: false };
  if (value instanceof Date) {
    return Number.isNaN(value.getTime())
      ? { kind: 'error', code: 'invalid date' }
      : { kind: 'date', text: dateText(value), integral: false };
  }
  return value === '' ? BLANK : { kind: 'string', text: value, integral: false };
}

export function readValue(
  value: CellValue | undefined,
  numFmt: string | undefined,
  date1904: boolean,
): CellReading {
  if (value === null || value === undefined) return BLANK;
  if (typeof value !== 'object' || value instanceof Date) {
    // The streaming reader turns a formula's error result (#N/A) into NaN.
    if (typeof value === 'number' && Number.isNaN(value)) return { kind: 'error', code: '#VALUE' };
    return primitive(value, numFmt, date1904);
  }
  if ('error' in value) return { kind: 'error', code: String(value.error) };
  if ('sharedString' in value) {
    // xlsx-sheet.ts stops such a row with the file and cell named; this only keeps a reference from
    // ever passing as text should a row reach here another way.
    throw new PwError(
      'PW_INPUT_MALFORMED',
      `A cell refers to shared string ${String((value as { sharedString: unknown }).sharedString)} that the workbook does not hold`,
      {
        expected: 'the text of the cell',
        found: 'an unresolved shared-string reference',
        hint: 'The workbook is damaged. Open it in Excel or LibreOffice Calc and save it again.',
      },
    );
  }
  if ('richText' in value) {
    const text = value.richText.map((run) => run.text).join('');
    return text === '' ? BLANK : { kind: 'string', text, integral: false };
  }
  if ('formula' in value || 'sharedFormula' in value) {
    // LibreOffice stores a boolean cell as the formula TRUE() or FALSE() (every boolean of an .xls it
    // converts), and exceljs' streaming reader reads the result of any formula as a number.
    const formula = (value as { formula?: unknown }).formula;
    const constant = typeof formula === 'string' ? /^\s*(TRUE|FALSE)\(\)\s*$/i.exec(formula) : null;
    if (constant?.[1] !== undefined)
      return { kind: 'boolean', text: String(constant[1].toUpperCase() === 'TRUE'), integral: false };
    const result = (value as { result?: CellValue }).result;
    return readValue(result, numFmt, date1904);
  }
  if ('hyperlink' in value) return readValue((value as { text?: CellValue }).text, undefined, date1904);
  if ('text' in value) return readValue((value as { text?: CellValue }).text, undefined, date1904);
  return { kind: 'string', text: JSON.stringify(value), integral: false };
}

export function readCell(cell: Cell, date1904: boolean): CellReading {
  return readValue(cell.value, cell.numFmt, date1904);
}

/** 1 → A, 27 → AA. */
export function columnLetters(index: number): string {
  let letters = '';
  let rest = index;
  while (rest > 0) {
    const remainder = (rest - 1) % 26;
    letters = String.fromCharCode(65 + remainder) + letters;
    rest = Math.floor((rest - 1) / 26);
  }
  return letters;
}

/** A → 1, AA → 27. */
export function columnNumber(letters: string): number {
  let number = 0;
  for (const char of letters.toUpperCase()) number = number * 26 + (char.charCodeAt(0) - 64);
  return number;
}

export interface CellRange {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

export function parseRange(text: string): CellRange {
  const match = CELL_RANGE.exec(text);
  if (!match?.[1] || !match[2] || !match[3] || !match[4]) throw new Error(`not a cell range: ${text}`);
  const [a, b] = [columnNumber(match[1]), columnNumber(match[3])];
  const [r1, r2] = [Number(match[2]), Number(match[4])];
  return { top: Math.min(r1, r2), bottom: Math.max(r1, r2), left: Math.min(a, b), right: Math.max(a, b) };
}
