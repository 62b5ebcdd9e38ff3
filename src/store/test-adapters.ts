/**
 * The state-store adapters every store test file runs its contract against: SQLite in a scratch folder,
 * and PostgreSQL at PIPEWRIGHT_TEST_POSTGRES_URL (default 127.0.0.1:5432) with a fresh database per test,
 * cloned from a template migrated once per test file. Importing this module registers the clean-up of
 * both with the importing test file; it is a helper for tests, not part of the store.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';
import pg from 'pg';
import { openPostgresStore } from './postgres/open-postgres-store.js';
import { normalizeDriverError, redactPostgresUrl } from './postgres/postgres-dialect.js';
import { openSqliteStore } from './sqlite/open-sqlite-store.js';
import type { StateStore } from './state-store.js';
import { skipOrFailInCI } from '../testing/require-service.js';

export interface AdapterFactory {
  name: string;
  /** A fresh, empty, migrated store for each test. */
  open(): Promise<StateStore>;
  /** Opens the store the last `open()` created again, to prove data survives a restart. */
  reopen(): Promise<StateStore>;
  /** Where the last `open()` created its store (a file path or a URL), for opening it in another process. */
  location(): string;
}

/** A folder for this test file's stores, removed when the file's tests end. */
export const scratch = mkdtempSync(join(tmpdir(), 'pw-store-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let sqliteCounter = 0;
let sqlitePath = '';
/** SQLite always; PostgreSQL appended below when its server answers. */
export const ADAPTERS: AdapterFactory[] = [
  {
    name: 'sqlite',
    open: () => {
      sqliteCounter += 1;
      sqlitePath = join(scratch, `case-${sqliteCounter}`, 'state.db');
      return openSqliteStore(sqlitePath);
    },
    reopen: () => openSqliteStore(sqlitePath),
    location: () => sqlitePath,
  },
];

// ---- PostgreSQL: a fresh database per test, cloned from a template migrated once per test file --------

/** The server for the PostgreSQL suites: a role that may create databases. */
export const PG_ADMIN_URL =
  process.env.PIPEWRIGHT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export class PostgresTestServer {
  readonly #admin: pg.Client;
  readonly #adminUrl: string;
  /** Random per test file, so files running in parallel never share a database. */
  readonly #prefix = `pw_test_${randomBytes(4).toString('hex')}`;
  readonly #created: string[] = [];
  #template: Promise<string> | undefined;

  private constructor(admin: pg.Client, adminUrl: string) {
    this.#admin = admin;
    this.#adminUrl = adminUrl;
  }

  /** The server, or why it cannot be used. */
  static async connect(adminUrl: string): Promise<PostgresTestServer | string> {
    const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
      await admin.query('select 1');
    } catch (error) {
      await admin.end().catch(() => undefined);
      const cause = normalizeDriverError(error);
      return `${redactPostgresUrl(adminUrl)} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`;
    }
    return new PostgresTestServer(admin, adminUrl);
  }

  /** The admin URL pointed at another database, user, password or port. */
  url(database: string, change: { user?: string; password?: string; port?: number } = {}): string {
    const url = new URL(this.#adminUrl);
    url.pathname = `/${database}`;
    if (change.user !== undefined) url.username = change.user;
    if (change.password !== undefined) url.password = change.password;
    if (change.port !== undefined) {
      url.hostname = this.host;
      url.port = String(change.port);
    }
    return url.toString();
  }

  get host(): string {
    return new URL(this.#adminUrl).hostname || '127.0.0.1';
  }

  get port(): number {
    return Number(new URL(this.#adminUrl).port || 5432);
  }

  /** A new database with no tables; returns its name. */
  async emptyDatabase(template?: string): Promise<string> {
    const name = `${this.#prefix}_${this.#created.length + 1}`;
    this.#created.push(name);
    const from = template === undefined ? '' : ` template ${pg.escapeIdentifier(template)}`;
    await this.#admin.query(`create database ${pg.escapeIdentifier(name)}${from}`);
    return name;
  }

  /** A new database with every migration applied, cloned from a template migrated once. */
  async migratedDatabase(): Promise<string> {
    this.#template ??= (async () => {
      const template = await this.emptyDatabase();
      const store = await openPostgresStore(this.url(template));
      await store.close();
      return template;
    })();
    return this.emptyDatabase(await this.#template);
  }

  async query<R extends pg.QueryResultRow>(
    database: string,
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url(database) });
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  async dropAll(): Promise<void> {
    try {
      for (const name of this.#created.reverse()) {
        await this.#admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
      }
    } finally {
      await this.#admin.end();
    }
  }
}

/** The server, or why the PostgreSQL suites cannot run. */
export const postgres = await PostgresTestServer.connect(PG_ADMIN_URL);

/** Outside CI a missing server skips the PostgreSQL suites, saying so; under CI it fails them. */
export function reportPostgresUnavailable(t: TestContext, reason: string): void {
  skipOrFailInCI(t, 'PostgreSQL', reason);
}

let postgresDatabase = '';
if (typeof postgres !== 'string') {
  after(() => postgres.dropAll());
  ADAPTERS.push({
    name: 'postgres',
    open: async () => {
      postgresDatabase = await postgres.migratedDatabase();
      return openPostgresStore(postgres.url(postgresDatabase));
    },
    reopen: () => openPostgresStore(postgres.url(postgresDatabase)),
    location: () => postgres.url(postgresDatabase),
  });
}
