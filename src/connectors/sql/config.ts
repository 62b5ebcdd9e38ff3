/**
 * SQL connections of pipewright.yaml (`type: postgres | mariadb | sqlite`) and how they become the
 * settings a driver connects with. A server connection is a `url` or host/port/user/password/database
 * (fields given beside a `url` override its parts), TLS under `ssl:` with verification on by default,
 * and a connect timeout (default 10 s). A SQLite connection is a file path relative to the project.
 *
 * Nothing here prints a password: `describeConnection` names user, host, port and database only, and
 * `maskUrlPasswords` masks the user-info password of any URL in a text.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import { durationSchema } from '../../core/spec/pipeline-schema.js';
import { parseDuration } from '../../core/duration.js';
import type { ConnectionConfig } from '../../core/step.js';

export const SQL_CONNECTION_TYPES = ['postgres', 'mariadb', 'sqlite'] as const;
export type SqlDialect = (typeof SQL_CONNECTION_TYPES)[number];

export const DEFAULT_CONNECT_TIMEOUT = '10s';
const DEFAULT_PORTS: Readonly<Record<'postgres' | 'mariadb', number>> = { postgres: 5432, mariadb: 3306 };

const tlsSchema = z
  .strictObject({
    ca_file: z
      .string()
      .min(1)
      .optional()
      .describe('PEM file of the certificate authority to trust (a private CA or a self-signed server).'),
    cert_file: z.string().min(1).optional().describe('PEM client certificate, for servers that ask for one.'),
    key_file: z.string().min(1).optional().describe('PEM private key of cert_file.'),
    verify: z
      .boolean()
      .default(true)
      .describe('Verify the server certificate and that it names the host (default true).'),
  })
  .refine((value) => (value.cert_file === undefined) === (value.key_file === undefined), {
    message: 'give both cert_file and key_file, or neither',
    path: ['key_file'],
  });

function serverSchema<T extends 'postgres' | 'mariadb'>(type: T) {
  return z.strictObject({
    type: z.literal(type),
    url: z
      .string()
      .min(1)
      .optional()
      .describe(
        type === 'postgres'
          ? 'postgres://user:password@host:5432/database?sslmode=verify-full; usually "${env:…}".'
          : 'mariadb://user:password@host:3306/database (mysql:// works too); usually "${env:…}".',
      ),
    host: z.string().min(1).optional().describe('Server host name or address (instead of url).'),
    port: z.int().min(1).max(65535).optional().describe(`Server port (default ${DEFAULT_PORTS[type]}).`),
    user: z.string().min(1).optional().describe('Login name.'),
    password: z.string().optional().describe('Login password; write it as a secret reference.'),
    database: z.string().min(1).optional().describe('Database (schema for MariaDB) to connect to.'),
    ssl: z
      .union([z.boolean(), tlsSchema])
      .optional()
      .describe('TLS: true (verify against the system CAs), or { ca_file, cert_file, key_file, verify }.'),
    connect_timeout: durationSchema
      .default(DEFAULT_CONNECT_TIMEOUT)
      .describe('How long connecting and logging in may take (default 10s).'),
  });
}

const sqliteSchema = z.strictObject({
  type: z.literal('sqlite'),
  path: z.string().min(1).describe('The database file, relative to the project folder.'),
  busy_timeout: durationSchema
    .default(DEFAULT_CONNECT_TIMEOUT)
    .describe('How long to wait for a lock another process holds (default 10s).'),
});

const SCHEMAS = {
  postgres: serverSchema('postgres'),
  mariadb: serverSchema('mariadb'),
  sqlite: sqliteSchema,
} as const;

export interface TlsSettings {
  verify: boolean;
  /** PEM texts read from the files. */
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface ServerSettings {
  dialect: 'postgres' | 'mariadb';
  name: string;
  host: string;
  port: number;
  user: string | undefined;
  password: string | undefined;
  database: string | undefined;
  tls: TlsSettings | undefined;
  connectTimeoutMs: number;
}

