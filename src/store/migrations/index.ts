/**
 * The ordered list of state-store migrations, served to Kysely's Migrator from code rather than by
 * scanning a folder, so the compiled package migrates wherever it is installed. Migrations receive the
 * dialect because a few column definitions (auto-generated ids) cannot be spelled the same way in both.
 */
import type { CreateTableBuilder, Kysely, Migration, MigrationProvider } from 'kysely';
import type { StoreDialect } from '../database-schema.js';
import { migration0001Initial } from './0001_initial.js';
import { migration0002RunQueue } from './0002_run_queue.js';
import { migration0003ApiTokens } from './0003_api_tokens.js';
import { migration0004Metrics } from './0004_metrics.js';
import { migration0005Deliveries } from './0005_deliveries.js';
import { migration0006IncrementalMarks } from './0006_incremental_marks.js';
import { migration0007UiSessions } from './0007_ui_sessions.js';
import { migration0008WatchedFiles } from './0008_watched_files.js';
import { migration0009InboxBatches } from './0009_inbox_batches.js';

export interface MigrationContext {
  dialect: StoreDialect;
  /** Adds `id` as an auto-generated primary key that never reuses a value (log paging relies on it). */
  addAutoId<T extends string>(table: CreateTableBuilder<T, never>): CreateTableBuilder<T, 'id'>;
}

export interface StoreMigration {
  /** Numbered `NNNN_name`; the Migrator refuses to apply them out of order. */
  name: string;
  // The schema builder does not depend on table typings, and later tables will not match today's.
  up(db: Kysely<unknown>, context: MigrationContext): Promise<void>;
}

/** Append only: released migrations are never edited or reordered. */
export const MIGRATIONS: readonly StoreMigration[] = [
  migration0001Initial,
  migration0002RunQueue,
  migration0003ApiTokens,
  migration0004Metrics,
  migration0005Deliveries,
  migration0006IncrementalMarks,
  migration0007UiSessions,
  migration0008WatchedFiles,
  migration0009InboxBatches,
];

/** Kysely's bookkeeping tables, prefixed so they do not look like ours in a shared PostgreSQL schema. */
export const MIGRATION_TABLE = 'pw_migration';
export const MIGRATION_LOCK_TABLE = 'pw_migration_lock';

function migrationContext(dialect: StoreDialect): MigrationContext {
  return {
    dialect,
    addAutoId(table) {
      // SQLite's AUTOINCREMENT keeps ids from being reused after deletes; PostgreSQL identity never reuses.
      return dialect === 'sqlite'
        ? table.addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
        : table.addColumn('id', 'bigint', (col) => col.primaryKey().generatedByDefaultAsIdentity());
    },
  };
}

export function createMigrationProvider(dialect: StoreDialect): MigrationProvider {
  const context = migrationContext(dialect);
  return {
    getMigrations() {
      const byName: Record<string, Migration> = {};
      for (const migration of MIGRATIONS) {
        byName[migration.name] = { up: (db) => migration.up(db, context) };
      }
      return Promise.resolve(byName);
    },
  };
}
