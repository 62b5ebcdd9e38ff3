/**
 * Streams the rows of one worksheet (or of each in turn, for `files.convert`) with exceljs'
 * streaming worksheet reader, so a large workbook is never held in memory. Sheets are chosen by name
 * (case-insensitive, as Excel treats them) or by 1-based position in tab order, which is the
 * workbook's sheet list, not the order of the parts in the zip.
 *
 * The zip is read through its central directory (zip-archive.ts) rather than with exceljs'
 * WorkbookReader walking the parts in stored order: that walk ends when unzipper has consumed the
 * file, and parts it has already split off but not yet handed over are dropped without an error. It
 * depends on timing, and it hits the usual layouts, where shared strings (Excel, LibreOffice) or the
 * sheet list (exceljs) are stored after the worksheets: worksheets then came out with
 * `{ sharedString: n }` in place of their text, or were missing. Here the parts worksheets depend on
 * (relationships, sheet list, shared strings, styles) are parsed first, by exceljs' own part parsers,
 * and each worksheet is then streamed straight from the file.
 */
import type { Readable } from 'node:stream';
import type ExcelJS from 'exceljs';
import type { CellValue, Row } from 'exceljs';
import { PwError } from '../../core/errors/pw-error.js';
import type { InputFile } from './input-files.js';
import { columnLetters } from './xlsx-cells.js';
import { ZipArchive } from './zip-archive.js';

/** The fields of the streaming reader that exceljs' type declarations leave out. */
interface ReaderState {
  model?: { sheets?: { name: string }[] };
  properties?: { model?: { date1904?: boolean } };
  /** Set once xl/sharedStrings.xml was parsed; without it exceljs reads text cells as references. */
  sharedStrings?: unknown[];
}

/**
 * WorkbookReader's part parsers, which its type declarations leave out (exceljs is pinned to an exact
 * version in package.json; `partParsers` checks they are still there). Each consumes one part.
 */
interface PartParsers {
  _parseRels(entry: Readable): Promise<void>;
  _parseWorkbook(entry: Readable): Promise<void>;
  _parseSharedStrings(entry: Readable): AsyncIterable<unknown>;
  _parseStyles(entry: Readable): Promise<void>;
  _parseWorksheet(
    chunks: AsyncIterable<Buffer>,
    sheetNo: string,
  ): Iterable<{ eventType: string; value: ExcelJS.stream.xlsx.WorksheetReader }>;
}

const PARSER_NAMES = [
  '_parseRels',
  '_parseWorkbook',
  '_parseSharedStrings',
  '_parseStyles',
  '_parseWorksheet',
] as const;

/** The parts exceljs reads, under the fixed names it expects (as its own reader does). */
const PART = {
  rels: 'xl/_rels/workbook.xml.rels',
  workbook: 'xl/workbook.xml',
  sharedStrings: 'xl/sharedStrings.xml',
  styles: 'xl/styles.xml',
};
const WORKSHEET_PART = /^xl\/worksheets\/sheet(\d+)\.xml$/;

interface SheetState {
  name?: string;
  id?: number | string;
}

export interface SheetInfo {
  name: string;
  date1904: boolean;
}

/** What the row callback returns: `stop` ends reading early (for example below a range). */
export type RowVerdict = 'continue' | 'stop';

function sheetList(reader: ReaderState): string[] {
  return (reader.model?.sheets ?? []).map((sheet) => sheet.name);
}

function isTarget(
  selector: string | number | undefined,
  sheet: SheetState,
  names: string[],
  position: number,
): boolean {
  if (names.length === 0 || sheet.name === undefined) {
    // No sheet list (a workbook without xl/workbook.xml): fall back to the order sheets arrive in.
    return selector === undefined
      ? position === 1
      : typeof selector === 'number'
        ? position === selector
        : false;
  }
  if (selector === undefined) return sheet.name === names[0];
  if (typeof selector === 'number') return sheet.name === names[selector - 1];
  return sheet.name.toLowerCase() === selector.toLowerCase();
}

function describeSelector(selector: string | number | undefined): string {
  if (selector === undefined) return 'the first sheet';
  return typeof selector === 'number' ? `sheet number ${selector}` : `sheet '${selector}'`;
}

