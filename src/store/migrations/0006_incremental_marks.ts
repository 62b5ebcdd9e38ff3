/**
 * High-water marks for incremental extraction (`sql.query` with `incremental:`). A step proposes the
 * new mark of its run in `incremental_proposals`; when the run succeeds, its proposals become the
 * pipeline step's committed mark in `incremental_marks`, but only if the committed mark is still the
 * one the run started from (`base`). A failed run leaves its proposal behind, so a resume that
 * succeeds still commits it, and the next run re-reads the same window. Values are JSON text; times
 * ISO-8601 UTC text, dialect-neutral like 0001.
 */
import type { Kysely } from 'kysely';
import type { StoreMigration } from './index.js';

async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('incremental_marks')
    .addColumn('pipeline_id', 'text', (col) => col.notNull())
    .addColumn('step_id', 'text', (col) => col.notNull())
    .addColumn('value', 'text', (col) => col.notNull())
    .addColumn('run_id', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('incremental_marks_pk', ['pipeline_id', 'step_id'])
    .execute();
  await db.schema
    .createTable('incremental_proposals')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('step_id', 'text', (col) => col.notNull())
    .addColumn('pipeline_id', 'text', (col) => col.notNull())
    .addColumn('base', 'text')
    .addColumn('value', 'text', (col) => col.notNull())
    .addColumn('proposed_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('incremental_proposals_pk', ['run_id', 'step_id'])
    .execute();
}

export const migration0006IncrementalMarks: StoreMigration = { name: '0006_incremental_marks', up };
