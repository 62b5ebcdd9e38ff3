/**
 * Pieces every `files.read` format shares: the SQL that turns DuckDB's absolute `filename` column
 * into the project-relative `source_column`, type-override casts, checks that overrides name real
 * columns and real types, and the rejects artifact.
 */
import { join } from 'node:path';
import type { StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { writeAtomically } from '../../engine/atomic-file.js';
import { errorText, headline } from './duckdb-errors.js';
import type { InputFile } from './input-files.js';

/** The column DuckDB's `filename` option fills; renamed to the user's `source_column` in the SELECT. */
export const FILENAME_COLUMN = '__pw_source';

export interface ReadOutcome {
  rejectedRows: number;
}

/** `filename = '__pw_source'` for a read function, or nothing when no source column is wanted. */
export function filenameOption(sourceColumn: string | undefined): string {
  return sourceColumn === undefined ? '' : `, filename = ${quoteLiteral(FILENAME_COLUMN)}`;
}

/**
 * The SELECT list that maps DuckDB's absolute file name to the project-relative one. A map literal
 * keeps the lookup exact; the fallback only matters if DuckDB ever spells a path differently.
 */
export function sourceSelect(
  files: readonly InputFile[],
  sourceColumn: string | undefined,
): { exclude: string; extra: string } {
  if (sourceColumn === undefined) return { exclude: '', extra: '' };
  const entries = files
    .map((file) => `${quoteLiteral(file.absolute)}: ${quoteLiteral(file.relative)}`)
    .join(', ');
  const source = quoteIdent(FILENAME_COLUMN);
  return {
    exclude: ` EXCLUDE (${source})`,
    extra: `, coalesce(MAP {${entries}}[${source}], ${source}) AS ${quoteIdent(sourceColumn)}`,
  };
}

export function fileListLiteral(files: readonly InputFile[]): string {
  return `[${files.map((file) => quoteLiteral(file.absolute)).join(', ')}]`;
}

/** Fails with a clear message when a `columns` override names a type DuckDB does not know. */
export async function checkOverrideTypes(
  ctx: StepContext,
  overrides: Readonly<Record<string, string>>,
): Promise<void> {
  for (const [column, type] of Object.entries(overrides)) {
    try {
      await ctx.datasets.run(`SELECT CAST(NULL AS ${type})`);
    } catch (error) {
      throw new PwError('PW_SPEC_TYPE', `columns.${column}: '${type}' is not a DuckDB type`, {
        path: `with.columns.${column}`,
        expected: 'a DuckDB type such as BIGINT, DOUBLE, DECIMAL(18,2), DATE, TIMESTAMP or VARCHAR',
        found: type,
        hint: headline(errorText(error)),
      });
    }
  }
}

/** Fails when overrides or the source column do not fit the columns actually found in the files. */
export function checkColumnNames(
  found: readonly string[],
  overrides: Readonly<Record<string, string>>,
  sourceColumn: string | undefined,
  where: string,
): void {
  const lower = new Set(found.map((name) => name.toLowerCase()));
  const missing = Object.keys(overrides).filter((name) => !lower.has(name.toLowerCase()));
  if (missing.length > 0) {
    throw new PwError(
      'PW_SPEC_TYPE',
      `columns: ${missing.map((name) => `'${name}'`).join(', ')} not found in ${where}`,
      {
        path: `with.columns.${missing[0]}`,
        expected: `one of the columns in the input: ${found.join(', ')}`,
        found: missing.join(', '),
        hint: 'Column names in `columns` must match the header exactly (case does not matter).',
      },
    );
  }
  if (sourceColumn !== undefined && lower.has(sourceColumn.toLowerCase())) {
    throw new PwError(
      'PW_SPEC_TYPE',
      `source_column '${sourceColumn}' clashes with a column of the same name in ${where}`,
      {
        path: 'with.source_column',
        hint: 'Pick a name that is not already a column, such as source_file.',
      },
    );
  }
}

/** The override for a column, matched without regard to case as DuckDB matches identifiers. */
export function overrideFor(overrides: Readonly<Record<string, string>>, column: string): string | undefined {
  const key = Object.keys(overrides).find((name) => name.toLowerCase() === column.toLowerCase());
  return key === undefined ? undefined : overrides[key];
}

/**
 * The fallback for DuckDB failures without a file and line of their own: a cast from `columns`,
 * an unreadable file, or something else the engine reported.
 */
export function readFailure(error: unknown, files: readonly InputFile[]): PwError {
  if (error instanceof PwError) return error;
  const message = errorText(error);
  const where =
    files.length === 1
      ? (files[0]?.relative ?? 'input')
      : `one of ${files.length} files (${files[0]?.relative ?? ''}, …)`;
  if (/^Conversion Error/.test(message)) {
    return new PwError('PW_INPUT_MALFORMED', `${where}: ${headline(message)}`, {
      hint: 'A value does not fit the type given under `columns`; fix the data or change the type.',
      cause: error,
    });
  }
  const code = /^IO Error/.test(message) ? 'PW_IO' : 'PW_INPUT_MALFORMED';
  return new PwError(code, `${where}: ${headline(message)}`, { cause: error });
}

/** `* REPLACE (CAST(a AS T) AS a, …)` for formats whose columns are typed after reading. */
export function castReplace(columns: readonly string[], overrides: Readonly<Record<string, string>>): string {
  const casts = columns.flatMap((column) => {
    const type = overrideFor(overrides, column);
    return type === undefined ? [] : [`CAST(${quoteIdent(column)} AS ${type}) AS ${quoteIdent(column)}`];
  });
  return casts.length === 0 ? '' : ` REPLACE (${casts.join(', ')})`;
}

/**
 * Writes the rows of `selectSql` (file, line, column, error_type, error_message, original) to the
 * `<step>.rejects.csv` artifact and registers it.
 */
export async function writeRejects(ctx: StepContext, selectSql: string): Promise<string> {
  const target = join(ctx.artifacts.dir, `${ctx.stepId}.rejects.csv`);
  await writeAtomically(target, async (temp) => {
    await ctx.datasets.run(`COPY (${selectSql}) TO ${quoteLiteral(temp)} (FORMAT csv, HEADER true)`);
  });
  await ctx.artifacts.register(target, { name: `${ctx.stepId}.rejects.csv`, contentType: 'text/csv' });
  return target;
}
