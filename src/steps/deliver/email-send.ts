/**
 * Sending one composed e-mail: over SMTP with a few attempts, or, when no SMTP connection is given,
 * into the project's `outbox/` folder as an `.eml` file (the embedded default).
 *
 * SMTP errors are sorted once, here: a temporary refusal (4xx, and 503 which only says the session was
 * out of step) and a lost, refused or timed-out connection are tried again with backoff; a permanent
 * refusal (other 5xx), a refused login and a certificate that does not verify fail at once. Messages
 * name the server and the recipients, never the password (nodemailer's own errors for a login quote
 * only the server's reply, and the command text, which holds the encoded credentials, is never used).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Nodemailer from 'nodemailer';
import type { NodemailerError, SendMailOptions } from 'nodemailer';
import { PwError } from '../../core/errors/pw-error.js';
import type { ErrorCode } from '../../core/errors/codes.js';
import { temporaryPathFor } from '../../engine/atomic-file.js';
import { serverLabel, smtpTransportOptions, type SmtpConnection } from './email-connection.js';
import { DeliveryError, retryDelay, waitBeforeRetry } from './deliver-common.js';

export interface EmailAddresses {
  from: string;
  to: string[];
  cc?: string[] | undefined;
  bcc?: string[] | undefined;
  replyTo?: string[] | undefined;
}

export interface SmtpTarget {
  /** The connection's name in pipewright.yaml, for messages. */
  name: string;
  connection: SmtpConnection;
}

export interface SendEmailOptions {
  /** Where to send; undefined writes the message to `outbox` instead. */
  smtp: SmtpTarget | undefined;
  /** The outbox folder and the file name stem (`<run-id>-<step-id>`); a number and `.eml` are added. */
  outbox: { dir: string; stem: string };
  resolvePath: (path: string) => string;
  signal: AbortSignal;
  /** Total SMTP attempts (default 3), and the base wait before the second one (default 2 s, doubling). */
  attempts?: number;
  retryDelayMs?: number;
  /** Told before each retry, with why the last attempt failed. */
  onRetry?: (attempt: number, waitMs: number, reason: string) => void;
}

export interface SendEmailResult {
  status: 'sent' | 'outbox';
  messageId: string;
  attempts: number;
  /** The server's final reply (SMTP), or the file written (outbox). */
  response?: string;
  path?: string;
  /** Recipients the server refused while accepting the others. */
  rejected: string[];
}

export function recipientsLabel(addresses: EmailAddresses): string {
  return [...addresses.to, ...(addresses.cc ?? []), ...(addresses.bcc ?? [])].join(', ');
}

/** A Message-ID in the sender's domain, fixed before the first attempt so retries keep it. */
export function newMessageId(from: string): string {
  const domain = /@([^\s>]+)>?\s*$/.exec(from)?.[1] ?? 'pipewright.invalid';
  return `<${randomBytes(12).toString('hex')}.pipewright@${domain}>`;
}

export async function sendEmail(
  message: SendMailOptions & EmailAddresses,
  options: SendEmailOptions,
): Promise<SendEmailResult> {
  const messageId = typeof message.messageId === 'string' ? message.messageId : newMessageId(message.from);
  const mail: SendMailOptions = { ...message, messageId, disableUrlAccess: true };
  if (options.smtp === undefined) return writeToOutbox(mail, messageId, options);

  const { name, connection } = options.smtp;
  const server = serverLabel(connection);
  const recipients = recipientsLabel(message);
  const attempts = Math.max(1, options.attempts ?? 3);
  const nodemailer = await loadNodemailer();
  const transport = nodemailer.createTransport(smtpTransportOptions(name, connection, options.resolvePath));
  try {
    for (let attempt = 1; ; attempt += 1) {
      options.signal.throwIfAborted();
      try {
        const info = await transport.sendMail({ ...mail, signal: options.signal });
        return {
          status: 'sent',
          messageId: info.messageId || messageId,
          attempts: attempt,
          response: info.response,
          rejected: (info.rejected ?? []).map(String),
        };
      } catch (thrown) {
        if (options.signal.aborted) throw options.signal.reason;
        const failure = classifySmtpError(thrown as NodemailerError, {
          server,
          recipients,
          name,
          connection,
        });
        if (!failure.transient || attempt >= attempts) {
          throw new DeliveryError(
            failure.code,
            attempt > 1 ? `${failure.message} (after ${attempt} attempts)` : failure.message,
            attempt,
            { hint: failure.hint, cause: thrown },
          );
        }
        const wait = retryDelay(options.retryDelayMs ?? 2_000, attempt + 1);
        options.onRetry?.(attempt + 1, wait, failure.message);
        await waitBeforeRetry(wait, options.signal);
      }
    }
  } finally {
    transport.close();
  }
}

interface SmtpFailure {
  code: ErrorCode;
  transient: boolean;
  message: string;
  hint: string;
}

const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_|HOSTNAME|ERR_SSL_|ERR_TLS_/;

