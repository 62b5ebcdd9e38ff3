/**
 * Streams the rows of one worksheet (or of each in turn, for `files.convert`) with exceljs'
 * WorkbookReader, so a large workbook is never held in memory. Sheets are chosen by name (case-insensitive, as Excel treats them) or by 1-based
 * position in tab order, which is the workbook's sheet list, not the order of the parts in the zip.
 */
import { createReadStream } from 'node:fs';
import type ExcelJS from 'exceljs';
import type { Row } from 'exceljs';
import { PwError } from '../../core/errors/pw-error.js';
import type { InputFile } from './input-files.js';

/** The fields of the streaming reader that exceljs' type declarations leave out. */
interface ReaderState {
  model?: { sheets?: { name: string }[] };
  properties?: { model?: { date1904?: boolean } };
}

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
    // Workbook part not parsed yet (unusual part order): fall back to the order sheets arrive in.
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

async function openReader(file: InputFile): Promise<{
  input: ReturnType<typeof createReadStream>;
  reader: ExcelJS.stream.xlsx.WorkbookReader;
}> {
  // Loaded with the first workbook read, so processes that never read one do not hold exceljs.
  const { default: ExcelJS } = await import('exceljs');
  const input = createReadStream(file.absolute);
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, {
    worksheets: 'emit',
    sharedStrings: 'cache',
    styles: 'cache',
    hyperlinks: 'ignore',
    entries: 'ignore',
  });
  return { input, reader };
}

/** One worksheet as `readEverySheet` announces it; `position` is 1-based in tab order. */
export interface SheetEntry extends SheetInfo {
  position: number;
  /** Every sheet name of the workbook in tab order, as far as the workbook part has been read. */
  names: readonly string[];
}

/**
 * Calls `onSheet` for every worksheet, in the order the workbook stores them (not always tab order);
 * when it answers with a row callback, each row of that sheet goes there. Returns every sheet name in
 * tab order. Like `readSheetRows`, rows without cells never arrive.
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
  const { input, reader } = await openReader(file);
  const state = reader as unknown as ReaderState;
  let arrived = 0;
  const seen: string[] = [];
  try {
    for await (const worksheet of reader) {
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
      // Read to the end even when unwanted: see readSheetRows for why exceljs needs that.
      for await (const row of worksheet) if (onRow) await onRow(row);
    }
  } catch (error) {
    throw workbookFailure(file, error);
  } finally {
    input.destroy();
  }
  const names = sheetList(state);
  return names.length > 0 ? names : seen;
}

/**
 * Calls `onRow` for each row of the selected sheet, in order, until it answers `stop`. Rows with no
 * cells at all are not stored in XLSX and so never arrive here.
 */
export async function readSheetRows(
  file: InputFile,
  selector: string | number | undefined,
  onSheet: (sheet: SheetInfo) => void,
  onRow: (row: Row) => RowVerdict | Promise<RowVerdict>,
): Promise<void> {
  const { input, reader } = await openReader(file);
  const state = reader as unknown as ReaderState;
  let position = 0;
  let found = false;
  try {
    for await (const worksheet of reader) {
      position += 1;
      const sheet = worksheet as unknown as SheetState;
      // Every sheet is read to its end, even skipped ones: exceljs buffers sheets in temporary files
      // and deletes each once the reader moves past it, so an unread sheet either lingers on disk or
      // has its file deleted under a stream still opening it (an uncaught ENOENT).
      if (found || !isTarget(selector, sheet, sheetList(state), position)) {
        for await (const row of worksheet) void row;
        continue;
      }
      found = true;
      onSheet({
        name: sheet.name ?? `sheet ${position}`,
        date1904: state.properties?.model?.date1904 === true,
      });
      let stopped = false;
      for await (const row of worksheet) {
        if (!stopped) stopped = (await onRow(row)) === 'stop';
      }
    }
  } catch (error) {
    throw workbookFailure(file, error);
  } finally {
    input.destroy();
  }
  if (!found) {
    const names = sheetList(state);
    throw new PwError('PW_INPUT_NOT_FOUND', `${file.relative}: ${describeSelector(selector)} not found`, {
      location: { file: file.relative },
      path: 'with.sheet',
      expected: describeSelector(selector),
      found: names.length > 0 ? `sheets ${names.map((name) => `'${name}'`).join(', ')}` : 'no worksheets',
      hint: 'Set `sheet` to one of the sheet names, or to a 1-based position in tab order.',
    });
  }
}
