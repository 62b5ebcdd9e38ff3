/**
 * XLSX output: rows stream from DuckDB chunk by chunk into exceljs' streaming WorkbookWriter, so the
 * workbook is never held in memory. Numbers, booleans and text stay themselves; DATE and TIMESTAMP
 * values become real Excel dates with a date format (TIMESTAMP WITH TIME ZONE is shown in UTC);
 * integers beyond 2^53 and types Excel has no cell for (lists, structs, intervals, UUIDs, blobs) are
 * written as their DuckDB text. The header row is bold and frozen.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type ExcelJS from 'exceljs';
import type { ColumnInfo, StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent } from '../../core/sql-identifiers.js';

export { XLSX_MAX_ROWS } from './xlsx-limits.js';

const NATIVE =
  /^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\)|VARCHAR)$/;
const DATE_FORMAT = 'yyyy-mm-dd';
const TIMESTAMP_FORMAT = 'yyyy-mm-dd hh:mm:ss';

function dateFormatFor(type: string): string | undefined {
  if (type === 'DATE') return DATE_FORMAT;
  if (/^TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?$/.test(type)) return TIMESTAMP_FORMAT;
  return undefined;
}

/** The SELECT list: types an Excel cell can hold pass through, the rest is cast to text. */
function projection(columns: readonly ColumnInfo[]): string {
  return columns
    .map((column) => {
      const name = quoteIdent(column.name);
      return NATIVE.test(column.type) || dateFormatFor(column.type) !== undefined
        ? name
        : `CAST(${name} AS VARCHAR) AS ${name}`;
    })
    .join(', ');
}

function cellValue(value: unknown): ExcelJS.CellValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (
    typeof value === 'number' ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    value instanceof Date
  )
    return value;
  return String(value);
}

/**
 * Writes the rows of `source` (a SELECT) to `target` as one worksheet and returns the row count.
 * The caller owns `target` as a temporary path; on failure the output stream is destroyed so the
 * caller can remove the file.
 */
export async function writeXlsx(
  ctx: StepContext,
  source: string,
  columns: readonly ColumnInfo[],
  target: string,
  sheetName: string,
): Promise<number> {
  // Loaded here so that only processes that write XLSX files pay for exceljs.
  const { default: Excel } = await import('exceljs');
  const { JSDuckDBValueConverter } = await import('@duckdb/node-api');
  const out = createWriteStream(target);
  let rows = 0;
  try {
    const workbook = new Excel.stream.xlsx.WorkbookWriter({
      stream: out,
      useStyles: true,
      useSharedStrings: false,
    });
    const sheet = workbook.addWorksheet(sheetName, { views: [{ state: 'frozen', ySplit: 1 }] });
    const formats = columns.map((column) => dateFormatFor(column.type));
    // Column widths go into the sheet before its first row, so they must be set first.
    sheet.columns = columns.map((column, index) => ({
      key: column.name,
      width: Math.min(60, Math.max(10, column.name.length + 2, formats[index] === TIMESTAMP_FORMAT ? 20 : 0)),
    }));
    const header = sheet.addRow(columns.map((column) => column.name));
    header.font = { bold: true };
    header.commit();

    const result = await ctx.datasets.connection.stream(`SELECT ${projection(columns)} FROM (${source})`);
    for await (const batch of result.yieldConvertedRows(JSDuckDBValueConverter)) {
      if (ctx.signal.aborted)
        throw new PwError('PW_CANCELLED', 'The step was cancelled while writing XLSX rows');
      for (const values of batch) {
        const row = sheet.addRow(values.map(cellValue));
        formats.forEach((format, index) => {
          if (format !== undefined && values[index] instanceof Date) row.getCell(index + 1).numFmt = format;
        });
        row.commit();
      }
      rows += batch.length;
    }
    sheet.commit();
    await workbook.commit();
    return rows;
  } catch (error) {
    // Wait for the descriptor to close, so the caller's cleanup cannot race a pending open.
    if (!out.closed) {
      const closed = once(out, 'close');
      out.destroy();
      await closed;
    }
    throw error;
  }
}
