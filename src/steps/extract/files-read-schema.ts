/**
 * The `with:` block of a `files.read` step. Options that only make sense for one format (CSV dialect,
 * XLSX/XLS sheet and range, the soffice that converts XLS) are rejected for the others at validation time when the format is known from
 * the path, and again at run time once the files are found, so a misplaced option never goes unnoticed.
 */
import { z } from 'zod';
import { READ_FORMATS, readFormatFromPath, type ReadFormat } from './file-format.js';

/** A DuckDB type name such as BIGINT, DECIMAL(18,2), TIMESTAMP WITH TIME ZONE or VARCHAR[]. */
export const DUCKDB_TYPE =
  /^[A-Za-z][A-Za-z0-9_]*(?: [A-Za-z][A-Za-z0-9_]*)*(?:\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\))?(?:\[\d*\])*$/;

export const CELL_RANGE = /^([A-Za-z]{1,3})([1-9]\d*):([A-Za-z]{1,3})([1-9]\d*)$/;

export const ON_ERROR = ['fail', 'skip', 'quarantine'] as const;
export type OnError = (typeof ON_ERROR)[number];

const CSV_ONLY = [
  'delimiter',
  'quote',
  'escape',
  'encoding',
  'skip',
  'null_values',
  'date_format',
  'timestamp_format',
] as const;
const WORKBOOK_ONLY = ['sheet', 'header_row', 'range'] as const;

export const filesReadConfig = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .describe(
        'A file or a glob (data/*.csv, exports/**/*.parquet), relative to the project folder. All matching files are read, in path order, into one dataset.',
      ),
    format: z
      .enum(READ_FORMATS)
      .optional()
      .describe(
        'csv, tsv, json, ndjson, parquet, xlsx or xls (legacy Excel, converted with LibreOffice). Default: from the file extension (.csv, .tsv, .json, .ndjson/.jsonl, .parquet, .xlsx, .xls; a .gz or .zst suffix is looked through).',
      ),
    source_column: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name: letters, digits and underscores')
      .optional()
      .describe(
        "Adds a column with this name holding each row's source file, relative to the project folder. Default: no such column.",
      ),
    allow_empty: z
      .boolean()
      .default(false)
      .describe(
        'Accept files that hold no rows and produce an empty dataset instead of failing (default false). A path that matches no file still fails.',
      ),
    materialize: z
      .enum(['table', 'view'])
      .default('table')
      .describe(
        'table (default) copies the rows into the run database, so later steps and a resumed run read that copy; view only records how to read the files, so each later step reads them again: no copy, which is faster for one pass over large files (e.g. straight into files.write), but rows are not counted, empty input is not detected, and the files must still be there when later steps or a resume read them. view needs on_error: fail and is not available for xlsx or xls.',
      ),
    on_error: z
      .enum(ON_ERROR)
      .default('fail')
      .describe(
        'Rows that cannot be parsed or cast: fail (stop, naming file and line), skip (drop them, count them) or quarantine (drop them and write them with line numbers and reasons to the <step>.rejects.csv artifact). csv/tsv, xlsx and xls support all three, ndjson fail and skip, json and parquet fail only.',
      ),
    columns: z
      .record(
        z.string().min(1).describe('A column name as it appears in the input.'),
        z
          .string()
          .regex(DUCKDB_TYPE, 'a DuckDB type name such as BIGINT, DOUBLE, DATE or DECIMAL(18,2)')
          .describe('The DuckDB type the column is read as.'),
      )
      .optional()
      .describe(
        'Type overrides: column name → DuckDB type (BIGINT, DOUBLE, DECIMAL(18,2), DATE, TIMESTAMP, VARCHAR…). Other columns keep their detected types. For csv the type is applied while parsing, so a bad value is a bad row; for other formats it is a cast after reading.',
      ),
    header: z
      .boolean()
      .default(true)
      .describe(
        'csv/tsv: the first line (after `skip`) holds column names (default true). Without a header, columns are named column0, column1, …',
      ),
    delimiter: z
      .string()
      .min(1)
      .max(4)
      .optional()
      .describe('csv/tsv: the field separator. Default: "," for csv, a tab for tsv.'),
    quote: z
      .string()
      .max(1)
      .default('"')
      .describe('csv/tsv: the quote character (default "); an empty string turns quoting off.'),
    escape: z
      .string()
      .max(1)
      .optional()
      .describe(
        'csv/tsv: the character that escapes a quote inside a quoted field. Default: the quote character (RFC 4180 doubling).',
      ),
    encoding: z
      .enum(['utf-8', 'latin-1', 'utf-16'])
      .default('utf-8')
      .describe(
        'csv/tsv: the character encoding (default utf-8). A UTF-8 byte order mark is always skipped.',
      ),
    skip: z.int().min(0).default(0).describe('csv/tsv: lines to skip before the header (default 0).'),
    null_values: z
      .array(z.string().describe('A field text that means NULL.'))
      .optional()
      .describe('csv/tsv: field texts read as NULL, e.g. ["", "NA", "-"]. Default: only the empty field.'),
    date_format: z
      .string()
      .min(1)
      .optional()
      .describe('csv/tsv: strptime format of DATE values, e.g. %d.%m.%Y. Default: detected.'),
    timestamp_format: z
      .string()
      .min(1)
      .optional()
      .describe('csv/tsv: strptime format of TIMESTAMP values, e.g. %d.%m.%Y %H:%M. Default: detected.'),
    sheet: z
      .union([z.string().min(1), z.int().min(1)])
      .optional()
      .describe(
        'xlsx/xls: the worksheet, by name or by 1-based position in tab order. Default: the first sheet.',
      ),
    header_row: z
      .int()
      .min(1)
      .optional()
      .describe(
        'xlsx/xls: the 1-based sheet row that holds the column names; rows above it are ignored. Default: the first row of `range`, else 1.',
      ),
    range: z
      .string()
      .regex(CELL_RANGE, 'a cell range such as A1:D200')
      .optional()
      .describe(
        'xlsx/xls: the block of cells to read, such as A1:D200 or B3:H1000. Default: the whole sheet, from the first named header cell to the last.',
      ),
    soffice_path: z
      .string()
      .min(1)
      .optional()
      .describe(
        "xls: LibreOffice's soffice, which converts legacy workbooks. Default: $PIPEWRIGHT_SOFFICE, /usr/bin/soffice, then soffice, libreoffice on PATH (Debian package libreoffice-calc-nogui).",
      ),
  })
  .superRefine((config, context) => {
    const format = config.format ?? readFormatFromPath(config.path);
    if (format === undefined) return;
    for (const issue of formatOptionIssues(config, format)) {
      context.addIssue({ code: 'custom', path: [issue.field], message: issue.message });
    }
  })
  .describe('Reads CSV, TSV, JSON, NDJSON, Parquet, XLSX or legacy XLS files into the step dataset.');

