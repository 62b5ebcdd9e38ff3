/**
 * The `files.read` step: reads one file or every file matching a glob into the step's dataset.
 * CSV/TSV, JSON/NDJSON and Parquet stream through DuckDB's own readers; XLSX streams through exceljs
 * into a DuckDB appender. The new table replaces the previous one atomically, and bad rows are failed
 * on, skipped or quarantined per `on_error`.
 *
 * XLSX decisions: a blank header cell does not fail the read; its column is named `column_<n>` (n =
 * 1-based position in the table) and a warning names the sheet and cell, because unlabeled columns are
 * common in report exports and their data is still wanted. Repeated names get `_2`, `_3`. Column types
 * follow Excel's own cell types (all numbers → BIGINT or DOUBLE, all dates → TIMESTAMP, all booleans →
 * BOOLEAN, anything mixed or textual → VARCHAR, so text such as zip codes keeps its leading zeros);
 * `columns` casts on top, and a cell that does not fit is a bad row.
 *
 * Legacy `.xls` workbooks are converted to `.xlsx` by LibreOffice headless (see soffice.ts for why
 * not a JavaScript parser) into a private folder and then read by the same XLSX code, so `sheet`,
 * `header_row`, `range`, types and `on_error` behave exactly as for `.xlsx`.
 *
 * Zero-byte files are left out of the read (they hold no rows and would otherwise break the schema
 * DuckDB works out across files) but still count in `files` and `bytes`.
 */
import { defineStep, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent } from '../../core/sql-identifiers.js';
import { knownReadExtensions, readFormatFromPath, type ReadFormat } from './file-format.js';
import { filesReadConfig, formatOptionIssues, type FilesReadConfig } from './files-read-schema.js';
import { findInputFiles, type InputFile } from './input-files.js';
import { checkOverrideTypes, type ReadOutcome } from './read-common.js';
import { readCsv } from './read-csv.js';
import { readJson } from './read-json.js';
import { readParquet } from './read-parquet.js';
import { withXlsxCopies } from './xls-workbooks.js';

function resolveFormat(config: FilesReadConfig, files: readonly InputFile[]): ReadFormat {
  if (config.format !== undefined) return config.format;
  const fromPattern = readFormatFromPath(config.path);
  if (fromPattern !== undefined) return fromPattern;
  const fromFiles = new Set(files.map((file) => readFormatFromPath(file.relative)));
  const [only] = [...fromFiles];
  if (fromFiles.size === 1 && only !== undefined) return only;
  throw new PwError('PW_SPEC_TYPE', `Cannot tell the format of '${config.path}' from its name`, {
    path: 'with.format',
    expected: `file names ending in one of ${knownReadExtensions()} (all the same), or an explicit format`,
    found: files
      .slice(0, 3)
      .map((file) => file.relative)
      .join(', '),
    hint: 'Set format: csv, tsv, json, ndjson, parquet, xlsx or xls, or narrow the glob to one kind of file.',
  });
}

async function read(
  format: ReadFormat,
  ctx: StepContext,
  temp: string,
  files: readonly InputFile[],
  config: FilesReadConfig,
): Promise<ReadOutcome> {
  switch (format) {
    case 'csv':
    case 'tsv':
      return readCsv(ctx, temp, files, config, format);
    case 'json':
    case 'ndjson':
      return readJson(ctx, temp, files, config, format);
    case 'parquet':
      return readParquet(ctx, temp, files, config);
    case 'xlsx':
      // exceljs takes a noticeable share of start-up; load it only for workbooks.
      return (await import('./read-xlsx.js')).readXlsx(ctx, temp, files, config);
    case 'xls': {
      const { readXlsx } = await import('./read-xlsx.js');
      const soffice = config.soffice_path === undefined ? undefined : ctx.resolvePath(config.soffice_path);
      return withXlsxCopies(ctx, files, soffice, (copies) => readXlsx(ctx, temp, copies, config));
    }
  }
}

function describeInput(files: readonly InputFile[]): string {
  return files.length === 1
    ? (files[0]?.relative ?? 'the input')
    : `the ${files.length} files matching the path`;
}

