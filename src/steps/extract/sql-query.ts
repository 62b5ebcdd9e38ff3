/**
 * The `sql.query` step: runs one query on a PostgreSQL, MariaDB or SQLite connection and streams the
 * result into the step's dataset in bounded memory (a batch of rows at a time, through a DuckDB
 * appender). Parameters are bound, never spliced. Column types map from the database's own types.
 *
 * PostgreSQL results take a bulk path when they can (`bulk: auto`): `COPY (query) TO STDOUT` as CSV,
 * read by DuckDB natively (see bulk-sink.ts), with exactly the types and values of the cursor path.
 * COPY takes no bound parameters, so a query with `params` or `incremental` streams through a cursor;
 * so does a result with a column whose text COPY's CSV does not carry exactly (arrays, unknown types).
 * The log says which path was taken and why.
 *
 * Incremental extraction (`incremental: { cursor }`): in one consistent snapshot the step reads the
 * largest cursor value above the committed mark, then exactly the rows between the mark (exclusive)
 * and that value (inclusive); the value is proposed as the new mark, which the engine commits only
 * when the run succeeds. A failed run therefore leaves the mark where it was, and the next run reads
 * the same window again. Rows whose cursor is NULL are never read incrementally.
 */
import { defineStep, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { bindNamed } from '../../connectors/sql/params.js';
import { connectForStep, type StepConnection } from '../../connectors/sql/step-support.js';
import { streamIntoDataset, type SinkResult } from '../../connectors/sql/duckdb-sink.js';
import { BulkRefused, bulkColumns, copyIntoDataset } from '../../connectors/sql/bulk-sink.js';
import type { RowStream, SqlDriver } from '../../connectors/sql/driver.js';
import { sqlQueryConfig, type SqlQueryConfig } from './sql-query-schema.js';

/** A mark as stored: the cursor column and its value as the driver returned it, with its JS type. */
interface StoredMark {
  cursor: string;
  value: { type: 'string' | 'number' | 'bigint'; value: string | number };
}

export const sqlQueryStep = defineStep({
  type: 'sql.query',
  kind: 'extract',
  description: 'Runs a query on a PostgreSQL, MariaDB or SQLite connection into the dataset.',
  config: sqlQueryConfig,
  async run(ctx, config) {
    const connection = await connectForStep(ctx, config.connection, { readOnly: true });
    try {
      const bound = bindNamed(connection.driver.dialect, trimQuery(config.query), config.params ?? {});
      if (bound.unused.length > 0) {
        ctx.log.warn(`params ${bound.unused.map((name) => `'${name}'`).join(', ')} not used by the query`);
      }
      const bindsValues = config.incremental !== undefined || bound.values.length > 0;
      if (bindsValues && connection.driver.bulkSource !== undefined && config.bulk === 'auto') {
        ctx.log.info(
          `rows stream through a cursor: COPY takes no bound values, and the query has ${config.incremental === undefined ? 'params' : 'an incremental window'}`,
        );
      }
      const bulk = bindsValues ? undefined : await tryBulk(ctx, config, connection, bound.text);
      const outcome =
        bulk !== undefined
          ? { sink: bulk, outputs: {} }
          : config.incremental === undefined
            ? { sink: await readInto(ctx, config, connection, bound.text, bound.values, 0), outputs: {} }
            : await incrementalQuery(ctx, config, connection, bound.text, bound.values);
      for (const note of outcome.sink.notes) ctx.log.warn(note);
      ctx.log.info(`${outcome.sink.rows} rows from ${connection.label.replace(/^Step '[^']*', /, '')}`);
      return {
        rows: outcome.sink.rows,
        outputs: { ...outcome.outputs, columns: outcome.sink.columns.map((column) => column.name) },
        ...(outcome.sink.notes.length > 0 ? { warnings: outcome.sink.notes } : {}),
      };
    } finally {
      await connection.driver.close();
    }
  },
});

/**
 * The result read through the driver's bulk path, or undefined when there is none or it cannot take
 * this result (then the reason is logged and rows stream through a cursor).
 */
async function tryBulk(
  ctx: StepContext,
  config: SqlQueryConfig,
  connection: StepConnection,
  sql: string,
): Promise<SinkResult | undefined> {
  const { driver } = connection;
  if (driver.bulkSource === undefined) return undefined;
  if (config.bulk === 'off') {
    ctx.log.info('rows stream through a cursor (bulk: off)');
    return undefined;
  }
  const cursor = (reason: string) => {
    ctx.log.info(`rows stream through a cursor: ${reason}`);
    return undefined;
  };
  let source;
  try {
    source = await driver.bulkSource(sql);
  } catch (error) {
    throw connection.fail(error, { phase: 'query', sql });
  }
  if (typeof source === 'string') return cursor(source);
  const columns = bulkColumns(source, config.columns ?? {}, connection.label);
  if (columns instanceof BulkRefused) return cursor(columns.reason);
  ctx.log.info('bulk path: COPY (query) TO STDOUT as CSV, read by DuckDB');
  const statement = source.statement;
  const result = await copyIntoDataset(ctx, source, columns, {
    label: connection.label,
    fail: (error) => connection.fail(error, { phase: 'query', sql: statement, lineOffset: 1 }),
  });
  if (result instanceof BulkRefused) {
    // COPY refused the statement before sending a row (a SHOW, an EXPLAIN); the server's
    // error left the connection ready for the cursor.
    return cursor(result.reason);
  }
  return result;
}

/** Trailing semicolons and blanks go, so the query can be wrapped. */
function trimQuery(query: string): string {
  return query.replace(/[\s;]+$/, '');
}

async function readInto(
  ctx: StepContext,
  config: SqlQueryConfig,
  connection: StepConnection,
  sql: string,
  values: readonly unknown[],
  lineOffset: number,
): Promise<SinkResult> {
  const overrides = new Map(Object.entries(config.columns ?? {}));
  let stream: RowStream;
  try {
    stream = await connection.driver.stream(sql, values, { batchSize: config.batch_size, overrides });
  } catch (error) {
    throw connection.fail(error, { phase: 'query', sql, lineOffset });
  }
  try {
    if (stream.columns.length === 0) {
      throw new PwError('PW_SPEC_TYPE', `${connection.label}: the statement returns no columns`, {
        path: 'with.query',
        hint: 'sql.query reads the result of a query; run statements that change data with sql.exec.',
      });
    }
    return await streamIntoDataset(
      ctx,
      withErrors(stream, connection, sql, lineOffset),
      config.columns ?? {},
      connection.label,
    );
  } finally {
    await stream.close();
  }
}

/** Driver errors while reading later batches get the same treatment as the first one's. */
function withErrors(
  stream: RowStream,
  connection: StepConnection,
  sql: string,
  lineOffset: number,
): RowStream {
  return {
    columns: stream.columns,
    next: async () => {
      try {
        return await stream.next();
      } catch (error) {
        throw connection.fail(error, { phase: 'query', sql, lineOffset });
      }
    },
    close: () => stream.close(),
  };
}

async function incrementalQuery(
  ctx: StepContext,
  config: SqlQueryConfig,
  connection: StepConnection,
  sql: string,
  values: readonly unknown[],
): Promise<{ sink: SinkResult; outputs: Record<string, unknown> }> {
  const incremental = config.incremental as NonNullable<SqlQueryConfig['incremental']>;
  const { driver } = connection;
  const stored = (await ctx.incremental.get()) as StoredMark | undefined;
  let since: unknown;
  if (stored !== undefined && stored.cursor === incremental.cursor) {
    since = stored.value.type === 'bigint' ? BigInt(stored.value.value) : stored.value.value;
  } else {
    if (stored !== undefined) {
      ctx.log.warn(
        `the cursor changed from '${stored.cursor}' to '${incremental.cursor}'; reading from the start again`,
      );
    }
    since = incremental.initial;
  }
  const cursor = `pw_q.${driver.quote(incremental.cursor)}`;
  const param = (offset: number) => driver.placeholder(values.length + offset);
  const lower = since === undefined ? '' : `${cursor} > ${param(1)}`;
  const lowerValues = since === undefined ? [] : [bindValue(driver, since)];
  const wrap = (select: string, where: string) =>
    `${select} FROM (\n${sql}\n) AS pw_q${where === '' ? '' : ` WHERE ${where}`}`;

  try {
    await driver.begin({ snapshot: true });
  } catch (error) {
    throw connection.fail(error, { phase: 'query' });
  }
  try {
    const maxSql = wrap(`SELECT max(${cursor})`, lower);
    let until: unknown;
    try {
      until = await driver.scalar(maxSql, [...values, ...lowerValues]);
    } catch (error) {
      throw connection.fail(error, {
        phase: 'query',
        what: `reading the largest ${incremental.cursor}`,
        sql: maxSql,
        lineOffset: 1,
      });
    }
    const upper = `${cursor} <= ${param(lowerValues.length + 1)}`;
    const readSql =
      until === null || until === undefined
        ? wrap('SELECT *', '1 = 0')
        : wrap('SELECT *', lower === '' ? upper : `${lower} AND ${upper}`);
    const readValues =
      until === null || until === undefined ? values : [...values, ...lowerValues, bindValue(driver, until)];
    const sink = await readInto(ctx, config, connection, readSql, readValues, 1);
    await driver.commit().catch(() => undefined);
    const outputs = {
      incremental: {
        cursor: incremental.cursor,
        since: since === undefined ? null : String(since as string),
        until: until === null || until === undefined ? null : String(until as string),
      },
    };
    if (until === null || until === undefined) {
      ctx.log.info(`no rows with ${incremental.cursor} above the mark; the mark stays`);
    } else {
      await ctx.incremental.propose({
        cursor: incremental.cursor,
        value: encodeMark(until, incremental.cursor),
      } satisfies StoredMark);
      ctx.log.info(
        `incremental window ${outputs.incremental.since ?? '(start)'} < ${incremental.cursor} <= ${outputs.incremental.until}; the mark advances when the run succeeds`,
      );
    }
    return { sink, outputs };
  } catch (error) {
    await driver.rollback().catch(() => undefined);
    throw error;
  }
}

/** A cursor value bound back into the source's own comparison (PostgreSQL gets its own text). */
function bindValue(driver: SqlDriver, value: unknown): unknown {
  return driver.dialect === 'postgres' ? String(value as string) : value;
}

function encodeMark(value: unknown, cursor: string): StoredMark['value'] {
  if (typeof value === 'bigint') return { type: 'bigint', value: value.toString() };
  if (typeof value === 'number') return { type: 'number', value };
  if (typeof value === 'string') return { type: 'string', value };
  throw new PwError(
    'PW_DB_TYPE',
    `The incremental cursor '${cursor}' holds values that are neither numbers nor text`,
    {
      path: 'with.incremental.cursor',
      hint: 'Use a column that grows with every change: a timestamp, a date or an increasing number.',
    },
  );
}
