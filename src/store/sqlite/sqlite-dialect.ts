/**
 * SQLite specifics of the state store: opening a better-sqlite3 connection with the settings an
 * embedded, crash-safe store needs, handing it to Kysely, and turning SQLite error codes into advice.
 */
import Sqlite from 'better-sqlite3';
import { SqliteDialect } from 'kysely';
import type { DialectSupport } from '../kysely-store.js';

/** How long a writer waits for another process's lock before giving up (CLI and server share a file). */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

export function openSqliteDatabase(path: string): Sqlite.Database {
  const database = new Sqlite(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  try {
    // WAL lets the UI read while a run writes; NORMAL sync is durable across crashes of the process in WAL
    // mode and only risks the last commits on power loss, which is the trade embedded stores make.
    // The first statement also reads the header, so a file that is not a database fails here.
    database.pragma('journal_mode = WAL');
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    database.pragma('foreign_keys = ON');
    database.pragma('synchronous = NORMAL');
  } catch (error) {
    database.close();
    throw error;
  }
  return database;
}

export function createSqliteDialect(database: Sqlite.Database): SqliteDialect {
  return new SqliteDialect({ database });
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return '';
}

export const sqliteDialectSupport: DialectSupport = {
  name: 'sqlite',
  // A local file has no connection to lose; a locked or full file is PW_STORE with its hint.
  isUnreachable: () => false,
  isWriteConflict(error) {
    const code = errorCode(error);
    return (
      code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
      code === 'SQLITE_CONSTRAINT_UNIQUE' ||
      code.startsWith('SQLITE_BUSY')
    );
  },
  hintFor(error) {
    const code = errorCode(error);
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
      return (
        'The file is not a SQLite database or is damaged. Move it aside (keep it for inspection) or set ' +
        '`state` in pipewright.yaml to another path; a new store is created on the next start.'
      );
    }
    if (
      code.startsWith('SQLITE_CANTOPEN') ||
      code.startsWith('SQLITE_READONLY') ||
      code === 'SQLITE_PERM' ||
      code.startsWith('SQLITE_IOERR') ||
      ['EACCES', 'EPERM', 'ENOTDIR', 'EROFS', 'EEXIST'].includes(code)
    ) {
      return (
        'Check that the folder of the store exists or can be created and that this user can write to it ' +
        '(SQLite also writes -wal and -shm files beside the database).'
      );
    }
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return `Another process held the store locked for more than ${SQLITE_BUSY_TIMEOUT_MS} ms; retry, or stop the other process.`;
    }
    if (code === 'SQLITE_FULL' || code === 'ENOSPC')
      return 'The disk holding the state store is full; free space and retry.';
    if (code.startsWith('SQLITE_CONSTRAINT_FOREIGNKEY')) {
      return 'A record refers to a run or pipeline revision that is not in the store; save that first.';
    }
    return undefined;
  },
};
