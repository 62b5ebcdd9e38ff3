/**
 * JSON and NDJSON input, streamed by DuckDB's read_json into the dataset table.
 *
 * `json` lets DuckDB tell an array of records from concatenated records, since files named .json
 * often hold one record per line. `ndjson` is read with `records = false`: each line becomes one
 * STRUCT value that is NULL when the line is malformed, which lets `on_error: skip` drop exactly the
 * bad lines and count them (DuckDB's plain `ignore_errors` turns a bad line into a row of NULLs,
 * indistinguishable from `{}`, and silently nulls values that do not fit the detected type).
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent } from '../../core/sql-identifiers.js';
import { displayPath, errorText, parseJsonError } from './duckdb-errors.js';
import type { FilesReadConfig } from './files-read-schema.js';
import type { InputFile } from './input-files.js';
import { findJsonSyntaxError, type JsonSyntaxError } from './json-locate.js';
import {
  FILENAME_COLUMN,
  castReplace,
  checkColumnNames,
  fileListLiteral,
  filenameOption,
  readFailure,
  sourceSelect,
  type ReadOutcome,
} from './read-common.js';

/**
 * DuckDB 1.5 reports an ndjson parse error one line after the bad one; rather than trust either
 * number, look at both and name the one that does not parse.
 */
async function pinpointLine(path: string, reported: number): Promise<number | undefined> {
  if (/\.(gz|zst)$/i.test(path)) return undefined;
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let number = 0;
  let found: number | undefined;
  try {
    for await (const line of lines) {
      number += 1;
      if (number < reported - 1) continue;
      if (number > reported) break;
      if (line.trim() === '') continue;
      try {
        JSON.parse(line);
      } catch {
        found = number;
        break;
      }
    }
  } finally {
    lines.close();
  }
  return found;
}

/** Above this size a failed JSON document is not re-parsed just to find the line. */
const LOCATE_LIMIT = 16 * 1024 * 1024;

/** DuckDB numbers records, not lines, in a JSON document; a modest file is scanned again for the line. */
async function locateInDocument(path: string): Promise<JsonSyntaxError | undefined> {
  if (/\.(gz|zst)$/i.test(path) || (await stat(path)).size > LOCATE_LIMIT) return undefined;
  return findJsonSyntaxError(await readFile(path, 'utf8'));
}

async function jsonFailure(
  error: unknown,
  ctx: StepContext,
  files: readonly InputFile[],
  format: 'json' | 'ndjson',
): Promise<PwError> {
  if (error instanceof PwError) return error;
  const message = errorText(error);
  const detail = parseJsonError(message);
  if (detail) {
    const file = displayPath(ctx.projectDir, detail.file);
    const reported = /^line (\d+)$/.exec(detail.where);
    let line: number | undefined;
    let column: number | undefined;
    let problem = detail.problem;
    if (reported?.[1]) {
      line = await pinpointLine(detail.file, Number(reported[1]));
    } else {
      const located = await locateInDocument(detail.file).catch(() => undefined);
      if (located) ({ line, column, problem } = located);
    }
    const where = [file, line, column].filter((part) => part !== undefined).join(':');
    return new PwError('PW_INPUT_MALFORMED', `${where}: malformed JSON: ${problem}`, {
      location: {
        file,
        ...(line === undefined ? {} : { line }),
        ...(column === undefined ? {} : { column }),
      },
      expected:
        format === 'ndjson' ? 'one JSON object per line' : 'a JSON array of objects, or one object per line',
      hint:
        format === 'ndjson'
          ? 'Fix the line, or set on_error: skip to drop malformed lines.'
          : 'Fix the file; a JSON document that does not parse cannot be read in part.',
      cause: error,
    });
  }
  return readFailure(error, files);
}

async function describe(ctx: StepContext, sql: string): Promise<{ name: string; type: string }[]> {
  const rows = await ctx.datasets.query<{ column_name: string; column_type: string }>(`DESCRIBE ${sql}`);
  return rows.map((row) => ({ name: row.column_name, type: row.column_type }));
}

export async function readJson(
  ctx: StepContext,
  tempTable: string,
  files: readonly InputFile[],
  config: FilesReadConfig,
  format: 'json' | 'ndjson',
): Promise<ReadOutcome> {
  const overrides = config.columns ?? {};
  const source = sourceSelect(files, config.source_column);
  const where = files.length === 1 ? (files[0]?.relative ?? 'the input') : `the ${files.length} input files`;
  const skip = config.on_error === 'skip';
  try {
    if (format === 'json') {
      const reader = `read_json(${fileListLiteral(files)}, format = 'auto'${filenameOption(config.source_column)})`;
      const columns = (await describe(ctx, `SELECT * FROM ${reader}`))
        .map((column) => column.name)
        .filter((name) => name !== FILENAME_COLUMN);
      checkColumnNames(columns, overrides, config.source_column, where);
      await ctx.datasets.run(
        `CREATE ${config.materialize === 'view' ? 'VIEW' : 'TABLE'} ${tempTable} AS SELECT *${source.exclude}${castReplace(columns, overrides)}${source.extra} FROM ${reader}`,
      );
      return { rejectedRows: 0 };
    }

    const reader = `read_json(${fileListLiteral(files)}, format = 'newline_delimited', records = false${skip ? ', ignore_errors = true' : ''}${filenameOption(config.source_column)})`;
    const [record] = await describe(ctx, `SELECT json FROM ${reader}`);
    if (record !== undefined && !record.type.startsWith('STRUCT(')) {
      throw new PwError(
        'PW_INPUT_MALFORMED',
        `${where}: expected one JSON object per line, found ${record.type} values`,
        {
          expected: 'one JSON object per line',
          found: record.type,
          hint: 'Each line of an ndjson file must be an object such as {"id": 1}; a file holding one array is format: json.',
        },
      );
    }
    const passSource = config.source_column === undefined ? '' : `, ${quoteIdent(FILENAME_COLUMN)}`;
    const unnested = `(SELECT unnest(json)${passSource} FROM ${reader} WHERE json IS NOT NULL)`;
    const columns = (await describe(ctx, `SELECT * FROM ${unnested}`))
      .map((column) => column.name)
      .filter((name) => name !== FILENAME_COLUMN);
    checkColumnNames(columns, overrides, config.source_column, where);
    await ctx.datasets.run(
      `CREATE ${config.materialize === 'view' ? 'VIEW' : 'TABLE'} ${tempTable} AS SELECT *${source.exclude}${castReplace(columns, overrides)}${source.extra} FROM ${unnested}`,
    );
    if (!skip) return { rejectedRows: 0 };
    // A second, cheap pass: no casting or unnesting, only counting the lines that did not parse.
    const counted = await ctx.datasets.query<{ n: number }>(
      `SELECT count(*) FILTER (WHERE json IS NULL) AS n FROM ${reader}`,
    );
    return { rejectedRows: counted[0]?.n ?? 0 };
  } catch (error) {
    throw await jsonFailure(error, ctx, files, format);
  }
}