/** Which kind of failure a nodemailer error is, with a message that names server and recipients. */
export function classifySmtpError(
  error: NodemailerError,
  where: { server: string; recipients: string; name: string; connection: SmtpConnection },
): SmtpFailure {
  const reply = error.response?.trim().replace(/\s+/g, ' ');
  const responseCode = error.responseCode;
  const original = error.originalCode ?? '';
  if (error.code === 'EAUTH' || error.code === 'ENOAUTH') {
    const temporary = responseCode !== undefined && responseCode >= 400 && responseCode < 500;
    return {
      code: temporary ? 'PW_DELIVERY_UNAVAILABLE' : 'PW_SMTP_AUTH',
      transient: temporary,
      message: `SMTP server ${where.server} refused the login of user '${where.connection.user ?? ''}'${reply ? `: ${reply}` : error.code === 'ENOAUTH' ? ': no credentials given' : ''}`,
      hint: `Check user and password of connection '${where.name}' in pipewright.yaml (and the secret they refer to).`,
    };
  }
  if (error.code === 'ETLS' || CERTIFICATE_ERROR.test(original) || CERTIFICATE_ERROR.test(error.code ?? '')) {
    return {
      code: 'PW_DELIVERY_TLS',
      transient: false,
      message: `TLS with SMTP server ${where.server} failed: ${original ? `${original}: ` : ''}${error.message}`,
      hint:
        where.connection.security === 'tls'
          ? `Check that the server speaks TLS from the start on this port (465), or use security: starttls; for a private CA set ca_file on connection '${where.name}'.`
          : `For a private CA or a self-signed server set ca_file on connection '${where.name}'; a server without STARTTLS needs security: none (local relays only).`,
    };
  }
  if (responseCode !== undefined) {
    const permanent = error.permanent ?? (responseCode >= 500 && responseCode !== 503);
    const refused = error.rejected?.length ? error.rejected.join(', ') : where.recipients;
    const stage = error.command ? ` (${error.command.split(' ').slice(0, 2).join(' ')})` : '';
    return permanent
      ? {
          code: 'PW_DELIVERY_REJECTED',
          transient: false,
          message: `SMTP server ${where.server} refused the message to ${refused}: ${reply ?? responseCode}${stage}`,
          hint: 'A permanent refusal (5xx) is not retried: check the addresses, the sender allowed for this login, and the message size.',
        }
      : {
          code: 'PW_DELIVERY_UNAVAILABLE',
          transient: true,
          message: `SMTP server ${where.server} deferred the message to ${where.recipients}: ${reply ?? responseCode}${stage}`,
          hint: 'The server answered with a temporary error; a retries policy on the step tries again later.',
        };
  }
  if (error.code === 'ECONFIG' || error.code === 'EENVELOPE' || error.code === 'EMESSAGE') {
    return {
      code: 'PW_SPEC_TYPE',
      transient: false,
      message: `Cannot send to ${where.recipients} through ${where.server}: ${error.message}`,
      hint: 'Check the addresses (to, cc, bcc, from) of the message.',
    };
  }
  return {
    code: 'PW_DELIVERY_UNAVAILABLE',
    transient: true,
    message: `Cannot deliver to SMTP server ${where.server}: ${original && !error.message.includes(original) ? `${original} ` : ''}${error.message}`,
    hint: `Check host, port and security of connection '${where.name}', and that the server is reachable from this machine.`,
  };
}

/**
 * nodemailer is loaded when a message is sent, not when this module is: `serve` imports it for
 * notifications but, with runs executing in its runner process, may never send one itself.
 */
async function loadNodemailer(): Promise<typeof Nodemailer> {
  return (await import('nodemailer')).default;
}

/** Writes the message as `<stem>-<n>.eml`, n the first free number, never replacing a file. */
async function writeToOutbox(
  mail: SendMailOptions,
  messageId: string,
  options: SendEmailOptions,
): Promise<SendEmailResult> {
  const nodemailer = await loadNodemailer();
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const info = await transport.sendMail(mail);
  const bytes = info.message as Buffer;
  const dir = options.outbox.dir;
  await mkdir(dir, { recursive: true });
  const temp = temporaryPathFor(join(dir, `${options.outbox.stem}.eml`));
  await writeFile(temp, bytes, { mode: 0o640 });
  try {
    for (let n = 1; ; n += 1) {
      const path = join(dir, `${options.outbox.stem}-${n}.eml`);
      try {
        // A hard link is created whole or not at all and never replaces an existing name; where the
        // file system has no hard links, an exclusive copy also never replaces one.
        await link(temp, path).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'EPERM' || error.code === 'ENOTSUP' || error.code === 'EOPNOTSUPP')
            return copyFile(temp, path, constants.COPYFILE_EXCL);
          throw error;
        });
        return { status: 'outbox', messageId: info.messageId || messageId, attempts: 1, path, rejected: [] };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new PwError(
            'PW_OUTPUT_WRITE',
            `Cannot write the message to ${path}: ${(error as Error).message}`,
            {
              hint: 'Check that the outbox folder is writable by the Pipewright process.',
              cause: error,
            },
          );
        }
      }
    }
  } finally {
    await rm(temp, { force: true });
  }
}
