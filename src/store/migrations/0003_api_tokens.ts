/**
 * API tokens for the REST API: a name, a scope and the sha256 of the token (never the token itself),
 * when it was created, last used and revoked. Dialect-neutral like 0001: times are ISO-8601 UTC text.
 */
import type { Kysely } from 'kysely';
import type { MigrationContext, StoreMigration } from './index.js';

async function up(db: Kysely<unknown>, { addAutoId }: MigrationContext): Promise<void> {
  await addAutoId(db.schema.createTable('api_tokens'))
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('scope', 'text', (col) => col.notNull())
    .addColumn('hash', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
}

export const migration0003ApiTokens: StoreMigration = { name: '0003_api_tokens', up };
