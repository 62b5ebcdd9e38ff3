/**
 * MongoDB connections of pipewright.yaml (`type: mongodb`) and how they become the settings the
 * official driver connects with: a `mongodb://` or `mongodb+srv://` URL (usually a whole secret), the
 * database, TLS (`tls`, `ca_file`, verification on by default) and timeouts.
 *
 * Nothing here prints a password: `describeMongo` names the scheme, user, hosts and database only.
 */
import { accessSync, constants } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import { durationSchema } from '../../core/spec/pipeline-schema.js';
import { parseDuration } from '../../core/duration.js';
import type { ConnectionConfig } from '../../core/step.js';

export const MONGODB_CONNECTION_TYPES = ['mongodb'] as const;

export const mongoConnectionSchema = z.strictObject({
  type: z.literal('mongodb'),
  url: z
    .string()
    .min(1)
    .describe('mongodb://user:password@host:27017/database or mongodb+srv://…; usually "${env:…}".'),
  database: z
    .string()
    .min(1)
    .optional()
    .describe('Database to read from (default: the one in the URL path).'),
  tls: z
    .boolean()
    .optional()
    .describe(
      'TLS on or off (default: as the URL says; on for mongodb+srv:// and whenever ca_file is given).',
    ),
  ca_file: z
    .string()
    .min(1)
    .optional()
    .describe('PEM file of the certificate authority to trust (a private CA or a self-signed server).'),
  tls_verify: z
    .boolean()
    .default(true)
    .describe('Verify the server certificate and that it names the host (default true).'),
  connect_timeout: durationSchema
    .default('10s')
    .describe('How long finding a server, connecting and logging in may take (default 10s).'),
  socket_timeout: durationSchema
    .default('10m')
    .describe('How long one answer of the server (a batch of documents) may take (default 10m).'),
});

export interface MongoSettings {
  type: 'mongodb';
  name: string;
  url: string;
  /** From the `database` field or the URL path. */
  database: string | undefined;
  /** Undefined: as the URL says. */
  tls: boolean | undefined;
  /** Absolute path of the CA file, checked readable. */
  caFile: string | undefined;
  verify: boolean;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
  /** Parts of the URL for messages, without the password. */
  scheme: string;
  user: string | undefined;
  hosts: string;
  /** The URL's password, to mask it in driver messages. */
  password: string | undefined;
}

function invalid(name: string, field: string, message: string): PwError {
  return new PwError(
    'PW_SPEC_TYPE',
    `Connection '${name}' is not a valid mongodb connection: ${field ? `${field}: ` : ''}${message}`,
    {
      path: `connections.${name}${field ? `.${field}` : ''}`,
      expected:
        'type: mongodb with url, optionally database, tls, ca_file, tls_verify, connect_timeout, socket_timeout',
      hint: 'See docs/reference/connections.md#mongodb.',
    },
  );
}

interface UrlParts {
  scheme: string;
  user: string | undefined;
  password: string | undefined;
  hosts: string;
  database: string | undefined;
  tls: boolean | undefined;
}

/** Splits a MongoDB URL by hand: `new URL` cannot read a list of hosts (`h1:27017,h2:27017`). */
export function parseMongoUrl(text: string): UrlParts | undefined {
  const match = /^(mongodb(?:\+srv)?):\/\/([^/?]*)(\/[^?]*)?(?:\?(.*))?$/.exec(text);
  if (match === null) return undefined;
  const authority = match[2] ?? '';
  const at = authority.lastIndexOf('@');
  const userInfo = at < 0 ? undefined : authority.slice(0, at);
  const hosts = at < 0 ? authority : authority.slice(at + 1);
  if (hosts === '') return undefined;
  const decode = (part: string | undefined): string | undefined => {
    if (part === undefined || part === '') return undefined;
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  const colon = userInfo?.indexOf(':') ?? -1;
  const params = new URLSearchParams(match[4] ?? '');
  const tlsParam = params.get('tls') ?? params.get('ssl');
  return {
    scheme: match[1] ?? 'mongodb',
    user: decode(colon < 0 ? userInfo : userInfo?.slice(0, colon)),
    password: colon < 0 ? undefined : decode(userInfo?.slice(colon + 1)),
    hosts,
    database: decode(match[3]?.slice(1)),
    tls: tlsParam === null ? (match[1] === 'mongodb+srv' ? true : undefined) : tlsParam === 'true',
  };
}

/** Validates a resolved connection and turns it into driver settings (checking the CA file). */
export function mongoSettings(name: string, raw: ConnectionConfig, projectDir: string): MongoSettings {
  const parsed = mongoConnectionSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(name, issue?.path.join('.') ?? '', issue?.message ?? 'invalid');
  }
  const config = parsed.data;
  const url = parseMongoUrl(config.url);
  // The text may be a secret: say what is wrong with it without showing it.
  if (url === undefined) {
    throw invalid(name, 'url', 'expected a URL starting with mongodb:// or mongodb+srv:// and naming a host');
  }
  if (config.tls === false && config.ca_file !== undefined) {
    throw invalid(name, 'ca_file', 'a CA file needs TLS; remove tls: false or ca_file');
  }
  let caFile: string | undefined;
  if (config.ca_file !== undefined) {
    caFile = isAbsolute(config.ca_file) ? config.ca_file : resolve(projectDir, config.ca_file);
    try {
      accessSync(caFile, constants.R_OK);
    } catch (error) {
      throw new PwError(
        'PW_DB_TLS',
        `Connection '${name}' (mongodb): cannot read ca_file ${config.ca_file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        {
          path: `connections.${name}.ca_file`,
          hint: 'Paths are relative to the project folder; the file must be readable by the user running Pipewright.',
        },
      );
    }
  }
  return {
    type: 'mongodb',
    name,
    url: config.url,
    database: config.database ?? url.database,
    tls: config.tls ?? (caFile !== undefined ? true : url.tls),
    caFile,
    verify: config.tls_verify,
    connectTimeoutMs: parseDuration(config.connect_timeout) ?? 10_000,
    socketTimeoutMs: parseDuration(config.socket_timeout) ?? 600_000,
    scheme: url.scheme,
    user: url.user,
    hosts: url.hosts,
    password: url.password,
  };
}

/** `mongodb, app@db1:27017,db2:27017/shop, TLS` — never the password. */
export function describeMongo(settings: MongoSettings): string {
  const user = settings.user === undefined ? '' : `${settings.user}@`;
  const database = settings.database === undefined ? '' : `/${settings.database}`;
  const scheme = settings.scheme === 'mongodb' ? 'mongodb' : 'mongodb+srv';
  return `${scheme}, ${user}${settings.hosts}${database}${settings.tls === true ? ', TLS' : ''}`;
}
