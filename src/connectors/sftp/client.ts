/**
 * One SFTP session over ssh2 for a step: connects with the pinned host key check, logs in, opens the
 * SFTP subsystem and offers promise-based file operations. The session ends when the step's signal
 * aborts, so a cancelled step never waits for a stalled transfer. ssh2 is imported lazily.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Client, FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import { PwError } from '../../core/errors/pw-error.js';
import type { StepLogger } from '../../core/step.js';
import { fingerprintOf, keyscanHint, type SftpSettings } from './config.js';
import { sftpLabel, SFTP_STATUS, toSftpError } from './errors.js';

export interface SftpSessionOptions {
  stepId?: string | undefined;
  signal?: AbortSignal | undefined;
  log?: StepLogger | undefined;
}

export class SftpSession {
  private constructor(
    readonly settings: SftpSettings,
    private readonly client: Client,
    private readonly sftp: SFTPWrapper,
    private readonly stepId: string | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly onAbort: () => void,
  ) {}

  static async open(settings: SftpSettings, options: SftpSessionOptions = {}): Promise<SftpSession> {
    const { Client: Ssh2Client, utils } = (await import('ssh2')).default;
    const context = { settings, stepId: options.stepId, what: 'connecting' };
    const label = sftpLabel(context);
    let privateKey: Buffer | undefined;
    if (settings.privateKey !== undefined) {
      const parsed = utils.parseKey(settings.privateKey, settings.passphrase);
      if (parsed instanceof Error) {
        // The parser's message never quotes the key, but mask anyway.
        throw new PwError(
          'PW_SFTP_AUTH',
          `${label}: the private key cannot be used: ${/passphrase/i.test(parsed.message) ? (settings.passphrase === undefined ? 'it is encrypted and no passphrase is given' : 'wrong passphrase') : 'not a private key ssh2 can read (OpenSSH or PEM)'}`,
          { hint: `Check private_key/private_key_file and passphrase of connection '${settings.name}'.` },
        );
      }
      privateKey = Buffer.from(settings.privateKey);
    }
    if (options.signal?.aborted) throw cancelled(label);
    const client = new Ssh2Client();
    let presented: string | undefined;
    let refused = false;
    const sftp = await new Promise<SFTPWrapper>((resolvePromise, reject) => {
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', abortConnect);
        client.end();
        if (options.signal?.aborted) reject(cancelled(label));
        else if (refused) reject(hostKeyError(label, settings, presented ?? '(none)'));
        else reject(toSftpError(error, context));
      };
      const abortConnect = (): void => fail(new Error('cancelled'));
      options.signal?.addEventListener('abort', abortConnect, { once: true });
      client.on('error', fail);
      client.on('close', () => fail(new Error('connection lost before the SFTP session started')));
      client.on('ready', () => {
        client.sftp((error, wrapper) => {
          if (error) return fail(error);
          if (settled) return;
          settled = true;
          options.signal?.removeEventListener('abort', abortConnect);
          resolvePromise(wrapper);
        });
      });
      client.connect({
        host: settings.host,
        port: settings.port,
        username: settings.user,
        ...(settings.password === undefined ? {} : { password: settings.password }),
        ...(privateKey === undefined ? {} : { privateKey }),
        ...(settings.passphrase === undefined ? {} : { passphrase: settings.passphrase }),
        readyTimeout: settings.connectTimeoutMs,
        // Only the offered methods; no keyboard-interactive prompts nobody can answer.
        tryKeyboard: false,
        hostVerifier: (key: Buffer): boolean => {
          presented = fingerprintOf(key);
          if (settings.insecure) return true;
          refused = !settings.hostKeys.includes(presented);
          return !refused;
        },
      });
    });
    if (settings.insecure) {
      options.log?.warn(
        `Connection '${settings.name}' has insecure_skip_host_key_check: the server key (${presented ?? 'unknown'}) was not verified; anyone in between could pose as the server. Pin it with host_key: "${presented ?? 'SHA256:…'}".`,
        { connection: settings.name, host_key: presented },
      );
    }
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    // Errors after the session started surface through the pending operation's callback.
    client.on('error', () => undefined);
    const onAbort = (): void => {
      client.end();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return new SftpSession(settings, client, sftp, options.stepId, options.signal, onAbort);
  }

  /** The PwError for a failed operation (PW_CANCELLED when the step was aborted). */
  error(thrown: unknown, what: string): PwError {
    const context = { settings: this.settings, stepId: this.stepId, what };
    if (this.signal?.aborted) return cancelled(sftpLabel(context));
    return toSftpError(thrown, context);
  }

  private call<T>(what: string, run: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      run((error, value) => {
        if (error) reject(this.error(error, what));
        else resolvePromise(value as T);
      });
    });
  }

  readdir(path: string): Promise<FileEntryWithStats[]> {
    return this.call(`listing ${path}`, (done) => this.sftp.readdir(path, done));
  }

  /** The remote file's attributes, or undefined when there is none. */
  stat(path: string): Promise<Stats | undefined> {
    return this.call<Stats | undefined>(`stat of ${path}`, (done) =>
      this.sftp.stat(path, (error, stats) =>
        (error as { code?: unknown } | undefined)?.code === SFTP_STATUS.NO_SUCH_FILE
          ? done(undefined, undefined)
          : done(error, stats),
      ),
    );
  }

  unlink(path: string): Promise<void> {
    return this.call(`removing ${path}`, (done) => this.sftp.unlink(path, done));
  }

  /** Creates the folder and its missing parents. */
  async mkdirp(path: string): Promise<void> {
    if (path === '' || path === '.' || path === '/') return;
    const existing = await this.stat(path);
    if (existing?.isDirectory()) return;
    const parent = path.replace(/\/+[^/]*\/*$/, '');
    if (parent !== path && parent !== '') await this.mkdirp(parent);
    await this.call<void>(`creating folder ${path}`, (done) => this.sftp.mkdir(path, done));
  }

  /** Whether the server offers OpenSSH's posix-rename (atomic, replaces the target). */
  get hasPosixRename(): boolean {
    const extensions = (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions;
    return extensions?.['posix-rename@openssh.com'] === '1';
  }

  /**
   * Renames `from` to `to`. With `replace`, an existing `to` is replaced atomically when the server
   * offers posix-rename, else removed first (the rename follows at once).
   */
  async rename(from: string, to: string, replace: boolean): Promise<void> {
    const what = `renaming ${from} to ${to}`;
    if (replace && this.hasPosixRename) {
      await this.call<void>(what, (done) => this.sftp.ext_openssh_rename(from, to, done));
      return;
    }
    if (replace && (await this.stat(to)) !== undefined) await this.unlink(to);
    await this.call<void>(what, (done) => this.sftp.rename(from, to, done));
  }

  /** Streams a remote file to a local path. */
  async download(remote: string, local: string): Promise<void> {
    try {
      await pipeline(this.sftp.createReadStream(remote), createWriteStream(local));
    } catch (error) {
      // A local file-system error (disk full, permissions) is the caller's to report.
      if (!this.signal?.aborted && typeof (error as { syscall?: unknown }).syscall === 'string') throw error;
      throw this.error(error, `download of ${remote}`);
    }
  }

  /** Streams a local file to a remote path (created or truncated). */
  async upload(local: string, remote: string): Promise<void> {
    try {
      await pipeline(createReadStream(local), this.sftp.createWriteStream(remote));
    } catch (error) {
      if (!this.signal?.aborted && typeof (error as { syscall?: unknown }).syscall === 'string') throw error;
      throw this.error(error, `upload to ${remote}`);
    }
  }

  close(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    this.client.end();
  }
}

function cancelled(label: string): PwError {
  return new PwError('PW_CANCELLED', `${label}: cancelled`);
}

function hostKeyError(label: string, settings: SftpSettings, presented: string): PwError {
  return new PwError(
    'PW_SFTP_HOST_KEY',
    `${label}: host key mismatch, connection refused: the server presented ${presented}, expected ${settings.hostKeys.join(' or ')}`,
    {
      expected: settings.hostKeys.join(' or '),
      found: presented,
      hint: `If the server's key was changed on purpose, confirm the new fingerprint with its administrator or ${keyscanHint(settings.host, settings.port).replace(/^Get/, 'get')} Otherwise someone may be posing as the server: do not connect.`,
    },
  );
}