function workbookFailure(file: InputFile, error: unknown): PwError {
  if (error instanceof PwError) return error;
  return new PwError(
    'PW_INPUT_MALFORMED',
    `${file.relative}: cannot read the workbook: ${(error as Error).message}`,
    {
      location: { file: file.relative },
      expected: 'an .xlsx workbook (Office Open XML)',
      hint: 'Password-protected workbooks cannot be read. A legacy Excel 97–2003 workbook needs format: xls (its usual extension .xls picks that format by itself).',
      cause: error,
    },
  );
}

function partParsers(reader: ExcelJS.stream.xlsx.WorkbookReader): PartParsers {
  const parsers = reader as unknown as Record<string, unknown>;
  const gone = PARSER_NAMES.filter((name) => typeof parsers[name] !== 'function');
  if (gone.length > 0)
    throw new Error(`this exceljs has no WorkbookReader.${gone.join(', ')}; Pipewright needs exceljs 4.4`);
  return reader as unknown as PartParsers;
}

/** A workbook opened for reading: the sheet list, shared strings and styles are already loaded. */
interface OpenWorkbook {
  state: ReaderState;
  /** The worksheets in the order the zip lists them (not always tab order); each streams lazily. */
  worksheets(): AsyncGenerator<ExcelJS.stream.xlsx.WorksheetReader>;
  close(): Promise<void>;
}

async function openWorkbook(file: InputFile): Promise<OpenWorkbook> {
  // Loaded with the first workbook read, so processes that never read one do not hold exceljs.
  const { default: ExcelJS } = await import('exceljs');
  const archive = await ZipArchive.open(file.absolute);
  try {
    // The input is never read by exceljs: only its part parsers are used, fed from `archive`.
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(file.absolute, {
      worksheets: 'emit',
      sharedStrings: 'cache',
      styles: 'cache',
      hyperlinks: 'ignore',
      entries: 'ignore',
    });
    const parsers = partParsers(reader);
    const withPart = async (name: string, parse: (entry: Readable) => Promise<void>): Promise<void> => {
      const entry = archive.entry(name);
      if (entry === undefined) return;
      const stream = await archive.openEntry(entry);
      try {
        await parse(stream);
      } finally {
        stream.destroy();
      }
    };
    // Worksheets refer to all of these, so they are read first, wherever the zip stores them.
    await withPart(PART.rels, (entry) => parsers._parseRels(entry));
    await withPart(PART.workbook, (entry) => parsers._parseWorkbook(entry));
    await withPart(PART.sharedStrings, async (entry) => {
      // With sharedStrings: 'cache' this fills reader.sharedStrings and yields nothing.
      for await (const item of parsers._parseSharedStrings(entry)) void item;
    });
    await withPart(PART.styles, (entry) => parsers._parseStyles(entry));
    return {
      state: reader as unknown as ReaderState,
      async *worksheets() {
        for (const entry of archive.entries) {
          const sheetNo = WORKSHEET_PART.exec(entry.name)?.[1];
          if (sheetNo === undefined) continue;
          for (const event of parsers._parseWorksheet(archive.chunks(entry), sheetNo))
            if (event.eventType === 'worksheet') yield event.value;
        }
      },
      close: () => archive.close(),
    };
  } catch (error) {
    await archive.close();
    throw error;
  }
}

/** The first cell of `row` holding a shared-string reference instead of a value, if any. */
function firstUnresolvedString(row: Row): string | undefined {
  let found: string | undefined;
  row.eachCell((cell, column) => {
    if (found === undefined && isSharedStringReference(cell.value))
      found = `${columnLetters(column)}${row.number}`;
  });
  return found;
}

function isSharedStringReference(value: CellValue): boolean {
  return typeof value === 'object' && value !== null && 'sharedString' in value;
}

/**
 * exceljs reads a text cell as `{ sharedString: n }` when the workbook has no shared-string table to
 * look n up in. That is a damaged workbook (its text is simply not in the file); handing the
 * reference on would write it as data, so reading stops here instead.
 */
