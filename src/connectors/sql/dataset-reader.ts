/**
 * Reads a dataset of the run database in batches of plain JavaScript values for databases that take
 * bound rows (MariaDB batches, SQLite statements): DuckDB streams the result a data chunk at a time,
 * so only one batch is ever held in memory.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent } from '../../core/sql-identifiers.js';
import type { SqlDialect } from './config.js';
import { exportExpression, type DatasetColumn } from './duckdb-types.js';

export async function forEachBatch(
  duck: DuckDBConnection,
  dataset: string,
  columns: readonly DatasetColumn[],
  dialect: SqlDialect,
  batchSize: number,
  signal: AbortSignal,
  handle: (rows: unknown[][], firstRow: number) => Promise<void> | void,
): Promise<number> {
  const select = columns
    .map((column, index) => `${exportExpression(dialect, column)} AS ${quoteIdent(`c${index}`)}`)
    .join(', ');
  const { JSDuckDBValueConverter } = await import('@duckdb/node-api');
  const result = await duck.stream(`SELECT ${select} FROM ${dataset}`);
  let batch: unknown[][] = [];
  let total = 0;
  let first = 1;
  for (;;) {
    signal.throwIfAborted();
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    for (const row of chunk.convertRows(JSDuckDBValueConverter)) {
      batch.push(row.map(plain));
      total += 1;
      if (batch.length >= batchSize) {
        await handle(batch, first);
        first += batch.length;
        batch = [];
      }
    }
  }
  if (batch.length > 0) await handle(batch, first);
  return total;
}

/** Bytes as a Buffer (what both drivers bind as binary); everything else as DuckDB gave it. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array && !Buffer.isBuffer(value))
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return value;
}
