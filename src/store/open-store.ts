/**
 * Chooses the state-store adapter from the `state` setting: a PostgreSQL URL or a SQLite file path
 * (relative paths are resolved against the project folder, so the CLI works from any directory).
 */
import { isAbsolute, resolve } from 'node:path';
import { PwError } from '../core/errors/pw-error.js';
import { openSqliteStore } from './sqlite/open-sqlite-store.js';
import type { StateStore } from './state-store.js';

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;

export async function openStateStore(location: string, projectDir: string): Promise<StateStore> {
  if (POSTGRES_URL.test(location)) {
    // The URL may carry a password, so it is not repeated in the message.
    throw new PwError('PW_STORE', 'PostgreSQL state store is not available yet', {
      hint: 'Remove `state` from pipewright.yaml (or set it to a file path such as .pipewright/state.db) to use the embedded SQLite store.',
    });
  }
  if (location === ':memory:') return openSqliteStore(location);
  return openSqliteStore(isAbsolute(location) ? location : resolve(projectDir, location));
}