export interface SqliteSettings {
  dialect: 'sqlite';
  name: string;
  /** Absolute path of the database file. */
  path: string;
  /** The path as shown in messages (relative to the project when inside it). */
  display: string;
  busyTimeoutMs: number;
}

export type SqlSettings = ServerSettings | SqliteSettings;

function invalid(name: string, type: string, field: string, message: string): PwError {
  return new PwError(
    'PW_SPEC_TYPE',
    `Connection '${name}' is not a valid ${type} connection: ${field ? `${field}: ` : ''}${message}`,
    {
      path: `connections.${name}${field ? `.${field}` : ''}`,
      expected:
        type === 'sqlite'
          ? 'type: sqlite with path'
          : `type: ${type} with url, or host (and port, user, password, database), optionally ssl and connect_timeout`,
      hint: 'See docs/reference/connections.md.',
    },
  );
}

/** Validates a resolved connection and turns it into driver settings (reading TLS files). */
export function sqlSettings(name: string, raw: ConnectionConfig, projectDir: string): SqlSettings {
  const type = raw.type as SqlDialect;
  const schema = SCHEMAS[type] as z.ZodType | undefined;
  if (schema === undefined) {
    throw invalid(name, raw.type, 'type', `expected one of ${SQL_CONNECTION_TYPES.join(', ')}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(name, type, issue?.path.join('.') ?? '', issue?.message ?? 'invalid');
  }
  if (type === 'sqlite') {
    const config = parsed.data as z.output<typeof sqliteSchema>;
    const path = isAbsolute(config.path) ? config.path : resolve(projectDir, config.path);
    const inside = relative(projectDir, path);
    return {
      dialect: 'sqlite',
      name,
      path,
      display: inside.startsWith('..') || isAbsolute(inside) ? path : inside,
      busyTimeoutMs: parseDuration(config.busy_timeout) ?? 10_000,
    };
  }
  return serverSettings(name, type, parsed.data as z.output<ReturnType<typeof serverSchema>>, projectDir);
}

function serverSettings(
  name: string,
  dialect: 'postgres' | 'mariadb',
  config: z.output<ReturnType<typeof serverSchema>>,
  projectDir: string,
): ServerSettings {
  const fromUrl = config.url === undefined ? undefined : parseServerUrl(name, dialect, config.url);
  if (fromUrl !== undefined && config.host !== undefined) {
    throw invalid(name, dialect, 'host', 'give url or host, not both');
  }
  const host = config.host ?? fromUrl?.host;
  if (host === undefined) throw invalid(name, dialect, 'host', 'give url or host');
  if (fromUrl?.sslmode === 'disable' && config.ssl !== undefined && config.ssl !== false) {
    throw invalid(name, dialect, 'ssl', 'the url says sslmode=disable');
  }
  const tlsConfig =
    config.ssl === undefined
      ? fromUrl?.sslmode !== undefined && fromUrl.sslmode !== 'disable'
        ? { verify: true, ca_file: fromUrl.sslrootcert }
        : undefined
      : config.ssl === false
        ? undefined
        : config.ssl === true
          ? { verify: true, ca_file: fromUrl?.sslrootcert }
          : { ...config.ssl, ca_file: config.ssl.ca_file ?? fromUrl?.sslrootcert };
  return {
    dialect,
    name,
    host,
    port: config.port ?? fromUrl?.port ?? DEFAULT_PORTS[dialect],
    user: config.user ?? fromUrl?.user,
    password: config.password ?? fromUrl?.password,
    database: config.database ?? fromUrl?.database,
    tls: tlsConfig === undefined ? undefined : readTls(name, dialect, tlsConfig, projectDir),
    connectTimeoutMs: parseDuration(config.connect_timeout) ?? 10_000,
  };
}

interface UrlParts {
  host: string | undefined;
  port: number | undefined;
  user: string | undefined;
  password: string | undefined;
  database: string | undefined;
  sslmode: 'disable' | 'require' | 'verify-ca' | 'verify-full' | undefined;
  sslrootcert: string | undefined;
}

const URL_SCHEMES: Readonly<Record<'postgres' | 'mariadb', readonly string[]>> = {
  postgres: ['postgres:', 'postgresql:'],
  mariadb: ['mariadb:', 'mysql:'],
};

function parseServerUrl(name: string, dialect: 'postgres' | 'mariadb', text: string): UrlParts {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text may be a secret; say what is wrong with it without showing it.
    throw invalid(
      name,
      dialect,
      'url',
      `not a URL (expected ${URL_SCHEMES[dialect][0]}//user:password@host/database)`,
    );
  }
  if (!URL_SCHEMES[dialect].includes(url.protocol)) {
    throw invalid(
      name,
      dialect,
      'url',
      `expected a URL starting with ${URL_SCHEMES[dialect].map((scheme) => `${scheme}//`).join(' or ')}`,
    );
  }
  const decode = (part: string): string | undefined => (part === '' ? undefined : decodeURIComponent(part));
  let sslmode: UrlParts['sslmode'];
  let sslrootcert: string | undefined;
  for (const [key, value] of url.searchParams) {
    if (dialect === 'postgres' && key === 'sslmode') {
      if (!['disable', 'require', 'verify-ca', 'verify-full'].includes(value)) {
        throw invalid(
          name,
          dialect,
          'url',
          `sslmode=${value} is not supported; use disable, require, verify-ca or verify-full`,
        );
      }
      sslmode = value as UrlParts['sslmode'];
    } else if (dialect === 'postgres' && key === 'sslrootcert') sslrootcert = value;
    else {
      throw invalid(
        name,
        dialect,
        'url',
        `unknown URL parameter '${key}'${dialect === 'postgres' ? ' (supported: sslmode, sslrootcert)' : ''}; use the connection's own fields (ssl, connect_timeout)`,
      );
    }
  }
  const database = decode(url.pathname.replace(/^\//, ''));
  return {
    host: decode(url.hostname.replace(/^\[(.*)\]$/, '$1')),
    port: url.port === '' ? undefined : Number(url.port),
    user: decode(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    database,
    sslmode,
    sslrootcert,
  };
}

function readTls(
  name: string,
  dialect: string,
  config: {
    verify: boolean;
    ca_file?: string | undefined;
    cert_file?: string | undefined;
    key_file?: string | undefined;
  },
  projectDir: string,
): TlsSettings {
  const read = (field: string, file: string | undefined): string | undefined => {
    if (file === undefined) return undefined;
    const path = isAbsolute(file) ? file : resolve(projectDir, file);
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new PwError(
        'PW_DB_TLS',
        `Connection '${name}' (${dialect}): cannot read ssl.${field} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        {
          path: `connections.${name}.ssl.${field}`,
          hint: 'Paths are relative to the project folder; the file must be readable by the user running Pipewright.',
        },
      );
    }
  };
  return {
    verify: config.verify,
    ca: read('ca_file', config.ca_file),
    cert: read('cert_file', config.cert_file),
    key: read('key_file', config.key_file),
  };
}

/** `postgres 'warehouse' (app@db:5432/sales)`-style text without the password, for messages and logs. */
export function describeConnection(settings: SqlSettings): string {
  if (settings.dialect === 'sqlite') return `sqlite, ${settings.display}`;
  const user = settings.user === undefined ? '' : `${settings.user}@`;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  const database = settings.database === undefined ? '' : `/${settings.database}`;
  return `${settings.dialect}, ${user}${host}:${settings.port}${database}${settings.tls ? ', TLS' : ''}`;
}

/** The user-info password of every URL in `text` replaced by `***`. */
export function maskUrlPasswords(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi, '$1:***@');
}

/** Masks a known password (and URLs) in a text bound for an error or a log line. */
export function maskSecrets(text: string, password: string | undefined): string {
  let masked = maskUrlPasswords(text);
  if (password !== undefined && password.length >= 3) {
    masked = masked.split(password).join('***');
    const encoded = encodeURIComponent(password);
    if (encoded !== password) masked = masked.split(encoded).join('***');
  }
  return masked;
}
