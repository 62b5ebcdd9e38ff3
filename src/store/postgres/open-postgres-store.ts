/**
 * Opens the PostgreSQL state store at a `postgres://` URL and brings its schema up to date. Several
 * processes may start at once: migrating happens under a session advisory lock, so one migrates and the
 * others wait, then find nothing left to do. Any failure becomes a PW_STORE error naming the URL with its
 * password replaced by `***`.
 */
import { Kysely } from 'kysely';
import pg from 'pg';
import { PwError } from '../../core/errors/pw-error.js';
import type { Database } from '../database-schema.js';
import { KyselyStateStore, type KyselyStoreOptions } from '../kysely-store.js';
import type { StateStore } from '../state-store.js';
import {
  POSTGRES_MIGRATION_LOCK_KEY,
  createPostgresDialect,
  createPostgresPool,
  postgresClientConfig,
  postgresDialectSupport,
  redactPostgresUrl,
  withConnectionRetry,
  type PostgresConnectionSettings,
} from './postgres-dialect.js';

export interface PostgresStoreOptions {
  /** Connections this process keeps at most (default 10). */
  poolSize?: number;
  /** The server cancels a statement running longer than this (default 30 000 ms; 0 for no limit). */
  statementTimeoutMs?: number;
  /** Giving up on a connection attempt that gets no answer (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Further attempts after a refused or lost connection, for connecting and for reads (default 3). */
  retries?: number;
  /** Delay before the first of those attempts, doubled for each next one (default 200 ms). */
  retryDelayMs?: number;
  /** How long `migrate()` waits for another process that is migrating (default 60 000 ms; 0 waits indefinitely). */
  migrationLockTimeoutMs?: number;
}

export const POSTGRES_STORE_DEFAULTS = {
  poolSize: 10,
  statementTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  retries: 3,
  retryDelayMs: 200,
  migrationLockTimeoutMs: 60_000,
} as const satisfies Required<PostgresStoreOptions>;

const GENERIC_HINT = 'Check that PostgreSQL is reachable at the `state` URL, then retry.';

interface MigrationLockSettings {
  url: string;
  location: string;
  connection: PostgresConnectionSettings;
  lockTimeoutMs: number;
}

export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<StateStore> {
  const resolved = resolveOptions(options);
  const connection: PostgresConnectionSettings = {
    poolSize: resolved.poolSize,
    statementTimeoutMs: resolved.statementTimeoutMs,
    connectTimeoutMs: resolved.connectTimeoutMs,
    retry: { retries: resolved.retries, delayMs: resolved.retryDelayMs },
  };
  const location = redactPostgresUrl(url);
  const pool = createPostgresPool(url, connection);
  const store = new PostgresStateStore(
    {
      db: new Kysely<Database>({ dialect: createPostgresDialect(pool, connection.retry) }),
      dialect: postgresDialectSupport,
      location,
    },
    { url, location, connection, lockTimeoutMs: resolved.migrationLockTimeoutMs },
  );
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

class PostgresStateStore extends KyselyStateStore {
  readonly #lock: MigrationLockSettings;

  constructor(options: KyselyStoreOptions, lock: MigrationLockSettings) {
    super(options);
    this.#lock = lock;
  }

  /**
   * Kysely's migrator already serialises the migrations themselves with a transaction-scoped lock; this
   * session lock, on a connection of its own (so a pool of one cannot deadlock), also covers creating
   * the bookkeeping tables and reading which migrations ran, so concurrent starts never race at all.
   */
  override async migrate(): Promise<void> {
    const client = await this.#connectForLock();
    try {
      await this.#takeLock(client);
      try {
        await super.migrate();
      } finally {
        // Ending the session below releases the lock as well, should this statement fail.
        await client
          .query('select pg_advisory_unlock($1::bigint)', [POSTGRES_MIGRATION_LOCK_KEY])
          .catch(() => undefined);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #connectForLock(): Promise<pg.Client> {
    const { url, connection, lockTimeoutMs } = this.#lock;
    // The statement timeout of this session bounds the wait for the lock.
    const config = postgresClientConfig(url, { ...connection, statementTimeoutMs: lockTimeoutMs });
    try {
      return await withConnectionRetry(connection.retry, async () => {
        const client = new pg.Client(config);
        // A session that dies while idle reports here; the next statement on it fails and says why.
        client.on('error', () => undefined);
        await client.connect();
        return client;
      });
    } catch (error) {
      throw this.#failure('connect to migrate', error);
    }
  }

  async #takeLock(client: pg.Client): Promise<void> {
    try {
      await client.query('select pg_advisory_lock($1::bigint)', [POSTGRES_MIGRATION_LOCK_KEY]);
    } catch (error) {
      const waitedTooLong =
        typeof error === 'object' && error !== null && 'code' in error && error.code === '57014';
      throw this.#failure('take the migration lock', error, {
        hint: waitedTooLong
          ? `Another process has been migrating this store for more than ${this.#lock.lockTimeoutMs} ms. Find it with ` +
            "`select pid, application_name from pg_stat_activity join pg_locks using (pid) where locktype = 'advisory' " +
            'and classid = 1885958245 and objid = 2003986791`, and stop it if it hangs.'
          : undefined,
      });
    }
  }

  #failure(operation: string, cause: unknown, details: { hint?: string | undefined } = {}): PwError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new PwError('PW_STORE', `State store ${this.#lock.location}: could not ${operation}: ${reason}`, {
      hint: details.hint ?? postgresDialectSupport.hintFor(cause) ?? GENERIC_HINT,
      cause,
    });
  }
}

function resolveOptions(options: PostgresStoreOptions): Required<PostgresStoreOptions> {
  const resolved = { ...POSTGRES_STORE_DEFAULTS, ...dropUndefined(options) };
  const limits: Record<keyof PostgresStoreOptions, [number, number]> = {
    poolSize: [1, 1000],
    statementTimeoutMs: [0, 2_147_483_647],
    connectTimeoutMs: [1, 2_147_483_647],
    retries: [0, 20],
    retryDelayMs: [0, 60_000],
    migrationLockTimeoutMs: [0, 2_147_483_647],
  };
  for (const [key, [min, max]] of Object.entries(limits) as [
    keyof PostgresStoreOptions,
    [number, number],
  ][]) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new PwError('PW_INTERNAL', `Invalid PostgreSQL store option ${key}`, {
        expected: `a whole number from ${min} to ${max}`,
        found: String(value),
        hint: 'This is a bug in the caller of openPostgresStore.',
      });
    }
  }
  return resolved;
}

function dropUndefined(options: PostgresStoreOptions): PostgresStoreOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}