export type FilesReadConfig = z.output<typeof filesReadConfig>;

export interface OptionIssue {
  field: string;
  message: string;
}

/** Options that do not apply to `format`; checked when validating and again at run time. */
export function formatOptionIssues(
  config: Partial<Record<string, unknown>> & { on_error?: OnError },
  format: ReadFormat,
): OptionIssue[] {
  const issues: OptionIssue[] = [];
  const isCsv = format === 'csv' || format === 'tsv';
  if (!isCsv) {
    for (const field of CSV_ONLY) {
      // Defaults are filled in by zod, so only non-default values count as misplaced.
      const value = config[field];
      const isDefault =
        value === undefined ||
        (field === 'quote' && value === '"') ||
        (field === 'encoding' && value === 'utf-8') ||
        (field === 'skip' && value === 0);
      if (!isDefault)
        issues.push({ field, message: `'${field}' applies to csv and tsv files only, not ${format}` });
    }
    if (config.header === false)
      issues.push({ field: 'header', message: `'header' applies to csv and tsv files only, not ${format}` });
  }
  const isWorkbook = format === 'xlsx' || format === 'xls';
  if (!isWorkbook) {
    for (const field of WORKBOOK_ONLY) {
      if (config[field] !== undefined)
        issues.push({ field, message: `'${field}' applies to xlsx and xls files only, not ${format}` });
    }
  }
  if (format !== 'xls' && config['soffice_path'] !== undefined) {
    issues.push({
      field: 'soffice_path',
      message: `'soffice_path' applies to xls files only, not ${format}`,
    });
  }
  const onError = config.on_error ?? 'fail';
  if (config['materialize'] === 'view' && (isWorkbook || onError !== 'fail')) {
    issues.push({
      field: 'materialize',
      message: isWorkbook
        ? `materialize: view is not available for ${format}: workbooks are read by Pipewright, not by DuckDB, and must be copied`
        : `materialize: view needs on_error: fail: setting rows aside (${onError}) needs the rows copied once`,
    });
  }
  const allowed: readonly OnError[] =
    isCsv || isWorkbook ? ON_ERROR : format === 'ndjson' ? ['fail', 'skip'] : ['fail'];
  if (!allowed.includes(onError)) {
    const why =
      format === 'json'
        ? 'a JSON document cannot be read in part; use ndjson (one record per line) to skip bad records'
        : format === 'ndjson'
          ? 'DuckDB does not report which ndjson lines it skipped'
          : 'Parquet files are typed and have no bad rows to set aside';
    issues.push({
      field: 'on_error',
      message: `on_error: ${onError} is not available for ${format}: ${why}; allowed: ${allowed.join(', ')}`,
    });
  }
  return issues;
}
