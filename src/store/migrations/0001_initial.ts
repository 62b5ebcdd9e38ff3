/**
 * Initial schema: pipelines and their revisions, runs, step attempts, logs, artifacts, the data-load
 * ledger and an audit trail. Dialect-neutral: times are ISO-8601 UTC text (sorts as text), JSON is text.
 */
import type { Kysely } from 'kysely';
import type { MigrationContext, StoreMigration } from './index.js';

async function up(db: Kysely<unknown>, { addAutoId }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('pipelines')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('pipeline_revisions')
    .addColumn('pipeline_id', 'text', (col) => col.notNull().references('pipelines.id'))
    .addColumn('revision', 'integer', (col) => col.notNull())
    .addColumn('hash', 'text', (col) => col.notNull())
    .addColumn('definition', 'text', (col) => col.notNull())
    .addColumn('source_path', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    // Two writers racing for the next revision number: the loser's insert fails here and retries.
    .addPrimaryKeyConstraint('pipeline_revisions_pk', ['pipeline_id', 'revision'])
    .execute();

  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('pipeline_id', 'text', (col) => col.notNull())
    .addColumn('revision', 'integer', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('trigger', 'text', (col) => col.notNull())
    .addColumn('params', 'text', (col) => col.notNull())
    .addColumn('scheduled_for', 'text', (col) => col.notNull())
    .addColumn('queued_at', 'text', (col) => col.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('attempt', 'integer', (col) => col.notNull().defaultTo(1))
    .addColumn('workspace', 'text')
    .addColumn('host', 'text')
    .addColumn('pid', 'integer')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('error_hint', 'text')
    .addColumn('error_step', 'text')
    // A run always names the exact definition it executed.
    .addForeignKeyConstraint('runs_revision_fk', ['pipeline_id', 'revision'], 'pipeline_revisions', [
      'pipeline_id',
      'revision',
    ])
    .execute();
  await db.schema
    .createIndex('runs_pipeline_queued_idx')
    .on('runs')
    .columns(['pipeline_id', 'queued_at'])
    .execute();
  await db.schema.createIndex('runs_queued_idx').on('runs').columns(['queued_at', 'id']).execute();
  await db.schema.createIndex('runs_status_idx').on('runs').column('status').execute();

  await db.schema
    .createTable('step_attempts')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('step_id', 'text', (col) => col.notNull())
    .addColumn('attempt', 'integer', (col) => col.notNull())
    .addColumn('run_attempt', 'integer', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('started_at', 'text', (col) => col.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('rows', 'bigint')
    .addColumn('bytes', 'bigint')
    .addColumn('outputs', 'text')
    .addColumn('warnings', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('error_hint', 'text')
    .addColumn('error_step', 'text')
    .addPrimaryKeyConstraint('step_attempts_pk', ['run_id', 'step_id', 'attempt'])
    .execute();

  await addAutoId(db.schema.createTable('logs'))
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('step_id', 'text')
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('level', 'text', (col) => col.notNull())
    .addColumn('message', 'text', (col) => col.notNull())
    .addColumn('data', 'text')
    .execute();
  await db.schema.createIndex('logs_run_id_idx').on('logs').columns(['run_id', 'id']).execute();

  await addAutoId(db.schema.createTable('artifacts'))
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('step_id', 'text')
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('bytes', 'bigint', (col) => col.notNull())
    .addColumn('sha256', 'text')
    .addColumn('content_type', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('deleted_at', 'text')
    .execute();
  await db.schema.createIndex('artifacts_run_idx').on('artifacts').columns(['run_id', 'id']).execute();

  await addAutoId(db.schema.createTable('data_loads'))
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('pipeline_id', 'text', (col) => col.notNull())
    .addColumn('step_id', 'text', (col) => col.notNull())
    .addColumn('target', 'text', (col) => col.notNull())
    .addColumn('source', 'text')
    .addColumn('rows', 'bigint', (col) => col.notNull())
    .addColumn('bytes', 'bigint')
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('message', 'text')
    .execute();
  await db.schema.createIndex('data_loads_run_idx').on('data_loads').columns(['run_id', 'id']).execute();
  await db.schema
    .createIndex('data_loads_pipeline_idx')
    .on('data_loads')
    .columns(['pipeline_id', 'at'])
    .execute();

  // Kept apart from runs on purpose: the audit trail outlives run retention.
  await addAutoId(db.schema.createTable('audit'))
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('actor', 'text', (col) => col.notNull())
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('subject', 'text', (col) => col.notNull())
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('audit_at_idx').on('audit').columns(['at', 'id']).execute();
}

export const migration0001Initial: StoreMigration = { name: '0001_initial', up };
