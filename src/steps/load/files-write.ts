/**
 * The `files.write` step: writes one dataset to a file. DuckDB's COPY writes CSV/TSV, JSON (an
 * array), NDJSON and Parquet; XLSX streams through exceljs. Either way the bytes go to a temporary
 * name beside the target and are renamed over it only when complete, so a failed write leaves no
 * partial file and an existing file untouched. The written file is registered as an artifact so the
 * UI can offer it for download.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { defineStep, type ColumnInfo, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { writeAtomically } from '../../engine/atomic-file.js';
import { displayPath, errorText, headline } from '../extract/duckdb-errors.js';
import { formatFromPath, knownExtensions, type FileFormat } from '../extract/file-format.js';
import {
  defaultCompression,
  filesWriteConfig,
  parseMode,
  writeOptionIssues,
  type FilesWriteConfig,
} from './files-write-schema.js';
import { XLSX_MAX_ROWS } from './xlsx-limits.js';

const CONTENT_TYPES: Readonly<Record<FileFormat, string>> = {
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

async function knownDatasets(ctx: StepContext): Promise<string[]> {
  const rows = await ctx.datasets.query<{ name: string }>(
    "SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary AND table_name NOT LIKE '\\_\\_pw\\_%' ESCAPE '\\' ORDER BY table_name",
  );
  return rows.map((row) => row.name);
}

function resolveFormat(config: FilesWriteConfig): FileFormat {
  const format = config.format ?? formatFromPath(config.path);
  if (format !== undefined) return format;
  throw new PwError('PW_SPEC_TYPE', `Cannot tell the format of '${config.path}' from its name`, {
    path: 'with.format',
    expected: `a file name ending in ${knownExtensions()}, or an explicit format`,
    found: config.path,
    hint: 'Set format: csv, tsv, json, ndjson, parquet or xlsx.',
  });
}

/** `ORDER BY …` from entries such as "day" or "amount desc", checked against the dataset's columns. */
function orderClause(
  orderBy: readonly string[] | undefined,
  columns: readonly ColumnInfo[],
  input: string,
): string {
  if (orderBy === undefined || orderBy.length === 0) return '';
  const terms = orderBy.map((entry, index) => {
    const match = /^(.*?)(?:\s+(asc|desc))?$/i.exec(entry.trim());
    const name = match?.[1] ?? entry;
    const column = columns.find((candidate) => candidate.name.toLowerCase() === name.toLowerCase());
    if (!column) {
      throw new PwError('PW_SPEC_TYPE', `order_by: dataset '${input}' has no column '${name}'`, {
        path: `with.order_by[${index}]`,
        expected: `one of ${columns.map((candidate) => candidate.name).join(', ')}`,
        found: name,
      });
    }
    return `${quoteIdent(column.name)} ${(match?.[2] ?? 'asc').toUpperCase()}`;
  });
  return ` ORDER BY ${terms.join(', ')}`;
}

function copyOptions(format: Exclude<FileFormat, 'xlsx'>, config: FilesWriteConfig): string {
  const compression = config.compression ?? defaultCompression(format, config.path);
  switch (format) {
    case 'parquet':
      return `FORMAT parquet, COMPRESSION ${quoteLiteral(compression === 'none' ? 'uncompressed' : compression)}`;
    case 'json':
      return `FORMAT json, ARRAY true, COMPRESSION ${quoteLiteral(compression)}`;
    case 'ndjson':
      return `FORMAT json, COMPRESSION ${quoteLiteral(compression)}`;
    case 'csv':
    case 'tsv': {
      const delimiter = config.delimiter ?? (format === 'tsv' ? '\t' : ',');
      return `FORMAT csv, HEADER ${config.header}, DELIMITER ${quoteLiteral(delimiter)}, COMPRESSION ${quoteLiteral(compression)}`;
    }
  }
}

/** Existing target: a folder is never replaced, a file only when `if_exists` allows. */
async function checkTarget(
  target: string,
  shown: string,
  ifExists: FilesWriteConfig['if_exists'],
): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) {
    throw new PwError('PW_OUTPUT_EXISTS', `Cannot write ${shown}: it is a folder`, {
      path: 'with.path',
      expected: 'a file path',
      found: 'an existing folder',
      hint: 'Add a file name to the path, e.g. exports/report.csv.',
    });
  }
  if (existing && ifExists === 'fail') {
    throw new PwError('PW_OUTPUT_EXISTS', `Cannot write ${shown}: the file already exists`, {
      path: 'with.path',
      hint: 'Set if_exists: overwrite to replace it, or put a date in the path to keep each run’s file.',
    });
  }
}