function checkStrings(state: ReaderState, row: Row, file: InputFile, sheet: string): void {
  if (state.sharedStrings !== undefined) return;
  const cell = firstUnresolvedString(row);
  if (cell === undefined) return;
  throw new PwError(
    'PW_INPUT_MALFORMED',
    `${file.relative} sheet '${sheet}': cell ${cell} refers to a shared string, and the workbook has no shared-string table (xl/sharedStrings.xml)`,
    {
      location: { file: file.relative },
      expected: 'text cells whose text the workbook holds',
      found: `a reference to a shared string in ${cell}, with no table to look it up in`,
      hint: 'The workbook is damaged or was written by a faulty exporter. Open it in Excel or LibreOffice Calc and save it again, or export it once more at the source.',
    },
  );
}

/** One worksheet as `readEverySheet` announces it; `position` is 1-based in tab order. */
export interface SheetEntry extends SheetInfo {
  position: number;
  /** Every sheet name of the workbook in tab order (empty only when it has no sheet list). */
  names: readonly string[];
}

/**
 * Calls `onSheet` for every worksheet, in the order the workbook stores them (not always tab order);
 * when it answers with a row callback, each row of that sheet goes there, and a sheet it declines is
 * not read at all. Returns every sheet name in tab order. Like `readSheetRows`, rows without cells
 * never arrive.
 */
export async function readEverySheet(
  file: InputFile,
  onSheet: (
    sheet: SheetEntry,
  ) =>
    | ((row: Row) => void | Promise<void>)
    | undefined
    | Promise<((row: Row) => void | Promise<void>) | undefined>,
): Promise<string[]> {
  let workbook: OpenWorkbook | undefined;
  let arrived = 0;
  const seen: string[] = [];
  try {
    workbook = await openWorkbook(file);
    const { state } = workbook;
    for await (const worksheet of workbook.worksheets()) {
      arrived += 1;
      const sheet = worksheet as unknown as SheetState;
      const names = sheetList(state);
      const index = sheet.name === undefined ? -1 : names.indexOf(sheet.name);
      const position = index >= 0 ? index + 1 : arrived;
      const name = sheet.name ?? `Sheet${position}`;
      seen.push(name);
      const onRow = await onSheet({
        name,
        position,
        names,
        date1904: state.properties?.model?.date1904 === true,
      });
      if (onRow === undefined) continue;
      for await (const row of worksheet) {
        checkStrings(state, row, file, name);
        await onRow(row);
      }
    }
  } catch (error) {
    throw workbookFailure(file, error);
  } finally {
    await workbook?.close();
  }
  const names = sheetList(workbook.state);
  return names.length > 0 ? names : seen;
}

/**
 * Calls `onRow` for each row of the selected sheet, in order, until it answers `stop`. Rows with no
 * cells at all are not stored in XLSX and so never arrive here. Other sheets are not read.
 */
export async function readSheetRows(
  file: InputFile,
  selector: string | number | undefined,
  onSheet: (sheet: SheetInfo) => void,
  onRow: (row: Row) => RowVerdict | Promise<RowVerdict>,
): Promise<void> {
  let workbook: OpenWorkbook | undefined;
  let position = 0;
  let found = false;
  try {
    workbook = await openWorkbook(file);
    const { state } = workbook;
    for await (const worksheet of workbook.worksheets()) {
      position += 1;
      const sheet = worksheet as unknown as SheetState;
      if (!isTarget(selector, sheet, sheetList(state), position)) continue;
      found = true;
      const name = sheet.name ?? `sheet ${position}`;
      onSheet({ name, date1904: state.properties?.model?.date1904 === true });
      for await (const row of worksheet) {
        checkStrings(state, row, file, name);
        if ((await onRow(row)) === 'stop') break;
      }
      break;
    }
  } catch (error) {
    throw workbookFailure(file, error);
  } finally {
    await workbook?.close();
  }
  if (!found) {
    const names = sheetList(workbook.state);
    throw new PwError('PW_INPUT_NOT_FOUND', `${file.relative}: ${describeSelector(selector)} not found`, {
      location: { file: file.relative },
      path: 'with.sheet',
      expected: describeSelector(selector),
      found: names.length > 0 ? `sheets ${names.map((name) => `'${name}'`).join(', ')}` : 'no worksheets',
      hint: 'Set `sheet` to one of the sheet names, or to a 1-based position in tab order.',
    });
  }
}
