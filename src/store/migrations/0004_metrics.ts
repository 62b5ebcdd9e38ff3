/**
 * What `GET /metrics` reads at scrape time: indexes that let the duration histograms read only the runs
 * and step attempts finished since the last scrape (in finish order), and a per-run count of lease
 * expiries, incremented by the statement that takes a run back from a lost worker (whichever process
 * runs it), with a partial index over the few runs that have one, so their total is cheap to read.
 * Dialect-neutral like 0001.
 */
import { sql, type Kysely } from 'kysely';
import type { StoreMigration } from './index.js';

async function up(db: Kysely<unknown>): Promise<void> {
  // Unfinished rows have a NULL finished_at; the metrics queries skip them with `finished_at >= …` or
  // `is not null`, a range of the index in both dialects.
  await db.schema.createIndex('runs_finished_idx').on('runs').columns(['finished_at', 'id']).execute();
  await db.schema
    .createIndex('step_attempts_finished_idx')
    .on('step_attempts')
    .columns(['finished_at', 'run_id', 'step_id', 'attempt'])
    .execute();

  // A constant default: neither dialect rewrites the table to add it.
  await db.schema
    .alterTable('runs')
    .addColumn('lease_expiries', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  // The literal (not a parameter) lets both dialects match `where lease_expiries > 0` to it, as in 0002.
  await db.schema
    .createIndex('runs_lease_expiries_idx')
    .on('runs')
    .column('lease_expiries')
    .where(sql.ref('lease_expiries'), '>', sql.lit(0))
    .execute();
}

export const migration0004Metrics: StoreMigration = { name: '0004_metrics', up };
