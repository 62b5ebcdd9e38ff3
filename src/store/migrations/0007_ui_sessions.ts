/**
 * Web UI sessions and the indexes the UI's lists need. A session row keeps only the sha256 of the
 * session id the browser holds in its cookie, the API token it was opened with (a revoked or deleted
 * token ends it), its CSRF token, and when it was created, when it expires at the latest (absolute
 * limit) and when it was last seen (idle limit). Dialect-neutral like 0001: times are ISO-8601 UTC text.
 *
 * Indexes: recent runs per pipeline read (pipeline_id, queued_at desc, id desc) from the index alone,
 * which makes the older (pipeline_id, queued_at) index redundant; the history filtered by pipeline and
 * status reads (pipeline_id, status, queued_at, id); the activity page reads deliveries
 * newest first, overall and failed first.
 */
import type { Kysely } from 'kysely';
import type { StoreMigration } from './index.js';

async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('ui_sessions')
    .addColumn('id_hash', 'text', (col) => col.primaryKey())
    .addColumn('token_id', 'bigint', (col) => col.notNull().references('api_tokens.id').onDelete('cascade'))
    .addColumn('csrf_token', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .addColumn('last_seen_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('ui_sessions_token_idx').on('ui_sessions').column('token_id').execute();
  await db.schema.createIndex('ui_sessions_expires_idx').on('ui_sessions').column('expires_at').execute();

  await db.schema
    .createIndex('runs_pipeline_recent_idx')
    .on('runs')
    .columns(['pipeline_id', 'queued_at', 'id'])
    .execute();
  await db.schema.dropIndex('runs_pipeline_queued_idx').execute();
  // The run history filtered by pipeline and status (a rare status must not scan the whole pipeline).
  await db.schema
    .createIndex('runs_pipeline_status_idx')
    .on('runs')
    .columns(['pipeline_id', 'status', 'queued_at', 'id'])
    .execute();

  await db.schema
    .createIndex('deliveries_created_idx')
    .on('deliveries')
    .columns(['created_at', 'id'])
    .execute();
  await db.schema
    .createIndex('deliveries_status_idx')
    .on('deliveries')
    .columns(['status', 'created_at', 'id'])
    .execute();
}

export const migration0007UiSessions: StoreMigration = { name: '0007_ui_sessions', up };
