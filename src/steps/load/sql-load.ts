/**
 * The `sql.load` step: loads a dataset of the run into a PostgreSQL, MariaDB or SQLite table, in one
 * transaction, so a failed load leaves the table as it was (MariaDB commits DDL on its own, so a table
 * the step created is dropped again). PostgreSQL gets `COPY … FROM STDIN`, MariaDB multi-row batches,
 * SQLite one prepared INSERT per row inside the transaction. Dataset columns are matched to the
 * table's by name (exactly, else ignoring case); table columns the dataset lacks take their defaults.
 * Every load, succeeded or failed, is a row of the data-load ledger.
 */
import { defineStep, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent } from '../../core/sql-identifiers.js';
import { parseTableName, showTable } from '../../connectors/sql/identifiers.js';
import { connectForStep } from '../../connectors/sql/step-support.js';
import type { TableColumn } from '../../connectors/sql/driver.js';
import type { DatasetColumn } from '../../connectors/sql/duckdb-types.js';
import { sqlLoadConfig, type SqlLoadConfig } from './sql-load-schema.js';

export const sqlLoadStep = defineStep({
  type: 'sql.load',
  kind: 'load',
  description: 'Loads a dataset into a PostgreSQL, MariaDB or SQLite table in one transaction.',
  config: sqlLoadConfig,
  inputs: (config) => [config.input],
  producesDataset: false,
  async run(ctx, config) {
    const table = parseTableName(config.table);
    const target = `${config.connection}:${showTable(table)}`;
    if (!(await ctx.datasets.exists(config.input))) {
      throw new PwError(
        'PW_DATASET_UNKNOWN',
        `Step '${ctx.stepId}': there is no dataset '${config.input}' to load`,
        {
          path: 'with.input',
          hint: 'input names the step whose dataset is loaded; that step must produce a dataset.',
        },
      );
    }
    const columns = await ctx.datasets.columns(config.input);
    const keys = resolveKeys(config, columns);
    if (keys.length > 0) await checkKeys(ctx, config.input, keys);

    const connection = await connectForStep(ctx, config.connection);
    const started = Date.now();
    let rows = 0;
    try {
      const existing = await connection.driver.describeTable(table).catch((error: unknown) => {
        throw connection.fail(error, { phase: 'load', what: `reading the columns of ${showTable(table)}` });
      });
      if (config.mode === 'create' && existing !== undefined) {
        throw new PwError(
          'PW_OUTPUT_EXISTS',
          `${connection.label}: table ${showTable(table)} already exists (mode: create)`,
          {
            path: 'with.table',
            hint: 'Use mode: append, replace or upsert to load into an existing table, or drop it first.',
          },
        );
      }
      if (existing === undefined && config.mode !== 'create' && !config.create_if_missing) {
        throw new PwError('PW_DB_QUERY', `${connection.label}: table ${showTable(table)} does not exist`, {
          path: 'with.table',
          hint: 'Check the name (it is used exactly as written, case included), create the table, or set create_if_missing: true.',
        });
      }
      const targetNames =
        existing === undefined
          ? new Map(columns.map((column) => [column.name, column.name]))
          : matchColumns(connection.label, table, columns, existing);
      const outcome = await connection.driver
        .load({
          table,
          mode: config.mode,
          keys,
          createIfMissing: config.create_if_missing,
          columns,
          duck: ctx.datasets.connection,
          dataset: quoteIdent(config.input),
          tempDir: ctx.workspaceDir,
          batchSize: config.batch_size,
          signal: ctx.signal,
          targetNames,
          exists: existing !== undefined,
        })
        .catch((error: unknown) => {
          throw connection.fail(error, { phase: 'load', what: `load into ${showTable(table)}` });
        });
      rows = outcome.rows;
      // The rows are committed: a ledger that cannot be written now must not fail (and repeat) the load.
      await ctx.loads
        .record({ target, source: config.input, rows, status: 'succeeded' })
        .catch((error: unknown) => {
          ctx.log.warn(`the load was not recorded in the data-load ledger: ${(error as Error).message}`);
        });
      ctx.log.info(
        `${config.mode}: ${rows} rows into ${showTable(table)}${outcome.created ? ' (table created)' : ''} in ${Date.now() - started} ms`,
      );
      return { rows, outputs: { table: showTable(table), mode: config.mode, created: outcome.created } };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await ctx.loads
        .record({ target, source: config.input, rows: 0, status: 'failed', message })
        .catch(() => undefined);
      throw error;
    } finally {
      await connection.driver.close();
    }
  },
});

