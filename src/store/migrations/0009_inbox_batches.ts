/**
 * Batches received by inboxes (`POST /api/inboxes/<inbox>/batches`): one row per payload, recorded as
 * soon as its raw body is stored durably, then updated with how unpacking ended (stored or rejected,
 * with the error), the files it stored (JSON list) and the run it queued. Numbered 0009 because 0007
 * and 0008 are taken by work in progress elsewhere. Dialect-neutral like 0001: times are ISO-8601 UTC text.
 */
import type { Kysely } from 'kysely';
import type { StoreMigration } from './index.js';

async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('inbox_batches')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('inbox', 'text', (col) => col.notNull())
    .addColumn('received_at', 'text', (col) => col.notNull())
    .addColumn('bytes', 'bigint', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('files', 'text', (col) => col.notNull())
    .addColumn('error', 'text')
    .addColumn('run_id', 'text')
    .execute();
  await db.schema
    .createIndex('inbox_batches_inbox_idx')
    .on('inbox_batches')
    .columns(['inbox', 'received_at'])
    .execute();
}

export const migration0009InboxBatches: StoreMigration = { name: '0009_inbox_batches', up };
