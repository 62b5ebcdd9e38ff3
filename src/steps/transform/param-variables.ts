/** Exposes run parameters to DuckDB as variables, so SQL reads them with getvariable('name'). */
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';

export async function setParamVariables(
  connection: DuckDBConnection,
  params: Readonly<Record<string, unknown>>,
): Promise<void> {
  for (const [name, value] of Object.entries(params)) {
    await connection.run(`SET VARIABLE ${quoteIdent(name)} = ${literalFor(value)}`);
  }
}

function literalFor(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'NULL';
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) return `TIMESTAMPTZ ${quoteLiteral(value.toISOString())}`;
  return quoteLiteral(String(value));
}
