/**
 * Watched folders (pipeline `triggers: [{ watch: … }]`): the ledger of files the watcher claimed, one
 * row per arrival, and `runs.trigger_data`, the JSON a run's templates see as `trigger` (for a file:
 * `{{ trigger.file }}`). The ledger row is written before the file is moved and names the run id the
 * file's run will get, so a crash between any two steps of a claim is finished at the next start
 * without queuing twice or losing the file. Times ISO-8601 UTC text, dialect-neutral like 0001.
 */
import type { Kysely } from 'kysely';
import type { StoreMigration } from './index.js';

async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('trigger_data', 'text').execute();
  await db.schema
    .createTable('watched_files')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('pipeline_id', 'text', (col) => col.notNull())
    .addColumn('dir', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('size', 'bigint', (col) => col.notNull())
    .addColumn('mtime', 'text', (col) => col.notNull())
    .addColumn('sha256', 'text', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull())
    .addColumn('run_id', 'text', (col) => col.notNull().unique())
    .addColumn('processing_path', 'text', (col) => col.notNull())
    .addColumn('final_path', 'text')
    .addColumn('message', 'text')
    .addColumn('claimed_at', 'text', (col) => col.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema
    .createIndex('watched_files_by_dir_state')
    .on('watched_files')
    .columns(['dir', 'state'])
    .execute();
  await db.schema
    .createIndex('watched_files_by_hash')
    .on('watched_files')
    .columns(['pipeline_id', 'sha256'])
    .execute();
}

export const migration0008WatchedFiles: StoreMigration = { name: '0008_watched_files', up };
