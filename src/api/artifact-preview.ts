/**
 * What the UI shows for an artifact without downloading it (`GET …/artifacts/{id}/preview`): the first
 * 100 rows of a table (CSV/TSV and Parquet read with an in-memory DuckDB, XLSX streamed with exceljs,
 * which DuckDB cannot read offline), the first 64 KB of a text file, a URL to embed for images, PDF and
 * HTML (served sandboxed), or why there is nothing to show. Files over 50 MB are not opened at all.
 */
import { open, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Row } from 'exceljs';
import { quoteLiteral } from '../core/sql-identifiers.js';
import { readCell } from '../steps/extract/xlsx-cells.js';
import { readSheetRows } from '../steps/extract/xlsx-sheet.js';
import type { ArtifactRecord } from '../store/state-store.js';

export const PREVIEW_ROWS = 100;
export const PREVIEW_TEXT_BYTES = 64 * 1024;
export const PREVIEW_MAX_BYTES = 50 * 1024 * 1024;

export type Preview =
  | {
      kind: 'table';
      columns: { name: string; type: string }[];
      rows: unknown[][];
      total_rows: number;
      truncated: boolean;
    }
  | { kind: 'inline'; media_type: string; url: string }
  | { kind: 'text'; text: string; truncated: boolean }
  | { kind: 'none'; reason: string };

type Format = 'csv' | 'tsv' | 'parquet' | 'xlsx' | 'text' | 'inline';

const BY_EXTENSION: Record<string, Format> = {
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.parquet': 'parquet',
  '.xlsx': 'xlsx',
  '.txt': 'text',
  '.json': 'text',
  '.ndjson': 'text',
  '.jsonl': 'text',
  '.md': 'text',
  '.log': 'text',
  '.eml': 'text',
  '.png': 'inline',
  '.jpg': 'inline',
  '.jpeg': 'inline',
  '.gif': 'inline',
  '.webp': 'inline',
  '.svg': 'inline',
  '.pdf': 'inline',
  '.html': 'inline',
  '.htm': 'inline',
};

const INLINE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.pdf': 'application/pdf',
  '.html': 'text/html',
  '.htm': 'text/html',
};

function formatOf(artifact: ArtifactRecord): Format | undefined {
  return (
    BY_EXTENSION[extname(artifact.name).toLowerCase()] ?? BY_EXTENSION[extname(artifact.path).toLowerCase()]
  );
}

export async function previewArtifact(artifact: ArtifactRecord, url: string): Promise<Preview> {
  if (artifact.deletedAt !== undefined) return { kind: 'none', reason: 'The file was deleted by retention.' };
  const size = await stat(artifact.path).then(
    (info) => (info.isFile() ? info.size : undefined),
    () => undefined,
  );
  if (size === undefined) return { kind: 'none', reason: 'The file is missing from the workspace.' };
  const format = formatOf(artifact);
  if (format === undefined) return { kind: 'none', reason: 'No preview for this type of file; download it.' };
  if (format === 'inline') {
    const extension = extname(artifact.name).toLowerCase();
    return {
      kind: 'inline',
      media_type: INLINE_TYPES[extension] ?? artifact.contentType ?? 'application/octet-stream',
      url,
    };
  }
  if (size > PREVIEW_MAX_BYTES) {
    return {
      kind: 'none',
      reason: `The file is larger than ${PREVIEW_MAX_BYTES / 1024 / 1024} MB; download it.`,
    };
  }
  switch (format) {
    case 'text':
      return previewText(artifact.path, size);
    case 'xlsx':
      return previewXlsx(artifact.path);
    default:
      return previewWithDuckDb(artifact.path, format);
  }
}

async function previewText(path: string, size: number): Promise<Preview> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(size, PREVIEW_TEXT_BYTES));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    // Cut at the last complete UTF-8 character: a multi-byte one split by the limit would show as �.
    let end = bytesRead;
    if (size > bytesRead) while (end > 0 && ((buffer[end - 1] ?? 0) & 0xc0) === 0x80) end -= 1;
    if (size > bytesRead && end > 0 && ((buffer[end - 1] ?? 0) & 0xc0) === 0xc0) end -= 1;
    return { kind: 'text', text: buffer.subarray(0, end).toString('utf8'), truncated: size > bytesRead };
  } finally {
    await handle.close();
  }
}

async function previewWithDuckDb(path: string, format: 'csv' | 'tsv' | 'parquet'): Promise<Preview> {
  // Loaded on first preview, so the API process does not hold DuckDB until a preview needs it.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: '256MB',
    threads: '1',
    autoinstall_known_extensions: 'false',
  });
  const connection = await instance.connect();
  try {
    const source =
      format === 'parquet'
        ? `read_parquet(${quoteLiteral(path)})`
        : `read_csv(${quoteLiteral(path)}${format === 'tsv' ? ", delim = '\\t'" : ''})`;
    const head = await connection.runAndReadAll(`select * from ${source} limit ${PREVIEW_ROWS}`);
    const count = await connection.runAndReadAll(`select count(*)::bigint as n from ${source}`);
    const total = Number(count.getRowsJson()[0]?.[0] ?? 0);
    const names = head.columnNames();
    const types = head.columnTypes();
    return {
      kind: 'table',
      columns: names.map((name, index) => ({ name, type: types[index]?.toString() ?? 'VARCHAR' })),
      rows: head.getRowsJson(),
      total_rows: total,
      truncated: total > PREVIEW_ROWS,
    };
  } catch (error) {
    return {
      kind: 'none',
      reason: `The file cannot be read as ${format.toUpperCase()}: ${(error as Error).message}`,
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function previewXlsx(path: string): Promise<Preview> {
  let date1904 = false;
  let header: string[] | undefined;
  const rows: unknown[][] = [];
  let total = 0;
  const values = (row: Row): unknown[] => {
    const cells: unknown[] = [];
    row.eachCell({ includeEmpty: true }, (cell, column) => {
      const reading = readCell(cell, date1904);
      if (reading.kind === 'blank' || reading.kind === 'error') cells[column - 1] = null;
      else if (reading.kind === 'number') cells[column - 1] = Number(reading.text);
      else if (reading.kind === 'boolean') cells[column - 1] = reading.text === 'true';
      else cells[column - 1] = reading.text;
    });
    return cells;
  };
  try {
    await readSheetRows(
      { absolute: path, relative: basename(path), bytes: 0 },
      undefined,
      (sheet) => {
        date1904 = sheet.date1904;
      },
      (row) => {
        if (header === undefined) {
          header = values(row).map((value, index) =>
            value === null || value === undefined ? `column ${index + 1}` : String(value),
          );
          return 'continue';
        }
        total += 1;
        if (rows.length < PREVIEW_ROWS) rows.push(values(row));
        return 'continue';
      },
    );
  } catch (error) {
    return { kind: 'none', reason: `The workbook cannot be read: ${(error as Error).message}` };
  }
  const width = Math.max(header?.length ?? 0, ...rows.map((row) => row.length));
  const names = Array.from({ length: width }, (_, index) => header?.[index] ?? `column ${index + 1}`);
  return {
    kind: 'table',
    columns: names.map((name) => ({ name, type: 'VARCHAR' })),
    rows: rows.map((row) => Array.from({ length: width }, (_, index) => row[index] ?? null)),
    total_rows: total,
    truncated: total > PREVIEW_ROWS,
  };
}
