/**
 * PostgreSQL specifics of the state store: a `pg` pool set up for a long-running service (bounded size,
 * statement timeout, int8 read as numbers on this pool only), a small Kysely driver over it that retries
 * transient connection loss where repeating is safe, URL redaction, and SQLSTATE codes turned into advice.
 * The mirror of sqlite/sqlite-dialect.ts; queries and migrations are shared in kysely-store.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  CompiledQuery,
  PostgresDialect,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';
import type { DialectSupport } from '../kysely-store.js';

/** Shown in `pg_stat_activity`, so a DBA can tell Pipewright's sessions apart. */
export const POSTGRES_APPLICATION_NAME = 'pipewright';
/**
 * Session advisory-lock key held while migrating: 'pipewrig' in ASCII, distinct from Kysely's own key.
 * In `pg_locks` it appears as classid 1885958245, objid 2003986791.
 */
export const POSTGRES_MIGRATION_LOCK_KEY = '8100128985900542311';
/** A transaction left open this long (a hung process) is ended by the server, releasing its row locks. */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
const INT8_OID = 20;

export interface PostgresConnectionSettings {
  poolSize: number;
  /** Server-side limit per statement, 0 for none. */
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  retry: RetryPolicy;
}

export interface RetryPolicy {
  /** Further attempts after the first failure. */
  retries: number;
  /** Delay before the first retry; doubled for each further one (with jitter). */
  delayMs: number;
}

/** The password (in the user-info part or a `password=` parameter) replaced by `***`. */
export function redactPostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    // Not parseable as a URL (several hosts, stray characters): redact by shape instead.
    return url.replace(/^([^:]+:\/\/[^:@/]*):[^@]*@/, '$1:***@').replace(/(password=)[^&]*/gi, '$1***');
  }
}

/** Connection settings shared by the pool and the dedicated migration-lock connection. */
export function postgresClientConfig(
  url: string,
  settings: Pick<PostgresConnectionSettings, 'statementTimeoutMs' | 'connectTimeoutMs'>,
): pg.ClientConfig {
  // int8 (bigint, count(*)) arrives as text by default; parse it here on this configuration's own type
  // table, so other users of `pg` in the same process keep the library's behaviour.
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, parseInt8);
  return {
    connectionString: url,
    application_name: POSTGRES_APPLICATION_NAME,
    statement_timeout: settings.statementTimeoutMs,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    keepAlive: true,
    types,
  };
}

/** A number when it is exact; beyond 2^53 the text is kept rather than silently rounded. */
function parseInt8(text: string): number | string {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : text;
}

export function createPostgresPool(url: string, settings: PostgresConnectionSettings): pg.Pool {
  const pool = new pg.Pool({ ...postgresClientConfig(url, settings), max: settings.poolSize });
  // An idle connection closed by the server (restart, pg_terminate_backend) is reported here after the
  // pool has dropped it; the next query opens a new one. Without a listener Node would treat the event as
  // an uncaught error and stop the whole process.
  pool.on('error', () => undefined);
  return pool;
}

/** Kysely's PostgreSQL dialect (compiler, adapter, introspector) with the retrying driver below. */
export function createPostgresDialect(pool: pg.Pool, retry: RetryPolicy): PostgresDialect {
  return new StorePostgresDialect(pool, retry);
}

class StorePostgresDialect extends PostgresDialect {
  readonly #pool: pg.Pool;
  readonly #retry: RetryPolicy;

  constructor(pool: pg.Pool, retry: RetryPolicy) {
    super({ pool });
    this.#pool = pool;
    this.#retry = retry;
  }

  override createDriver(): Driver {
    return new PostgresStoreDriver(this.#pool, this.#retry);
  }
}

/**
 * Connecting is always safe to repeat: nothing was sent yet. A statement that failed because its
 * connection died is repeated only when it is a plain SELECT outside a transaction (the store's reads);
 * a write may have committed before the connection broke, so it fails and its caller decides.
 */
class PostgresStoreDriver implements Driver {
  readonly #pool: pg.Pool;
  readonly #retry: RetryPolicy;
  #ended = false;

