/**
 * SFTP connections of pipewright.yaml (`type: sftp`) and how they become the settings ssh2 connects
 * with: key (`private_key` text or `private_key_file`, optional `passphrase`) or password login, and a
 * pinned host key. The server's key must match one of the `host_key` SHA256 fingerprints (the form
 * `ssh-keygen -lf` prints); only `insecure_skip_host_key_check: true` turns that off, for tests.
 *
 * Nothing here prints a secret: `describeSftp` names user, host and port only, and a private key or
 * passphrase that does not parse is reported without its text.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import { durationSchema } from '../../core/spec/pipeline-schema.js';
import { parseDuration } from '../../core/duration.js';
import type { ConnectionConfig } from '../../core/step.js';

export const SFTP_CONNECTION_TYPES = ['sftp'] as const;

const FINGERPRINT = /SHA256:[A-Za-z0-9+/]{43}=?/;

export const sftpConnectionSchema = z.strictObject({
  type: z.literal('sftp'),
  host: z.string().min(1).describe('Server host name or address.'),
  port: z.int().min(1).max(65535).default(22).describe('Server port (default 22).'),
  user: z.string().min(1).describe('Login name.'),
  password: z.string().optional().describe('Login password; write it as "${env:…}" or "${file:…}".'),
  private_key: z
    .string()
    .min(1)
    .optional()
    .describe('The private key text (OpenSSH or PEM); usually "${file:secrets/id_ed25519}".'),
  private_key_file: z
    .string()
    .min(1)
    .optional()
    .describe('A private key file, relative to the project folder (instead of private_key).'),
  passphrase: z.string().optional().describe('Passphrase of an encrypted private key.'),
  host_key: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .describe(
      'The server key fingerprint(s) to accept, as `ssh-keygen -lf` prints them: "SHA256:…" (one or a list). Required unless insecure_skip_host_key_check.',
    ),
  insecure_skip_host_key_check: z
    .boolean()
    .default(false)
    .describe('Accept any server key (for tests only: anyone in between can pose as the server).'),
  connect_timeout: durationSchema
    .default('10s')
    .describe('How long connecting and logging in may take (default 10s).'),
});

export interface SftpSettings {
  name: string;
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  /** Key text (read from private_key_file when given there). */
  privateKey: string | undefined;
  passphrase: string | undefined;
  /** Accepted fingerprints, `SHA256:` + unpadded base64. */
  hostKeys: string[];
  insecure: boolean;
  connectTimeoutMs: number;
}

function invalid(name: string, field: string, message: string, hint?: string): PwError {
  return new PwError(
    'PW_SPEC_TYPE',
    `Connection '${name}' is not a valid sftp connection: ${field ? `${field}: ` : ''}${message}`,
    {
      path: `connections.${name}${field ? `.${field}` : ''}`,
      expected:
        'type: sftp with host, user, password or private_key/private_key_file, and host_key (port, passphrase, connect_timeout optional)',
      hint: hint ?? 'See docs/reference/connections.md#sftp.',
    },
  );
}

/** The OpenSSH form of a key's fingerprint: `SHA256:` and the unpadded base64 of the key blob's SHA-256. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export function keyscanHint(host: string, port: number): string {
  return `Get the server's fingerprint over a trusted network with \`ssh-keyscan -p ${port} ${host} | ssh-keygen -lf -\` (or ask its administrator) and set host_key: "SHA256:…".`;
}

/** Validates a resolved connection and turns it into ssh2 settings (reading private_key_file). */
export function sftpSettings(name: string, raw: ConnectionConfig, projectDir: string): SftpSettings {
  const parsed = sftpConnectionSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Never echo a value: it may be a secret.
    throw invalid(name, issue?.path.join('.') ?? '', issue?.message ?? 'invalid');
  }
  const config = parsed.data;
  if (config.private_key !== undefined && config.private_key_file !== undefined) {
    throw invalid(name, 'private_key_file', 'give private_key or private_key_file, not both');
  }
  let privateKey = config.private_key;
  if (config.private_key_file !== undefined) {
    const path = isAbsolute(config.private_key_file)
      ? config.private_key_file
      : resolve(projectDir, config.private_key_file);
    try {
      privateKey = readFileSync(path, 'utf8');
    } catch (error) {
      throw invalid(
        name,
        'private_key_file',
        `cannot read ${config.private_key_file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  if (privateKey === undefined && config.password === undefined) {
    throw invalid(name, 'password', 'give password, private_key or private_key_file');
  }
  if (config.passphrase !== undefined && privateKey === undefined) {
    throw invalid(name, 'passphrase', 'a passphrase needs private_key or private_key_file');
  }
  const hostKeys: string[] = [];
  const given = config.host_key === undefined ? [] : [config.host_key].flat();
  for (const [index, text] of given.entries()) {
    const match = FINGERPRINT.exec(text);
    if (match === null) {
      throw invalid(
        name,
        Array.isArray(config.host_key) ? `host_key.${index}` : 'host_key',
        `expected an OpenSSH SHA256 fingerprint such as "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s", found '${text}'`,
        keyscanHint(config.host, config.port),
      );
    }
    hostKeys.push(match[0].replace(/=$/, ''));
  }
  if (hostKeys.length === 0 && !config.insecure_skip_host_key_check) {
    throw invalid(
      name,
      'host_key',
      'the server key must be pinned: give host_key',
      keyscanHint(config.host, config.port),
    );
  }
  return {
    name,
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    privateKey,
    passphrase: config.passphrase,
    hostKeys,
    insecure: config.insecure_skip_host_key_check,
    connectTimeoutMs: parseDuration(config.connect_timeout) ?? 10_000,
  };
}

/** `sftp, user@host:22` — never a password or key. */
export function describeSftp(settings: Pick<SftpSettings, 'user' | 'host' | 'port'>): string {
  return `sftp, ${settings.user}@${settings.host}:${settings.port}`;
}

/** Replaces every secret of the settings in a text by `[redacted]`. */
export function maskSftpSecrets(text: string, settings: SftpSettings): string {
  let out = text;
  for (const secret of [settings.password, settings.passphrase, settings.privateKey]) {
    if (secret !== undefined && secret.length >= 3) out = out.split(secret).join('[redacted]');
  }
  return out;
}
