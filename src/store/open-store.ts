/**
 * Chooses the state-store adapter from the `state` setting: a PostgreSQL URL or a SQLite file path
 * (relative paths are resolved against the project folder, so the CLI works from any directory).
 *
 * Precedence: the PIPEWRIGHT_STATE_URL environment variable, when set and not empty, wins over `state:`
 * in pipewright.yaml. A deployment can then point a checked-in project at its own database, and keep the
 * database password out of the project folder.
 */
import { isAbsolute, resolve } from 'node:path';
import { openSqliteStore } from './sqlite/open-sqlite-store.js';
import type { StateStore } from './state-store.js';

export const STATE_URL_ENV = 'PIPEWRIGHT_STATE_URL';

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;

export async function openStateStore(
  location: string,
  projectDir: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<StateStore> {
  const override = env[STATE_URL_ENV]?.trim();
  const effective = override === undefined || override === '' ? location : override;
  if (POSTGRES_URL.test(effective)) {
    // Loaded on demand: the embedded default never pays for the PostgreSQL driver at start-up.
    const { openPostgresStore } = await import('./postgres/open-postgres-store.js');
    return openPostgresStore(effective);
  }
  if (effective === ':memory:') return openSqliteStore(effective);
  return openSqliteStore(isAbsolute(effective) ? effective : resolve(projectDir, effective));
}