  constructor(pool: pg.Pool, retry: RetryPolicy) {
    this.#pool = pool;
    this.#retry = retry;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const connect = (): Promise<pg.PoolClient> =>
      withConnectionRetry(this.#retry, () => this.#pool.connect());
    return new PostgresStoreConnection(await connect(), connect, this.#retry);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const store = asStoreConnection(connection);
    let text =
      settings.isolationLevel === undefined
        ? 'begin'
        : `start transaction isolation level ${settings.isolationLevel}`;
    if (settings.accessMode !== undefined) {
      text = `${text === 'begin' ? 'start transaction' : text} ${settings.accessMode}`;
    }
    store.inTransaction = true;
    await store.executeQuery(CompiledQuery.raw(text));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const store = asStoreConnection(connection);
    try {
      await store.executeQuery(CompiledQuery.raw('commit'));
    } finally {
      store.inTransaction = false;
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const store = asStoreConnection(connection);
    try {
      // The server rolls back by itself when the session ends, so a lost connection needs nothing more.
      if (!store.broken) await store.executeQuery(CompiledQuery.raw('rollback'));
    } finally {
      store.inTransaction = false;
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    asStoreConnection(connection).release();
  }

  async destroy(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#pool.end();
  }
}

function asStoreConnection(connection: DatabaseConnection): PostgresStoreConnection {
  if (connection instanceof PostgresStoreConnection) return connection;
  throw new Error('The PostgreSQL state-store driver was handed a connection it did not create');
}

class PostgresStoreConnection implements DatabaseConnection {
  inTransaction = false;
  #client: pg.PoolClient | undefined;
  #lost: Error | undefined;
  readonly #reconnect: () => Promise<pg.PoolClient>;
  readonly #retry: RetryPolicy;

  constructor(client: pg.PoolClient, reconnect: () => Promise<pg.PoolClient>, retry: RetryPolicy) {
    this.#reconnect = reconnect;
    this.#retry = retry;
    this.#adopt(client);
  }

  /**
   * A checked-out client whose server goes away emits 'error' besides failing its query; the pool only
   * listens while the client is idle, so without this listener the process would die of it.
   */
  readonly #onClientError = (error: Error): void => {
    this.#lost ??= error;
  };

  #adopt(client: pg.PoolClient): void {
    client.on('error', this.#onClientError);
    this.#client = client;
  }

  #disown(): pg.PoolClient | undefined {
    const client = this.#client;
    this.#client = undefined;
    client?.off('error', this.#onClientError);
    return client;
  }

  get broken(): boolean {
    return this.#lost !== undefined;
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    for (let failures = 0; ; failures++) {
      const client = this.#client;
      if (client === undefined || this.#lost !== undefined) {
        throw this.#lost ?? new Error('The state-store connection was already released');
      }
      try {
        const result = await client.query(compiled.sql, [...compiled.parameters]);
        const counted = ['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(result.command);
        return {
          rows: result.rows as R[],
          ...(counted ? { numAffectedRows: BigInt(result.rowCount ?? 0) } : {}),
        };
      } catch (error) {
        const cause = normalizeDriverError(error);
        if (!isTransientConnectionError(cause)) throw cause;
        this.#discard(cause instanceof Error ? cause : new Error(String(cause)));
        const repeatable =
          !this.inTransaction && compiled.query.kind === 'SelectQueryNode' && failures < this.#retry.retries;
        if (!repeatable)
          throw failures === 0 ? cause : annotate(cause, `gave up after ${failures + 1} attempts`);
        await delay(backoffMs(this.#retry, failures));
        // If reconnecting fails too, the connection stays lost and that error reaches the caller.
        this.#adopt(await this.#reconnect());
        this.#lost = undefined;
      }
    }
  }

  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    const iterator: AsyncIterableIterator<QueryResult<R>> = {
      next: () => Promise.reject(new Error('The PostgreSQL state store does not stream query results')),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  release(): void {
    const client = this.#disown();
    // A client that lost its server goes back with the error, so the pool closes it.
    client?.release(this.#lost);
  }

  /** Hands a dead connection back with its error, so the pool closes it instead of lending it again. */
  #discard(error: Error): void {
    this.#lost = error;
    this.#disown()?.release(error);
  }
}

/** Runs `attempt`, repeating it after transient connection failures with exponential backoff. */
export async function withConnectionRetry<T>(policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  for (let failures = 0; ; failures++) {
    try {
      return await attempt();
    } catch (error) {
      const cause = normalizeDriverError(error);
      if (!isTransientConnectionError(cause)) throw cause;
      if (failures >= policy.retries) {
        throw failures === 0 ? cause : annotate(cause, `gave up after ${failures + 1} attempts`);
      }
      await delay(backoffMs(policy, failures));
    }
  }
}

function backoffMs(policy: RetryPolicy, failures: number): number {
  // ±25 % jitter keeps several workers that lost the server together from reconnecting in lockstep.
  return Math.round(policy.delayMs * 2 ** failures * (0.75 + Math.random() * 0.5));
}

const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down). */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03']);
/** What `pg` says when the socket closes under a live client; these errors carry no code. */
const LOST_CONNECTION_MESSAGES = [/^Connection terminated unexpectedly/, /not queryable/];

/**
 * The connection was refused, reset or closed by the server: worth trying again shortly. A connect
 * timeout is not included — it already waited, and repeating it would multiply a long wait.
 */
export function isTransientConnectionError(error: unknown): boolean {
  if (error instanceof AggregateError && error.errors.some(isTransientConnectionError)) return true;
  const code = errorCode(error);
  if (TRANSIENT_SOCKET_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) {
    return true;
  }
  return error instanceof Error && LOST_CONNECTION_MESSAGES.some((pattern) => pattern.test(error.message));
}

/**
 * Gives errors a message worth printing and drops what must not travel: Node reports a refused
 * connection to a name with several addresses as an AggregateError with an empty message, and an
 * invalid URL error carries the whole URL — password included — in its `input` property.
 */
export function normalizeDriverError(error: unknown): unknown {
  const code = errorCode(error);
  if (code === 'ERR_INVALID_URL') {
    return withCode(new Error('the state URL is not a valid PostgreSQL URL'), code);
  }
  if (error instanceof AggregateError && error.message === '') {
    const inner = error.errors.map((each) => (each instanceof Error ? each.message : String(each)));
    return withCode(new Error([...new Set(inner)].join('; '), { cause: error }), code);
  }
  return error;
}

function annotate(error: unknown, note: string): unknown {
  if (!(error instanceof Error)) return error;
  return withCode(new Error(`${error.message} (${note})`, { cause: error }), errorCode(error));
}

function withCode(error: Error, code: string): Error {
  return code === '' ? error : Object.assign(error, { code });
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return '';
}

export const postgresDialectSupport: DialectSupport = {
  name: 'postgres',
  isUnreachable: (error) => isTransientConnectionError(error),
  isWriteConflict(error) {
    // unique_violation (another writer took the key), serialization_failure, deadlock_detected: the
    // transaction was rolled back whole, so running it again is safe.
    return ['23505', '40001', '40P01'].includes(errorCode(error));
  },
  hintFor(error) {
    const code = errorCode(error);
    const message = error instanceof Error ? error.message : '';
    if (code === '28P01' || code === '28000') {
      return (
        'PostgreSQL refused the login: check the user name and password in the `state` URL (or ' +
        'PIPEWRIGHT_STATE_URL), that the role exists, and that pg_hba.conf admits this host and database.'
      );
    }
    if (code === '3D000') {
      return (
        'The database named in the URL does not exist on that server: create it (`createdb NAME` or ' +
        '`CREATE DATABASE NAME`) or correct the name after the last / of the URL.'
      );
    }
    if (code === 'ECONNREFUSED') {
      return (
        'Nothing accepted the connection at that host and port: start PostgreSQL (check with ' +
        '`pg_isready -h HOST -p PORT`) or correct the host and port in the URL.'
      );
    }
    if (code === 'ENOTFOUND') return 'The host name in the URL does not resolve: check its spelling and DNS.';
    if (code === 'ERR_INVALID_URL') {
      return 'Write the URL as postgres://USER:PASSWORD@HOST:PORT/DATABASE, percent-encoding special characters in the password.';
    }
    if (/connection timeout/.test(message)) {
      return 'PostgreSQL did not answer in time: check the host, the port and any firewall between them.';
    }
    if (/timeout exceeded when trying to connect/.test(message)) {
      return 'Every pooled connection stayed busy: raise the pool size or look for slow statements.';
    }
    if (code === '57014') {
      return 'A statement ran past the statement timeout: look for locks held by other sessions (pg_locks) or raise the timeout.';
    }
    if (code === '42501') {
      return (
        'The user may not create or change the store tables: use the database owner, or grant CREATE on ' +
        'the schema (since PostgreSQL 15 ordinary users cannot create tables in `public`).'
      );
    }
    if (code === '53300') {
      return 'The server has no free connection slots: lower the pool size of the Pipewright processes or raise max_connections.';
    }
    if (code === '23503') {
      return 'A record refers to a run or pipeline revision that is not in the store; save that first.';
    }
    if (isTransientConnectionError(error)) {
      return (
        'The connection to PostgreSQL was lost (server restart, network failure or an ended session) and ' +
        'retrying did not help: check that the server is up, then retry. Writes are not repeated ' +
        'automatically, so check whether the last change took effect.'
      );
    }
    return undefined;
  },
};
