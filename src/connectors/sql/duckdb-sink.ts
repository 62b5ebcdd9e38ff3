/**
 * Streams a query result into the step's dataset in bounded memory: rows arrive in batches from the
 * driver, each value is converted to its column's staging type and appended to a temporary staging
 * table through a DuckDB appender (a data chunk at a time), and one `CREATE TABLE <step> AS SELECT`
 * casts the staged columns to their target types inside `replaceOutput`, so the dataset appears
 * whole or not at all. Only one batch of rows is ever held in JavaScript.
 */
import type { JS } from '@duckdb/node-api';
import type { StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { overridden, TypeMismatch, type ColumnMapping, type ResultColumn, type RowStream } from './driver.js';

export interface SinkResult {
  rows: number;
  /** Remarks for the log and the step's warnings (precision kept as text, zero dates read as NULL). */
  notes: string[];
  /** The dataset's columns with their DuckDB types. */
  columns: { name: string; type: string }[];
}

export interface PreparedColumn {
  name: string;
  sourceType: string;
  mapping: ColumnMapping;
}

/**
 * `label` starts every error message (`Step 'x', connection 'y' (…)`); `overrides` are the step's
 * `columns:` (matched to result columns without regard to case).
 */
export async function streamIntoDataset(
  ctx: StepContext,
  stream: RowStream,
  overrides: Readonly<Record<string, string>>,
  label: string,
): Promise<SinkResult> {
  const columns = prepareColumns(stream, overrides, label);
  const staging = `__pw_sql_${ctx.stepId}`;
  const stagingRef = `temp.main.${quoteIdent(staging)}`;
  const connection = ctx.datasets.connection;
  await ctx.datasets.run(`DROP TABLE IF EXISTS ${stagingRef}`);
  await ctx.datasets.run(
    `CREATE TEMP TABLE ${quoteIdent(staging)} (${columns.map((column, index) => `c${index} ${column.mapping.staging}`).join(', ')})`,
  );
  try {
    let rows = 0;
    if (columns.length > 0) {
      const { DuckDBDataChunkWriter, JSToDuckDBValueConverter } = await import('@duckdb/node-api');
      const appender = await connection.createAppender(staging, 'main', 'temp');
      try {
        const writer = DuckDBDataChunkWriter.forAppender(appender, { converter: JSToDuckDBValueConverter });
        const converted: (JS | null)[] = new Array<JS | null>(columns.length).fill(null);
        for (let batch = await stream.next(); batch !== undefined; batch = await stream.next()) {
          ctx.signal.throwIfAborted();
          for (const row of batch) {
            rows += 1;
            for (let index = 0; index < columns.length; index += 1) {
              const value = row[index];
              converted[index] =
                value === null || value === undefined
                  ? null
                  : convertValue(columns, index, value, rows, label);
            }
            writer.appendRow(converted);
          }
        }
        writer.flush();
      } finally {
        appender.closeSync();
      }
    } else {
      for (let batch = await stream.next(); batch !== undefined; batch = await stream.next())
        rows += batch.length;
    }
    const targets = columns.map((column) => column.mapping.target());
    const notes = columns.flatMap((column) => column.mapping.note?.() ?? []);
    checkNames(columns, label);
    const select = columns
      .map((column, index) => {
        const staged = quoteIdent(`c${index}`);
        const value =
          targets[index] === column.mapping.staging
            ? staged
            : `CAST(${staged} AS ${targets[index] ?? 'VARCHAR'})`;
        return `${value} AS ${quoteIdent(column.name)}`;
      })
      .join(', ');
    try {
      await ctx.datasets.replaceOutput(
        async (table) => {
          await ctx.datasets.run(
            columns.length > 0
              ? `CREATE TABLE ${table} AS SELECT ${select} FROM ${stagingRef}`
              : `CREATE TABLE ${table} AS SELECT * FROM (SELECT 1) WHERE false`,
          );
        },
        { countRows: false },
      );
    } catch (error) {
      throw (await castFailure(ctx, stagingRef, columns, targets, label)) ?? error;
    }
    return {
      rows,
      notes,
      columns: columns.map((column, index) => ({ name: column.name, type: targets[index] ?? 'VARCHAR' })),
    };
  } finally {
    await ctx.datasets.run(`DROP TABLE IF EXISTS ${stagingRef}`).catch(() => undefined);
  }
}

/** The result's columns with `columns:` overrides applied; fails on a type with no mapping. */
export function prepareColumns(
  stream: { readonly columns: readonly ResultColumn[] },
  overrides: Readonly<Record<string, string>>,
  label: string,
): PreparedColumn[] {
  const byLower = new Map(
    Object.entries(overrides).map(([name, type]) => [name.toLowerCase(), { name, type }]),
  );
  const used = new Set<string>();
  const columns = stream.columns.map((column) => {
    const override = overrides[column.name] ?? byLower.get(column.name.toLowerCase())?.type;
    if (override !== undefined) {
      used.add(column.name.toLowerCase());
      const base = column.overridable ?? column.mapping;
      if (base === undefined) throw unmappable(column.name, column.sourceType, label);
      return { name: column.name, sourceType: column.sourceType, mapping: overridden(base, override) };
    }
    if (column.mapping === undefined) throw unmappable(column.name, column.sourceType, label);
    return { name: column.name, sourceType: column.sourceType, mapping: column.mapping };
  });
  const unknown = Object.keys(overrides).filter((name) => !used.has(name.toLowerCase()));
  if (unknown.length > 0) {
    throw new PwError(
      'PW_SPEC_TYPE',
      `${label}: columns names ${unknown.map((name) => `'${name}'`).join(', ')}, which the result does not have`,
      {
        path: 'with.columns',
        expected: `columns of the result: ${stream.columns.map((column) => column.name).join(', ')}`,
        found: unknown.join(', '),
      },
    );
  }
  return columns;
}

function unmappable(name: string, sourceType: string, label: string): PwError {
  return new PwError(
    'PW_DB_TYPE',
    `${label}: column '${name}' has type ${sourceType}, which has no DuckDB equivalent`,
    {
      path: 'with.columns',
      expected: 'a column type DuckDB can hold',
      found: sourceType,
      hint: `Cast it in the query (e.g. to text), or give its DuckDB type under columns: { ${name}: VARCHAR }.`,
    },
  );
}

function convertValue(
  columns: readonly PreparedColumn[],
  index: number,
  value: unknown,
  row: number,
  label: string,
): JS {
  const column = columns[index] as PreparedColumn;
  try {
    return column.mapping.convert(value);
  } catch (error) {
    if (!(error instanceof TypeMismatch)) throw error;
    throw new PwError(
      'PW_DB_TYPE',
      `${label}: row ${row}, column '${column.name}' (declared ${column.sourceType}) holds ${error.found}, which is not a ${column.mapping.target()}`,
      {
        path: 'with.columns',
        expected: `values of type ${column.mapping.target()}`,
        found: error.found,
        hint: `Fix the value, cast the column in the query, or read it as text: columns: { ${column.name}: VARCHAR }.`,
      },
    );
  }
}

export function checkNames(columns: readonly PreparedColumn[], label: string): void {
  const seen = new Set<string>();
  for (const column of columns) {
    const key = column.name.toLowerCase();
    if (seen.has(key)) {
      throw new PwError('PW_SPEC_TYPE', `${label}: the result has two columns named '${column.name}'`, {
        path: 'with.query',
        hint: 'Give the columns distinct names with AS (column names of a dataset ignore case).',
      });
    }
    seen.add(key);
  }
}

/**
 * Finds the first staged value that does not cast to its target type, for a message naming it
 * (`rowOffset`: rows of the result before the staging table's first).
 */
export async function castFailure(
  ctx: StepContext,
  stagingRef: string,
  columns: readonly PreparedColumn[],
  targets: readonly string[],
  label: string,
  rowOffset = 0,
  stagedName: (index: number) => string = (index) => `c${index}`,
): Promise<PwError | undefined> {
  for (const [index, column] of columns.entries()) {
    const target = targets[index] ?? 'VARCHAR';
    if (target === column.mapping.staging) continue;
    const staged = quoteIdent(stagedName(index));
    let found: { value: string; row: number } | undefined;
    try {
      const rows = await ctx.datasets.query<{ value: string; row: number }>(
        `SELECT CAST(${staged} AS VARCHAR) AS value, rowid + 1 AS row FROM ${stagingRef}
         WHERE ${staged} IS NOT NULL AND TRY_CAST(${staged} AS ${target}) IS NULL ORDER BY rowid LIMIT 1`,
      );
      found = rows[0];
    } catch {
      continue;
    }
    if (found === undefined) continue;
    found = { ...found, row: Number(found.row) + rowOffset };
    const value = found.value.length > 80 ? `${found.value.slice(0, 80)}…` : found.value;
    return new PwError(
      'PW_DB_TYPE',
      `${label}: row ${found.row}, column '${column.name}' (${column.sourceType}): ${quoteLiteral(value)} does not fit DuckDB type ${target}`,
      {
        path: 'with.columns',
        expected: target,
        found: value,
        hint: `Cast the column in the query, or choose another DuckDB type: columns: { ${column.name}: VARCHAR }.`,
      },
    );
  }
  return undefined;
}
