/**
 * The run queue: lease columns on runs so workers in several processes can claim runs and a lost worker's
 * run can be taken back; a cancel request a running worker picks up; a unique key on scheduled slots so
 * racing schedulers queue a slot once; and per-pipeline state (paused, invalid definition).
 * Dialect-neutral like 0001: times are ISO-8601 UTC text, flags are 0/1 integers.
 */
import { sql, type Kysely } from 'kysely';
import type { StoreMigration } from './index.js';

async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
  for (const column of ['lease_owner', 'lease_expires_at', 'cancel_requested_at']) {
    await db.schema.alterTable('runs').addColumn(column, 'text').execute();
  }

  // Claiming reads the oldest queued run (`status = 'queued' order by queued_at, id`) and counts running
  // ones; this index serves both, so the status-only index of 0001 is redundant and only slows writes.
  await db.schema.createIndex('runs_claim_idx').on('runs').columns(['status', 'queued_at', 'id']).execute();
  await db.schema.dropIndex('runs_status_idx').execute();

  // However many schedulers race or restart, a slot is queued once; manual and API runs may share an instant.
  // The literal (not a parameter) lets both dialects match `on conflict … where trigger = 'schedule'` to it.
  await db.schema
    .createIndex('runs_schedule_slot_key')
    .on('runs')
    .columns(['pipeline_id', 'scheduled_for'])
    .unique()
    .where(sql.ref('trigger'), '=', sql.lit('schedule'))
    .execute();

  // No foreign key to pipelines: a pipeline whose first file is invalid has no revision yet but has a state.
  await db.schema
    .createTable('pipeline_state')
    .addColumn('pipeline_id', 'text', (col) => col.primaryKey())
    .addColumn('paused', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('invalid_since', 'text')
    .addColumn('invalid_reason', 'text')
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();
}

export const migration0002RunQueue: StoreMigration = { name: '0002_run_queue', up };
