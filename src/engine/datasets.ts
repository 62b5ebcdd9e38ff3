/**
 * The `Datasets` view a step gets of the run database: plain helpers over its own connection, and an
 * atomic way to publish the step's output (replace the old dataset and build the new one in one
 * transaction).
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { ColumnInfo, Datasets, Row } from '../core/step.js';
import { quoteIdent } from '../core/sql-identifiers.js';

/** DuckDB returns BIGINT counts as bigint; JSON and templates want numbers when they fit. */
export function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  return value;
}

export function createDatasets(connection: DuckDBConnection, stepId: string): Datasets {
  const query = async <T extends Row = Row>(sql: string, values?: Record<string, unknown>): Promise<T[]> => {
    const reader = await connection.runAndReadAll(sql, values as Record<string, DuckDBValue> | undefined);
    return reader.getRowObjectsJS().map((row) => {
      const plain: Row = {};
      for (const [key, value] of Object.entries(row)) plain[key] = plainValue(value);
      return plain as T;
    });
  };

  const datasets: Datasets = {
    connection,
    async run(sql, values) {
      await connection.run(sql, values as Record<string, DuckDBValue> | undefined);
    },
    query,
    async exists(name) {
      // A dataset is a persistent table or view of the run database; temporary objects are private to a step.
      const rows = await query<{ n: number }>(
        `SELECT count(*) AS n FROM (
           SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary
           UNION ALL
           SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT temporary AND NOT internal
         ) WHERE name = $name`,
        { name },
      );
      return (rows[0]?.n ?? 0) > 0;
    },
    async rowCount(name) {
      const rows = await query<{ n: number }>(`SELECT count(*) AS n FROM ${quoteIdent(name)}`);
      return rows[0]?.n ?? 0;
    },
    async columns(name): Promise<ColumnInfo[]> {
      return query<{ name: string; type: string }>(
        "SELECT column_name AS name, data_type AS type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = $name ORDER BY column_index",
        { name },
      );
    },
    async replaceOutput(
      build: (table: string) => Promise<void>,
      options?: { countRows: false },
    ): Promise<never> {
      // One transaction: the old dataset (table or view) goes and the new one is built in its place,
      // so readers see the old or the new, never half, and a failed build leaves the old one.
      await connection.run('BEGIN TRANSACTION');
      try {
        const kinds = await query<{ kind: string }>(
          `SELECT 'TABLE' AS kind FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary AND table_name = $name
           UNION ALL
           SELECT 'VIEW' FROM duckdb_views() WHERE schema_name = 'main' AND NOT temporary AND NOT internal AND view_name = $name`,
          { name: stepId },
        );
        for (const { kind } of kinds) await connection.run(`DROP ${kind} ${quoteIdent(stepId)}`);
        await build(quoteIdent(stepId));
        await connection.run('COMMIT');
      } catch (error) {
        await connection.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
      // The overloads in Datasets tie the result type to `options`; one body serves both.
      return (options?.countRows === false ? undefined : await datasets.rowCount(stepId)) as never;
    },
  };
  return datasets;
}
