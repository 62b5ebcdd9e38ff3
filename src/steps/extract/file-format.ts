/**
 * File formats the `files.read` and `files.write` steps understand, and how a format is derived from a
 * file name, so `format:` can be left out in the common case. Compression suffixes (`.gz`, `.zst`)
 * are looked through: `sales.csv.gz` is a CSV file. Legacy `.xls` workbooks can be read but not
 * written, so they are a read format only.
 */

export const FILE_FORMATS = ['csv', 'tsv', 'json', 'ndjson', 'parquet', 'xlsx'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

export const READ_FORMATS = [...FILE_FORMATS, 'xls'] as const;
export type ReadFormat = (typeof READ_FORMATS)[number];

const BY_EXTENSION: Readonly<Record<string, FileFormat>> = {
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  json: 'json',
  ndjson: 'ndjson',
  jsonl: 'ndjson',
  parquet: 'parquet',
  pq: 'parquet',
  xlsx: 'xlsx',
};

const COMPRESSION_SUFFIXES = new Set(['gz', 'zst']);

function lastSegment(path: string): string {
  const parts = path.split(/[\\/]/);
  return (parts[parts.length - 1] ?? '').toLowerCase();
}

/** The format a file name implies, or undefined when its extension says nothing we know. */
export function formatFromPath(path: string): FileFormat | undefined {
  const parts = lastSegment(path).split('.');
  let extension = parts.pop();
  if (extension !== undefined && COMPRESSION_SUFFIXES.has(extension)) extension = parts.pop();
  // A bare name such as `csv` has no extension at all.
  if (extension === undefined || parts.length === 0) return undefined;
  return BY_EXTENSION[extension];
}

/** Whether the name is that of a legacy Excel workbook (`.xls`, never compressed). */
export function isLegacyWorkbook(path: string): boolean {
  return lastSegment(path).endsWith('.xls');
}

/** The format a file name implies for reading: the write formats plus legacy `.xls`. */
export function readFormatFromPath(path: string): ReadFormat | undefined {
  return isLegacyWorkbook(path) ? 'xls' : formatFromPath(path);
}

/** Whether the name ends in `.gz`, which the writer takes as a request for gzip. */
export function hasGzipSuffix(path: string): boolean {
  return lastSegment(path).endsWith('.gz');
}

export function knownExtensions(): string {
  return Object.keys(BY_EXTENSION)
    .map((extension) => `.${extension}`)
    .join(', ');
}

export function knownReadExtensions(): string {
  return `${knownExtensions()}, .xls`;
}
