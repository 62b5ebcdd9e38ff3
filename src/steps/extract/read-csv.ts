/**
 * CSV and TSV input, streamed by DuckDB straight into the dataset table.
 *
 * Reading happens in two passes. The first asks DuckDB's sniffer for column names and types with
 * errors tolerated, because a strict sniff of a file with one ragged row fails with a generic "could
 * not detect the dialect" and no line number. The second pass parses strictly with the sniffed
 * schema pinned (`auto_detect = false`), so a bad row is reported with its file and line, skipped, or
 * quarantined through DuckDB's rejects tables. With several files, every header must match the
 * first, since the pinned schema is applied by position.
 */
import type { StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { displayPath, errorText, parseCsvLineError, parseSniffError } from './duckdb-errors.js';
import type { FilesReadConfig } from './files-read-schema.js';
import type { InputFile } from './input-files.js';
import {
  checkColumnNames,
  fileListLiteral,
  filenameOption,
  overrideFor,
  readFailure,
  sourceSelect,
  writeRejects,
  type ReadOutcome,
} from './read-common.js';

interface SniffedColumn {
  name: string;
  type: string;
}

function dialect(config: FilesReadConfig, format: 'csv' | 'tsv'): string {
  const delimiter = config.delimiter ?? (format === 'tsv' ? '\t' : ',');
  const escape = config.escape ?? config.quote;
  const parts = [
    `delim = ${quoteLiteral(delimiter)}`,
    `quote = ${quoteLiteral(config.quote)}`,
    `escape = ${quoteLiteral(escape)}`,
    `header = ${config.header}`,
    `skip = ${config.skip}`,
    `encoding = ${quoteLiteral(config.encoding)}`,
  ];
  if (config.null_values !== undefined && config.null_values.length > 0) {
    parts.push(`nullstr = [${config.null_values.map(quoteLiteral).join(', ')}]`);
  }
  if (config.date_format !== undefined) parts.push(`dateformat = ${quoteLiteral(config.date_format)}`);
  if (config.timestamp_format !== undefined)
    parts.push(`timestampformat = ${quoteLiteral(config.timestamp_format)}`);
  return parts.join(', ');
}

/** Turns a DuckDB CSV failure into an error naming the file and line. */
export function csvFailure(
  error: unknown,
  projectDir: string,
  files: readonly InputFile[],
  config: FilesReadConfig,
): PwError {
  if (error instanceof PwError) return error;
  const message = errorText(error);
  const onlyFile = files.length === 1 ? files[0]?.relative : undefined;
  const detail = parseCsvLineError(message);
  if (detail) {
    const file = detail.file ? displayPath(projectDir, detail.file) : (onlyFile ?? 'input');
    let hint = 'Fix the line, or set on_error: skip or quarantine to set bad rows aside.';
    if (/unicode|utf-8/i.test(detail.problem))
      hint = `The file is not ${config.encoding}; set encoding: latin-1 or utf-16 to match it.`;
    else if (/converting column/i.test(detail.problem)) {
      hint =
        'Fix the value, change the column type under `columns`, or set on_error: skip or quarantine to set bad rows aside.';
    }
    return new PwError('PW_INPUT_MALFORMED', `${file}:${detail.line}: ${detail.problem}`, {
      location: { file, ...(detail.line === undefined ? {} : { line: detail.line }) },
      found: detail.originalLine,
      hint,
      cause: error,
    });
  }
  const sniff = parseSniffError(message);
  if (sniff) {
    const file = displayPath(projectDir, sniff.file);
    return new PwError('PW_INPUT_MALFORMED', `${file}: cannot make out the CSV layout`, {
      location: { file },
      expected: `fields separated by ${JSON.stringify(config.delimiter ?? ',')}, quoted with ${JSON.stringify(config.quote)}`,
      hint: 'Check delimiter, quote, encoding and skip against the file.',
      cause: error,
    });
  }
  return readFailure(error, files);
}

async function sniff(ctx: StepContext, file: InputFile, options: string): Promise<SniffedColumn[]> {
  const rows = await ctx.datasets.query<{ Columns: SniffedColumn[] }>(
    `SELECT Columns FROM sniff_csv(${quoteLiteral(file.absolute)}, ${options}, ignore_errors = true)`,
  );
  return rows[0]?.Columns ?? [];
}

/** Column names from each file (which must agree) and types merged over all of them by DuckDB. */
async function detectSchema(
  ctx: StepContext,
  files: readonly InputFile[],
  options: string,
): Promise<SniffedColumn[]> {
  const [first, ...rest] = files;
  if (first === undefined) return [];
  const firstColumns = await sniff(ctx, first, options);
  if (rest.length === 0) return firstColumns;
  const expected = firstColumns.map((column) => column.name);
  for (const file of rest) {
    const names = (await sniff(ctx, file, options)).map((column) => column.name);
    if (names.join('\u0000') !== expected.join('\u0000')) {
      throw new PwError(
        'PW_INPUT_MALFORMED',
        `${file.relative}: its columns differ from those of ${first.relative}`,
        {
          location: { file: file.relative, line: 1 },
          expected: expected.join(', '),
          found: names.join(', '),
          hint: 'Files read into one dataset must share a header (same names, same order). Fix the file or read it with its own step.',
        },
      );
    }
  }
  const described = await ctx.datasets.query<{ column_name: string; column_type: string }>(
    `DESCRIBE SELECT * FROM read_csv(${fileListLiteral(files)}, ${options}, ignore_errors = true, files_to_sniff = -1)`,
  );
  return described.map((row) => ({ name: row.column_name, type: row.column_type }));
}

function rejectsSql(files: readonly InputFile[], errorsTable: string, scansTable: string): string {
  const map = files
    .map((file) => `${quoteLiteral(file.absolute)}: ${quoteLiteral(file.relative)}`)
    .join(', ');
  return `SELECT coalesce(MAP {${map}}[s.file_path], s.file_path) AS file, e.line AS line,
      string_agg(DISTINCT e.column_name, '; ') AS "column",
      string_agg(DISTINCT e.error_type, '; ') AS error_type,
      string_agg(e.error_message, '; ' ORDER BY e.column_idx) AS error_message,
      first(e.csv_line) AS original
    FROM ${errorsTable} e JOIN ${scansTable} s USING (scan_id, file_id)
    GROUP BY e.scan_id, e.file_id, s.file_path, e.line
    ORDER BY e.file_id, e.line`;
}

export async function readCsv(
  ctx: StepContext,
  tempTable: string,
  files: readonly InputFile[],
  config: FilesReadConfig,
  format: 'csv' | 'tsv',
): Promise<ReadOutcome> {
  const options = dialect(config, format);
  const overrides = config.columns ?? {};
  let schema: SniffedColumn[];
  try {
    schema = await detectSchema(ctx, files, options);
  } catch (error) {
    throw csvFailure(error, ctx.projectDir, files, config);
  }
  checkColumnNames(
    schema.map((column) => column.name),
    overrides,
    config.source_column,
    files.length === 1 ? (files[0]?.relative ?? 'the input') : `the ${files.length} input files`,
  );

  const pinned = schema
    .map(
      (column) =>
        `${quoteLiteral(column.name)}: ${quoteLiteral(overrideFor(overrides, column.name) ?? column.type)}`,
    )
    .join(', ');
  const errorsTable = quoteIdent(`__pw_rejects_${ctx.stepId}`);
  const scansTable = quoteIdent(`__pw_reject_scans_${ctx.stepId}`);
  const tolerant = config.on_error !== 'fail';
  const rejectOptions = tolerant
    ? `, store_rejects = true, rejects_table = ${quoteLiteral(`__pw_rejects_${ctx.stepId}`)}, rejects_scan = ${quoteLiteral(`__pw_reject_scans_${ctx.stepId}`)}`
    : '';
  const source = sourceSelect(files, config.source_column);

  try {
    if (tolerant) {
      await ctx.datasets.run(`DROP TABLE IF EXISTS ${errorsTable}; DROP TABLE IF EXISTS ${scansTable}`);
    }
    await ctx.datasets.run(
      `CREATE ${config.materialize === 'view' ? 'VIEW' : 'TABLE'} ${tempTable} AS SELECT *${source.exclude}${source.extra}
       FROM read_csv(${fileListLiteral(files)}, ${options}, auto_detect = false, columns = {${pinned}}${filenameOption(config.source_column)}${rejectOptions})`,
    );
  } catch (error) {
    throw csvFailure(error, ctx.projectDir, files, config);
  }
  if (!tolerant) return { rejectedRows: 0 };

  try {
    const counted = await ctx.datasets.query<{ n: number }>(
      `SELECT count(*) AS n FROM (SELECT DISTINCT scan_id, file_id, line FROM ${errorsTable})`,
    );
    const rejectedRows = counted[0]?.n ?? 0;
    if (rejectedRows > 0 && config.on_error === 'quarantine') {
      await writeRejects(ctx, rejectsSql(files, errorsTable, scansTable));
    }
    return { rejectedRows };
  } finally {
    await ctx.datasets
      .run(`DROP TABLE IF EXISTS ${errorsTable}; DROP TABLE IF EXISTS ${scansTable}`)
      .catch(() => undefined);
  }
}
