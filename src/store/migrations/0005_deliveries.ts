/**
 * The deliveries ledger: every message the `email` and `webhook` steps and the pipeline notifications
 * (`on_failure`, `on_success`, the `expect` dead-man check) tried to send, with where it went, its
 * message id, how it ended and after how many attempts. `run_id` is empty for a dead-man notice (no
 * run exists then) and `step_id` for every notification. Dialect-neutral like 0001: times are
 * ISO-8601 UTC text.
 */
import type { Kysely } from 'kysely';
import type { MigrationContext, StoreMigration } from './index.js';

async function up(db: Kysely<unknown>, { addAutoId }: MigrationContext): Promise<void> {
  await addAutoId(db.schema.createTable('deliveries'))
    .addColumn('run_id', 'text', (col) => col.references('runs.id').onDelete('cascade'))
    .addColumn('pipeline_id', 'text', (col) => col.notNull())
    .addColumn('step_id', 'text')
    .addColumn('event', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('target', 'text', (col) => col.notNull())
    .addColumn('subject', 'text')
    .addColumn('message_id', 'text')
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull())
    .addColumn('error', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('deliveries_run_idx').on('deliveries').columns(['run_id', 'id']).execute();
  await db.schema
    .createIndex('deliveries_pipeline_idx')
    .on('deliveries')
    .columns(['pipeline_id', 'created_at'])
    .execute();
}

export const migration0005Deliveries: StoreMigration = { name: '0005_deliveries', up };
