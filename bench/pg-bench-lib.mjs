// Shared pieces of the PostgreSQL benchmarks (pg-load.mjs, pg-extract.mjs): the orders table's ten
// columns with their PostgreSQL and DuckDB types, a seeded PRNG, one-off queries, and the postmaster's
// process id (its process tree's CPU is the measurement's own, see treeCpuSeconds in lib.mjs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PG_ADMIN_URL } from './service-lib.mjs';

/** The orders table: PostgreSQL types, and the DuckDB types files.read reads the CSV columns as. */
export const orderColumns = [
  { name: 'id', pg: 'bigint', duck: 'BIGINT' },
  { name: 'customer_id', pg: 'integer', duck: 'INTEGER' },
  { name: 'product', pg: 'text', duck: 'VARCHAR' },
  { name: 'quantity', pg: 'integer', duck: 'INTEGER' },
  { name: 'unit_price', pg: 'numeric(10,2)', duck: 'DECIMAL(10,2)' },
  { name: 'amount', pg: 'numeric(12,2)', duck: 'DECIMAL(12,2)' },
  { name: 'status', pg: 'text', duck: 'VARCHAR' },
  { name: 'created_at', pg: 'timestamp', duck: 'TIMESTAMP' },
  { name: 'shipped_at', pg: 'timestamp', duck: 'TIMESTAMP' },
  { name: 'is_gift', pg: 'boolean', duck: 'BOOLEAN' },
];

/** A small, fast, seeded PRNG (mulberry32), so every machine benchmarks the same rows. */
export function randomSource(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs one statement on a fresh connection and returns its rows. */
export async function pgQuery(url, sql, params = []) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** The PostgreSQL server's version (`SHOW server_version`). */
export async function pgServerVersion() {
  const [row] = await pgQuery(PG_ADMIN_URL, 'SHOW server_version');
  return String(row?.server_version ?? '?');
}

/**
 * The postmaster's pid, from postmaster.pid in the data directory (readable by root or the postgres
 * user); undefined when it cannot be read, and the server's CPU then counts as other processes'.
 */
export async function postmasterPid() {
  try {
    const [row] = await pgQuery(PG_ADMIN_URL, 'SHOW data_directory');
    const pid = Number(
      readFileSync(join(String(row.data_directory), 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
