/**
 * A real OpenSSH `sshd` for the SFTP tests, started as the current user on 127.0.0.1 and a free port
 * with its own config, host key and authorized_keys in a temporary folder (StrictModes and PAM off,
 * root login by key only). Without sshd the tests are skipped, saying so; under CI=true they fail.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { skipOrFailInCI } from '../../testing/require-service.js';

const run = promisify(execFile);
export const SSHD = process.env.PIPEWRIGHT_TEST_SSHD ?? '/usr/sbin/sshd';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never says a word (for connect timeouts). */
export async function silentTcpServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function keygen(path: string, passphrase = ''): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'pipewright-test', '-f', path]);
}

export async function fingerprintOfFile(publicKeyPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', publicKeyPath]);
  const match = /SHA256:\S+/.exec(stdout);
  assert.ok(match, `no fingerprint in ${stdout}`);
  return match[0];
}

export class SshServer {
  private stderr = '';
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly child: ChildProcess,
    /** The host key's fingerprint as `ssh-keygen -lf` prints it. */
    readonly hostKey: string,
  ) {}

  /** The login user (the user running the tests). */
  readonly user = process.env.USER ?? (process.getuid?.() === 0 ? 'root' : 'nobody');
  /** Unencrypted private key in authorized_keys. */
  get keyFile(): string {
    return join(this.dir, 'user_ed25519');
  }
  /** Encrypted private key (passphrase ENCRYPTED_KEY_PASSPHRASE) in authorized_keys. */
  get encryptedKeyFile(): string {
    return join(this.dir, 'user_enc_ed25519');
  }
  /** A key the server does not know. */
  get strangerKeyFile(): string {
    return join(this.dir, 'stranger_ed25519');
  }
  /** A folder the tests read and write through SFTP (absolute path). */
  get root(): string {
    return join(this.dir, 'files');
  }
  get log(): string {
    return this.stderr;
  }

  static async start(): Promise<SshServer | string> {
    if (!existsSync(SSHD)) return `${SSHD} is not installed (apt-get install openssh-server)`;
    const dir = await mkdtemp(join(tmpdir(), 'pw-sshd-'));
    try {
      await keygen(join(dir, 'host_ed25519'));
      await keygen(join(dir, 'user_ed25519'));
      await keygen(join(dir, 'user_enc_ed25519'), ENCRYPTED_KEY_PASSPHRASE);
      await keygen(join(dir, 'stranger_ed25519'));
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      return `ssh-keygen failed: ${(error as Error).message}`;
    }
    const authorized = [
      await readFile(join(dir, 'user_ed25519.pub'), 'utf8'),
      await readFile(join(dir, 'user_enc_ed25519.pub'), 'utf8'),
    ].join('');
    await writeFile(join(dir, 'authorized_keys'), authorized, { mode: 0o600 });
    await mkdir(join(dir, 'files'));
    // sshd insists on its privilege separation folder, even for a private instance.
    if (!existsSync('/run/sshd')) {
      try {
        await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
      } catch (error) {
        return `sshd needs /run/sshd and it cannot be created: ${(error as Error).message}`;
      }
    }
    const port = await freePort();
    const lines = [
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      process.getuid?.() === 0 ? 'PermitRootLogin prohibit-password' : 'PermitRootLogin no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'MaxAuthTries 10',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
    ];
    const config = join(dir, 'sshd_config');
    await writeFile(config, `${lines.join('\n')}\nPerSourcePenalties no\n`);
    const check = await run(SSHD, ['-t', '-f', config]).catch((error: { stderr?: string }) => error);
    if (
      typeof (check as { stderr?: string }).stderr === 'string' &&
      /PerSourcePenalties/.test((check as { stderr: string }).stderr)
    ) {
      // OpenSSH before 9.8 knows no penalties (and needs no switch to turn them off).
      await writeFile(config, `${lines.join('\n')}\n`);
    }
    const child = spawn(
      SSHD,
      ['-D', '-e', '-f', config, '-p', String(port), '-h', join(dir, 'host_ed25519')],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const server = new SshServer(dir, port, child, await fingerprintOfFile(join(dir, 'host_ed25519.pub')));
    child.stderr?.on('data', (chunk: Buffer) => {
      server.stderr += chunk.toString();
    });
    const ready = await waitForBanner(port, child, 10_000);
    if (ready !== true) {
      await server.stop();
      return `sshd did not start: ${ready} ${server.stderr.trim()}`;
    }
    return server;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Writes a file under the served folder and returns its absolute path. */
  async put(relative: string, content: string | Buffer): Promise<string> {
    const path = join(this.root, relative);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, content);
    return path;
  }

  async chmod(relative: string, mode: number): Promise<void> {
    await chmod(join(this.root, relative), mode);
  }
}

export const ENCRYPTED_KEY_PASSPHRASE = 'key-Passphrase-9043';

async function waitForBanner(port: number, child: ChildProcess, timeoutMs: number): Promise<true | string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return `exited with code ${child.exitCode}`;
    const banner = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(1000, () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
    });
    if (banner) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return `no SSH banner on 127.0.0.1:${port} within ${timeoutMs} ms`;
}

/** Skips (outside CI) or fails (CI=true) a test when sshd is missing. */
export function requireSshd(t: TestContext, server: SshServer | string): server is SshServer {
  if (typeof server !== 'string') return true;
  skipOrFailInCI(t, 'OpenSSH sshd', server);
  return false;
}