/** Keys as dataset column names (matched without regard to case). */
function resolveKeys(config: SqlLoadConfig, columns: readonly DatasetColumn[]): string[] {
  return (config.keys ?? []).map((key, index) => {
    const column =
      columns.find((candidate) => candidate.name === key) ??
      columns.find((candidate) => candidate.name.toLowerCase() === key.toLowerCase());
    if (column === undefined) {
      throw new PwError('PW_SPEC_TYPE', `keys: dataset '${config.input}' has no column '${key}'`, {
        path: `with.keys[${index}]`,
        expected: `one of ${columns.map((candidate) => candidate.name).join(', ')}`,
        found: key,
      });
    }
    return column.name;
  });
}

/** An upsert needs each key once and never NULL: said here, before anything is sent. */
async function checkKeys(ctx: StepContext, input: string, keys: readonly string[]): Promise<void> {
  const list = keys.map(quoteIdent).join(', ');
  const nulls = await ctx.datasets.query<{ n: number }>(
    `SELECT count(*) AS n FROM ${quoteIdent(input)} WHERE ${keys.map((key) => `${quoteIdent(key)} IS NULL`).join(' OR ')}`,
  );
  if ((nulls[0]?.n ?? 0) > 0) {
    throw new PwError(
      'PW_INPUT_MALFORMED',
      `Dataset '${input}' has ${nulls[0]?.n} row(s) with a NULL key (${keys.join(', ')})`,
      {
        path: 'with.keys',
        hint: 'Filter or fill such rows in an earlier step; an upsert matches rows by their keys.',
      },
    );
  }
  const duplicates = await ctx.datasets.query(
    `SELECT ${list}, count(*) AS pw_n FROM ${quoteIdent(input)} GROUP BY ${list} HAVING count(*) > 1 LIMIT 1`,
  );
  const first = duplicates[0];
  if (first !== undefined) {
    const shown = keys.map((key) => `${key}=${String(first[key])}`).join(', ');
    throw new PwError(
      'PW_INPUT_MALFORMED',
      `Dataset '${input}' has ${String(first.pw_n)} rows with the key ${shown}; an upsert needs each key once`,
      {
        path: 'with.keys',
        hint: 'Keep one row per key in an earlier step (e.g. SELECT DISTINCT ON, or GROUP BY), or choose other keys.',
      },
    );
  }
}

/** Dataset column → table column name; every dataset column must exist in the table. */
function matchColumns(
  label: string,
  table: ReturnType<typeof parseTableName>,
  columns: readonly DatasetColumn[],
  existing: readonly TableColumn[],
): Map<string, string> {
  const names = new Map<string, string>();
  const missing: string[] = [];
  for (const column of columns) {
    const match =
      existing.find((candidate) => candidate.name === column.name) ??
      existing.find((candidate) => candidate.name.toLowerCase() === column.name.toLowerCase());
    if (match === undefined) missing.push(column.name);
    else names.set(column.name, match.name);
  }
  if (missing.length > 0) {
    throw new PwError(
      'PW_INPUT_MALFORMED',
      `${label}: table ${showTable(table)} has no column${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`,
      {
        path: 'with.input',
        expected: `columns of ${showTable(table)}: ${existing.map((column) => column.name).join(', ')}`,
        found: missing.join(', '),
        hint: 'Select only the table’s columns (and rename them) in an earlier sql step, or add the columns to the table.',
      },
    );
  }
  return names;
}
