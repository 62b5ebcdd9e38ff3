/**
 * The `smtp` connection of pipewright.yaml and how it becomes nodemailer transport options:
 * `security` picks implicit TLS, a required STARTTLS upgrade or plain text; certificates are always
 * verified unless `verify_certificate: false` says otherwise, against `ca_file` when given; every wait
 * (connecting, the greeting, an idle socket) is bounded by `timeout`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { SMTPTransportOptions } from 'nodemailer';
import { PwError } from '../../core/errors/pw-error.js';
import { durationSchema } from '../../core/spec/pipeline-schema.js';
import { parseDuration } from '../../core/duration.js';
import type { ConnectionConfig } from '../../core/step.js';

export const SMTP_CONNECTION_TYPE = 'smtp';
export const DEFAULT_SMTP_TIMEOUT = '30s';

export const smtpConnectionSchema = z
  .strictObject({
    type: z.literal(SMTP_CONNECTION_TYPE),
    host: z.string().min(1).describe('The SMTP server, a host name or an IP address.'),
    port: z
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('Default: 465 with security tls, 587 with starttls, 25 with none.'),
    security: z
      .enum(['tls', 'starttls', 'none'])
      .default('starttls')
      .describe(
        'tls: TLS from the first byte (port 465); starttls (default): plain connect, then a required STARTTLS upgrade; none: no encryption at all (a local relay only).',
      ),
    user: z.string().min(1).optional().describe('Login name; with password.'),
    password: z.string().min(1).optional().describe('Login password; write it as a secret reference.'),
    auth_method: z
      .enum(['PLAIN', 'LOGIN', 'CRAM-MD5'])
      .optional()
      .describe('SASL method (default: the first the server offers).'),
    ca_file: z
      .string()
      .min(1)
      .optional()
      .describe('PEM file of the certificate authority to trust (a private CA or a self-signed server).'),
    verify_certificate: z
      .boolean()
      .default(true)
      .describe('Verify the server certificate and host name (default true).'),
    from: z.string().min(1).optional().describe('Default sender address of messages sent through it.'),
    timeout: durationSchema
      .default(DEFAULT_SMTP_TIMEOUT)
      .describe('Limit of each wait: connecting, the greeting, and silence on the socket (default 30s).'),
    name: z.string().min(1).optional().describe('Host name sent with EHLO (default: this machine).'),
  })
  .refine((value) => (value.user === undefined) === (value.password === undefined), {
    message: 'give both user and password, or neither',
    path: ['password'],
  });

export type SmtpConnection = z.output<typeof smtpConnectionSchema>;

export function parseSmtpConnection(name: string, raw: ConnectionConfig): SmtpConnection {
  const parsed = smtpConnectionSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  throw new PwError(
    'PW_SPEC_TYPE',
    `Connection '${name}' is not a valid smtp connection: ${field ? `${field}: ` : ''}${issue?.message ?? 'invalid'}`,
    {
      path: `connections.${name}${field ? `.${field}` : ''}`,
      expected: 'type: smtp with host, and optionally port, security, user, password, ca_file, from, timeout',
      hint: 'See docs/reference/steps/email.md#the-smtp-connection.',
    },
  );
}

export function defaultPort(security: SmtpConnection['security']): number {
  return security === 'tls' ? 465 : security === 'starttls' ? 587 : 25;
}

/** `host:port`, for messages. */
export function serverLabel(connection: SmtpConnection): string {
  return `${connection.host}:${connection.port ?? defaultPort(connection.security)}`;
}

export function smtpTransportOptions(
  name: string,
  connection: SmtpConnection,
  resolvePath: (path: string) => string,
): SMTPTransportOptions {
  const timeout = parseDuration(connection.timeout) ?? 30_000;
  let ca: Buffer | undefined;
  if (connection.ca_file !== undefined) {
    const file = resolvePath(connection.ca_file);
    try {
      ca = readFileSync(file);
    } catch (error) {
      throw new PwError('PW_INPUT_NOT_FOUND', `Connection '${name}': cannot read ca_file ${file}`, {
        path: `connections.${name}.ca_file`,
        expected: 'a readable PEM file',
        found: (error as NodeJS.ErrnoException).code ?? String(error),
        hint: 'Relative paths start at the project folder.',
      });
    }
  }
  return {
    host: connection.host,
    port: connection.port ?? defaultPort(connection.security),
    secure: connection.security === 'tls',
    requireTLS: connection.security === 'starttls',
    ignoreTLS: connection.security === 'none',
    ...(connection.name === undefined ? {} : { name: connection.name }),
    ...(connection.user === undefined
      ? {}
      : {
          auth: {
            user: connection.user,
            pass: connection.password,
            ...(connection.auth_method === undefined ? {} : { method: connection.auth_method }),
          },
        }),
    tls: {
      rejectUnauthorized: connection.verify_certificate,
      minVersion: 'TLSv1.2',
      ...(ca === undefined ? {} : { ca }),
    },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    dnsTimeout: timeout,
    socketCloseTimeout: 1_000,
    logger: false,
    debug: false,
  };
}