function writeFailure(error: unknown, shown: string, signal: AbortSignal): PwError {
  if (error instanceof PwError) return error;
  if (signal.aborted) return new PwError('PW_CANCELLED', `Writing ${shown} was cancelled`, { cause: error });
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
    return new PwError('PW_OUTPUT_EXISTS', `Cannot write ${shown}: a folder is in the way`, { cause: error });
  }
  if (code === 'ENOTDIR') {
    return new PwError('PW_OUTPUT_WRITE', `Cannot write ${shown}: part of the path is a file, not a folder`, {
      cause: error,
    });
  }
  return new PwError('PW_OUTPUT_WRITE', `Cannot write ${shown}: ${headline(errorText(error))}`, {
    hint: 'Check free disk space and that the folder is writable by the Pipewright process.',
    cause: error,
  });
}

export const filesWriteStep = defineStep({
  type: 'files.write',
  kind: 'load',
  description:
    'Writes a dataset to a CSV, TSV, JSON, NDJSON, Parquet or XLSX file, atomically and with chosen permissions.',
  config: filesWriteConfig,
  producesDataset: false,
  inputs: (config) => [config.input],
  async run(ctx, config) {
    if (!(await ctx.datasets.exists(config.input))) {
      const known = await knownDatasets(ctx);
      throw new PwError(
        'PW_DATASET_UNKNOWN',
        `files.write reads dataset '${config.input}', which no earlier step produced`,
        {
          path: 'with.input',
          expected: 'the id of a step that produces a dataset',
          found: config.input,
          hint:
            known.length > 0
              ? `Datasets so far: ${known.join(', ')}.`
              : 'No step has produced a dataset yet in this run.',
        },
      );
    }
    const format = resolveFormat(config);
    const [issue] = writeOptionIssues(config, format);
    if (issue) throw new PwError('PW_SPEC_TYPE', issue.message, { path: `with.${issue.field}` });
    const mode = config.mode === undefined ? undefined : parseMode(config.mode);

    const target = ctx.resolvePath(config.path);
    const shown = displayPath(ctx.projectDir, target);
    await checkTarget(target, shown, config.if_exists);
    const columns = await ctx.datasets.columns(config.input);
    const source = `SELECT * FROM ${quoteIdent(config.input)}${orderClause(config.order_by, columns, config.input)}`;
    if (format === 'xlsx') {
      const count = await ctx.datasets.rowCount(config.input);
      if (count > XLSX_MAX_ROWS) {
        throw new PwError(
          'PW_SPEC_TYPE',
          `Dataset '${config.input}' has ${count} rows; an XLSX sheet holds at most ${XLSX_MAX_ROWS}`,
          {
            path: 'with.format',
            hint: 'Write csv or parquet instead, or filter the dataset with a sql step first.',
          },
        );
      }
    }

    let rows = 0;
    try {
      await writeAtomically(
        target,
        async (temp) => {
          if (format === 'xlsx') {
            // exceljs takes a noticeable share of start-up; load it only for workbooks.
            const { writeXlsx } = await import('./write-xlsx.js');
            rows = await writeXlsx(ctx, source, columns, temp, config.sheet ?? config.input);
            return;
          }
          const result = await ctx.datasets.query<{ Count: number }>(
            `COPY (${source}) TO ${quoteLiteral(temp)} (${copyOptions(format, config)})`,
          );
          rows = Number(result[0]?.Count ?? 0);
        },
        { mode },
      );
    } catch (error) {
      throw writeFailure(error, shown, ctx.signal);
    }

    const bytes = (await stat(target)).size;
    await ctx.artifacts.register(target, { name: basename(target), contentType: CONTENT_TYPES[format] });
    ctx.log.info(`Wrote ${rows} row(s) of '${config.input}' to ${shown} as ${format}`, {
      rows,
      bytes,
      path: shown,
    });
    return { rows, bytes, outputs: { path: shown, absolute_path: target, format } };
  },
});
