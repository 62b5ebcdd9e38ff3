/**
 * Writes one worksheet as CSV, the grid as it stands: every row that holds a value, from column A to
 * the rightmost column used anywhere in the sheet, so every line has the same number of fields. The
 * width is only known once the last row was read, so rows go first to a spill file (one JSON array per
 * line) and are written as CSV in a second pass; memory stays bounded however large the sheet.
 *
 * Values: numbers in plain decimal notation (never 1e+21), dates and times in ISO 8601 without a time
 * zone (Excel has none), booleans as true/false, text as is, formulas as their cached result. Error
 * cells (#N/A) become empty fields and are counted for a warning. Fields holding a comma, a quote, CR
 * or LF are quoted, with quotes doubled (RFC 4180); lines end in LF, the text is UTF-8 without BOM.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import type { Row } from 'exceljs';
import { columnLetters, readCell } from '../extract/xlsx-cells.js';

/** RFC 4180 quoting: only when needed, with inner quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A number in plain decimal notation: 1e21 → 1000000000000000000000, 1e-7 → 0.0000001. */
export function plainNumber(value: number): string {
  const text = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign = '', lead = '', rest = '', exponentText = '0'] = match;
  const digits = lead + rest;
  const point = 1 + Number(exponentText);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Excel's day zero: a date cell on it holds a time of day only. */
const TIME_ONLY_DAY = '1899-12-30';

/** `YYYY-MM-DD[ HH:MM:SS[.mmm]]` from the cell reader → ISO 8601 (a time of day alone for day zero). */
export function isoDateText(text: string): string {
  if (text === TIME_ONLY_DAY) return '00:00:00';
  if (text.startsWith(`${TIME_ONLY_DAY} `)) return text.slice(TIME_ONLY_DAY.length + 1);
  return text.replace(' ', 'T');
}

export interface SheetCsvResult {
  /** Lines written after the first (the sheet's first row, normally its header). */
  rows: number;
  lines: number;
  errorCells: number;
  /** The first error cell, e.g. `C7 (#N/A)`, for the warning. */
  firstError: string;
}

export class SheetCsvWriter {
  #width = 0;
  #lines = 0;
  #errorCells = 0;
  #firstError = '';
  readonly #spill: WriteStream;

  constructor(
    readonly spillPath: string,
    readonly date1904: boolean,
  ) {
    this.#spill = createWriteStream(spillPath, { flags: 'wx', mode: 0o600 });
  }

  async add(row: Row): Promise<void> {
    const fields: string[] = [];
    row.eachCell((cell, column) => {
      const reading = readCell(cell, this.date1904);
      if (reading.kind === 'blank') return;
      if (reading.kind === 'error') {
        this.#errorCells += 1;
        if (this.#firstError === '')
          this.#firstError = `${columnLetters(column)}${row.number} (${reading.code})`;
        return;
      }
      while (fields.length < column - 1) fields.push('');
      fields[column - 1] =
        reading.kind === 'number'
          ? plainNumber(Number(reading.text))
          : reading.kind === 'date'
            ? isoDateText(reading.text)
            : reading.text;
    });
    if (fields.length === 0) return;
    this.#width = Math.max(this.#width, fields.length);
    this.#lines += 1;
    if (!this.#spill.write(`${JSON.stringify(fields)}\n`)) await once(this.#spill, 'drain');
  }

  /** Ends the spill and writes the CSV to `target` (a new file). */
  async finish(target: string): Promise<SheetCsvResult> {
    this.#spill.end();
    await once(this.#spill, 'finish');
    const width = this.#width;
    const spillPath = this.spillPath;
    async function* csvLines(): AsyncGenerator<string> {
      const input = createReadStream(spillPath, { encoding: 'utf8' });
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        if (line === '') continue;
        const fields = JSON.parse(line) as string[];
        while (fields.length < width) fields.push('');
        yield `${fields.map(csvField).join(',')}\n`;
      }
    }
    await pipeline(Readable.from(csvLines()), createWriteStream(target, { flags: 'wx' }));
    return {
      rows: Math.max(0, this.#lines - 1),
      lines: this.#lines,
      errorCells: this.#errorCells,
      firstError: this.#firstError,
    };
  }

  /** Closes the spill when the sheet is abandoned; the caller removes the files. */
  abandon(): void {
    // A spill write still under way fails once the stream is destroyed (ERR_STREAM_DESTROYED), and
    // Node reports that as an 'error' event after the destroy; nothing waits for the spill any more,
    // and without a listener it would be an uncaught exception that ends the process.
    this.#spill.on('error', () => undefined);
    this.#spill.destroy();
  }
}
