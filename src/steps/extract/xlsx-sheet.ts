/**
 * Streams the rows of one worksheet with exceljs' WorkbookReader, so a large workbook is never held
 * in memory. Sheets are chosen by name (case-insensitive, as Excel treats them) or by 1-based
 * position in tab order, which is the workbook's sheet list, not the order of the parts in the zip.
 */
import { createReadStream } from 'node:fs';
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
    if (error instanceof PwError) throw error;
    throw new PwError(
      'PW_INPUT_MALFORMED',
      `${file.relative}: cannot read the workbook: ${(error as Error).message}`,
      {
        location: { file: file.relative },
        expected: 'an .xlsx workbook (Office Open XML)',
        hint: 'Legacy .xls files and password-protected workbooks are not supported; save the file as .xlsx.',
        cause: error,
      },
    );
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
