/**
 * Test helpers for the SQL connector tests (not part of the product): throwaway PostgreSQL and MariaDB
 * databases and users with random names, dropped when the importing test file ends; a server that
 * accepts connections and never answers (connect timeouts); a relay whose connections can be cut
 * (a network failure mid-query); and a fake server that offers TLS with a
 * self-signed certificate, made with the openssl command (certificate verification failures).
 *
 * PostgreSQL is at PIPEWRIGHT_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)
 * and MariaDB at PIPEWRIGHT_TEST_MARIADB_URL (default mariadb://root@127.0.0.1:3306). Outside CI a
 * missing server skips its tests, saying so; under CI=true it fails them.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { SelfSignedCertificate } from '../../testing/self-signed-certificate.js';
import { after, type TestContext } from 'node:test';
import mariadb, { type Connection as MariadbConnection } from 'mariadb';
import pg from 'pg';
import { skipOrFailInCI } from '../../testing/require-service.js';

export const PG_ADMIN_URL =
  process.env.PIPEWRIGHT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MARIADB_ADMIN_URL = process.env.PIPEWRIGHT_TEST_MARIADB_URL ?? 'mariadb://root@127.0.0.1:3306';

const prefix = `pw_sqlt_${randomBytes(3).toString('hex')}`;
let counter = 0;
/** A fresh lower-case name, unique to this test file. */
export function uniqueName(kind: string): string {
  counter += 1;
  return `${prefix}_${kind}_${counter}`;
}

/** Skips (outside CI) or fails (CI=true) a test whose server is missing. */
export function requireServer<T>(t: TestContext, server: T | string, what: string): server is T {
  if (typeof server !== 'string') return true;
  skipOrFailInCI(t, what, server);
  return false;
}

// ---- PostgreSQL ------------------------------------------------------------------------------------

export class PgServer {
  readonly #created: string[] = [];
  private constructor(readonly admin: pg.Client) {}

  static async connect(): Promise<PgServer | string> {
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
    } catch (error) {
      await admin.end().catch(() => undefined);
      return `PostgreSQL at ${PG_ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} is unreachable: ${(error as Error).message}`;
    }
    const server = new PgServer(admin);
    after(() => server.dropAll());
    return server;
  }

  get host(): string {
    return new URL(PG_ADMIN_URL).hostname;
  }

  get port(): number {
    return Number(new URL(PG_ADMIN_URL).port || 5432);
  }

  get user(): string {
    return decodeURIComponent(new URL(PG_ADMIN_URL).username || 'postgres');
  }

  url(database: string): string {
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${database}`;
    return url.toString();
  }

  async createDatabase(): Promise<string> {
    const name = uniqueName('db');
    await this.admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    this.#created.push(name);
    return name;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
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
        await this.admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      }
    } finally {
      await this.admin.end().catch(() => undefined);
    }
  }
}

// ---- MariaDB ---------------------------------------------------------------------------------------

export class MariadbServer {
  readonly #databases: string[] = [];
  readonly #users: string[] = [];
  private constructor(readonly admin: MariadbConnection) {}

  static async connect(): Promise<MariadbServer | string> {
    try {
      const admin = await mariadb.createConnection({ ...MariadbServer.adminOptions(), connectTimeout: 3000 });
      admin.on('error', () => undefined);
      const server = new MariadbServer(admin);
      after(() => server.dropAll());
      return server;
    } catch (error) {
      return `MariaDB at ${MARIADB_ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} is unreachable: ${(error as Error).message}`;
    }
  }

  static adminOptions(): { host: string; port: number; user: string; password: string } {
    const url = new URL(MARIADB_ADMIN_URL);
    return {
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username || 'root'),
      password: decodeURIComponent(url.password),
    };
  }

  async createDatabase(): Promise<string> {
    const name = uniqueName('db');
    await this.admin.query(`CREATE DATABASE \`${name}\``);
    this.#databases.push(name);
    return name;
  }

  /** A user with a password, allowed everything on `database`. */
  async createUser(database: string, password: string): Promise<string> {
    const name = uniqueName('u');
    const host = MariadbServer.adminOptions().host === '127.0.0.1' ? '%' : '%';
    await this.admin.query(`CREATE USER '${name}'@'${host}' IDENTIFIED BY ?`, [password]);
    await this.admin.query(`CREATE USER '${name}'@'localhost' IDENTIFIED BY ?`, [password]);
    await this.admin.query(`GRANT ALL ON \`${database}\`.* TO '${name}'@'${host}'`);
    await this.admin.query(`GRANT ALL ON \`${database}\`.* TO '${name}'@'localhost'`);
    this.#users.push(name);
    return name;
  }

  async query<R = unknown>(database: string, sql: string, values: unknown[] = []): Promise<R> {
    await this.admin.query(`USE \`${database}\``);
    return (await this.admin.query(sql, values)) as R;
  }

  async dropAll(): Promise<void> {
    try {
      for (const name of this.#databases) await this.admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      for (const name of this.#users) {
        await this.admin.query(`DROP USER IF EXISTS '${name}'@'%'`);
        await this.admin.query(`DROP USER IF EXISTS '${name}'@'localhost'`);
      }
    } finally {
      await this.admin.end().catch(() => undefined);
    }
  }
}