/** Every file is zero bytes: there are no column names to build even an empty table from. */
async function emptyFromDeclaredColumns(
  ctx: StepContext,
  config: FilesReadConfig,
  files: readonly InputFile[],
): Promise<number> {
  const declared = Object.entries(config.columns ?? {});
  if (!config.allow_empty || declared.length === 0) {
    throw new PwError('PW_INPUT_EMPTY', `${describeInput(files)}: every file is empty (0 bytes)`, {
      location: { file: files[0]?.relative ?? config.path },
      hint: config.allow_empty
        ? 'Empty files carry no column names; list the expected columns under `columns` to get an empty dataset.'
        : 'Set allow_empty: true (and list the columns under `columns`) if an empty delivery is normal.',
    });
  }
  const definitions = declared.map(([name, type]) => `${quoteIdent(name)} ${type}`);
  if (config.source_column !== undefined) definitions.push(`${quoteIdent(config.source_column)} VARCHAR`);
  return ctx.datasets.replaceOutput(async (temp) => {
    await ctx.datasets.run(`CREATE TABLE ${temp} (${definitions.join(', ')})`);
  });
}

export const filesReadStep = defineStep({
  type: 'files.read',
  kind: 'extract',
  description:
    'Reads CSV, TSV, JSON, NDJSON, Parquet, XLSX or legacy XLS files (one path or a glob) into the step dataset.',
  config: filesReadConfig,
  async run(ctx, config) {
    const files = await findInputFiles(ctx.projectDir, config.path);
    const format = resolveFormat(config, files);
    const [issue] = formatOptionIssues(config, format);
    if (issue) {
      throw new PwError('PW_SPEC_TYPE', issue.message, {
        path: `with.${issue.field}`,
        hint: `The files are read as ${format}${config.format === undefined ? ' (from their extension)' : ''}.`,
      });
    }
    if (config.columns !== undefined) await checkOverrideTypes(ctx, config.columns);

    const bytes = files.reduce((total, file) => total + file.bytes, 0);
    const readable = files.filter((file) => file.bytes > 0);
    let rejectedRows = 0;
    const asView = config.materialize === 'view';
    const build = async (temp: string): Promise<void> => {
      rejectedRows = (await read(format, ctx, temp, readable, config)).rejectedRows;
      // Counting a view would read every file once more: the price view exists to avoid.
      if (asView) return;
      const counted = await ctx.datasets.query<{ n: number }>(`SELECT count(*) AS n FROM ${temp}`);
      if ((counted[0]?.n ?? 0) === 0 && !config.allow_empty) {
        const why = rejectedRows > 0 ? ` (all ${rejectedRows} rows were rejected)` : '';
        throw new PwError('PW_INPUT_EMPTY', `${describeInput(files)} holds no rows${why}`, {
          location: { file: files[0]?.relative ?? config.path },
          hint: 'Set allow_empty: true if an empty input is normal for this pipeline.',
        });
      }
    };
    let rows: number | undefined;
    try {
      rows =
        readable.length === 0
          ? await emptyFromDeclaredColumns(ctx, config, files)
          : asView
            ? await ctx.datasets.replaceOutput(build, { countRows: false })
            : await ctx.datasets.replaceOutput(build);
    } catch (error) {
      // An interrupted query surfaces as a DuckDB error; the abort is the real story.
      if (ctx.signal.aborted && !(error instanceof PwError && error.code === 'PW_CANCELLED')) {
        throw new PwError('PW_CANCELLED', `Reading ${describeInput(files)} was cancelled`, { cause: error });
      }
      throw error;
    }

    if (rejectedRows > 0) {
      const where =
        config.on_error === 'quarantine' ? `; they are in the artifact ${ctx.stepId}.rejects.csv` : '';
      ctx.log.warn(
        `${rejectedRows} bad row(s) ${config.on_error === 'quarantine' ? 'quarantined' : 'skipped'} while reading ${describeInput(files)}${where}`,
        {
          rejected_rows: rejectedRows,
        },
      );
    }
    ctx.log.info(
      rows === undefined
        ? `Defined a view over ${files.length} file(s) as ${format}; later steps read the files directly`
        : `Read ${rows} row(s) from ${files.length} file(s) as ${format}`,
      {
        rows,
        files: files.length,
        bytes,
      },
    );
    return {
      ...(rows === undefined ? {} : { rows }),
      bytes,
      outputs: { files: files.map((file) => file.relative), rejected_rows: rejectedRows },
    };
  },
});
