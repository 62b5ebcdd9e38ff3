/**
 * Opens (creating when missing) the embedded SQLite state store and brings its schema up to date.
 * Any failure — unwritable folder, a file that is not a database, a failed migration — becomes a
 * PW_STORE error naming the path, never a raw driver stack.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Sqlite from 'better-sqlite3';
import { Kysely } from 'kysely';
import { PwError } from '../../core/errors/pw-error.js';
import type { Database } from '../database-schema.js';
import { KyselyStateStore } from '../kysely-store.js';
import type { StateStore } from '../state-store.js';
import { createSqliteDialect, openSqliteDatabase, sqliteDialectSupport } from './sqlite-dialect.js';

/** `path` is a file path (its folder is created) or `:memory:` for a private in-memory store. */
export async function openSqliteStore(path: string): Promise<StateStore> {
  const opened = openOrExplain(path);
  const store = new KyselyStateStore({
    db: new Kysely<Database>({ dialect: createSqliteDialect(opened) }),
    dialect: sqliteDialectSupport,
    location: path,
    // Kysely only closes a connection it has used; closing twice is harmless in better-sqlite3.
    onClose: () => {
      opened.close();
    },
  });
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

function openOrExplain(path: string): Sqlite.Database {
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    return openSqliteDatabase(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PwError('PW_STORE', `Cannot open the state store at ${path}: ${reason}`, {
      hint: sqliteDialectSupport.hintFor(error) ?? 'Check the `state` path in pipewright.yaml.',
      cause: error,
    });
  }
}