// ---- fake servers ----------------------------------------------------------------------------------

export interface FakeServer {
  port: number;
  close(): Promise<void>;
}

function listen(server: Server, sockets: Set<Socket>): Promise<FakeServer> {
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address !== null ? address.port : 0,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Accepts connections and never says a word: a client's connect timeout must end the wait. */
export function silentServer(): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  return listen(createServer(), sockets);
}

/**
 * A TCP relay to a real server whose connections can be cut on demand (`cut()` destroys both sides of
 * every relayed connection): a network failure in the middle of a query.
 */
export async function cuttableRelay(host: string, port: number): Promise<FakeServer & { cut(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listening = await listen(server, new Set());
  return {
    ...listening,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await listening.close();
    },
  };
}

/** A self-signed certificate for 127.0.0.1 and localhost, or why none can be made. */
export { trySelfSignedCertificate as selfSignedCertificate } from '../../testing/self-signed-certificate.js';

/**
 * A PostgreSQL look-alike that answers the client's SSLRequest with 'S' and completes TLS with a
 * self-signed certificate, then closes: enough for a client to fail (or pass) certificate verification.
 */
export function fakePostgresTls(certificate: SelfSignedCertificate): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    socket.once('data', () => {
      socket.write('S');
      const tls = new TLSSocket(socket, { isServer: true, cert: certificate.cert, key: certificate.key });
      tls.on('error', () => socket.destroy());
      tls.on('secure', () => setTimeout(() => tls.destroy(), 50));
    });
  });
  return listen(server, sockets);
}

/**
 * A MariaDB look-alike: sends a protocol-10 handshake offering TLS, upgrades after the client's SSL
 * request, then closes.
 */
export function fakeMariadbTls(certificate: SelfSignedCertificate): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    socket.write(mariadbHandshake());
    socket.once('data', (chunk: Buffer) => {
      // The client's SSL request is 4 + 32 bytes; its TLS ClientHello may follow in the same chunk.
      socket.pause();
      if (chunk.length > 36) socket.unshift(chunk.subarray(36));
      const tls = new TLSSocket(socket, { isServer: true, cert: certificate.cert, key: certificate.key });
      tls.on('error', () => socket.destroy());
      tls.on('secure', () => setTimeout(() => tls.destroy(), 50));
    });
  });
  return listen(server, sockets);
}

function mariadbHandshake(): Buffer {
  const CLIENT_PROTOCOL_41 = 0x200;
  const CLIENT_SSL = 0x800;
  const CLIENT_SECURE_CONNECTION = 0x8000;
  const CLIENT_PLUGIN_AUTH = 0x80000;
  const capabilities =
    0x1 | 0x4 | 0x8 | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
  const seed = randomBytes(20);
  const body = Buffer.concat([
    Buffer.from([10]),
    Buffer.from('10.11.0-fake\0', 'latin1'),
    Buffer.from([1, 0, 0, 0]),
    seed.subarray(0, 8),
    Buffer.from([0]),
    Buffer.from([capabilities & 0xff, (capabilities >> 8) & 0xff]),
    Buffer.from([45]),
    Buffer.from([2, 0]),
    Buffer.from([(capabilities >> 16) & 0xff, (capabilities >> 24) & 0xff]),
    Buffer.from([21]),
    Buffer.alloc(10),
    seed.subarray(8, 20),
    Buffer.from([0]),
    Buffer.from('mysql_native_password\0', 'latin1'),
  ]);
  const header = Buffer.from([body.length & 0xff, (body.length >> 8) & 0xff, (body.length >> 16) & 0xff, 0]);
  return Buffer.concat([header, body]);
}
