/**
 * For tests: an S3-compatible server (s3rver) on 127.0.0.1 with a temporary data folder, in this
 * process or in a child process of its own (so this process's I/O counts only its own reads), and a
 * TCP proxy in front of it that can cut one connection after a number of request bytes (an upload
 * interrupted half-way), change a byte of a request (bytes corrupted on the way) or rewrite text in
 * the answers (a store that reports other checksums).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export const S3RVER_KEY = 'S3RVER';
export const S3RVER_SECRET = 'S3RVER';

export interface TestS3Server {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export async function startS3Server(buckets: readonly string[]): Promise<TestS3Server> {
  const { default: S3rver } = await import('s3rver');
  const directory = await mkdtemp(join(tmpdir(), 'pw-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** s3rver in a child process; its CPU and I/O are not this process's. */
export async function startS3ServerProcess(buckets: readonly string[]): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'pw-s3rver-'));
  const entry = pathToFileURL(createRequire(import.meta.url).resolve('s3rver')).href;
  const script = `
    const { default: S3rver } = await import(${JSON.stringify(entry)});
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(directory)},
      vhostBuckets: false, configureBuckets: ${JSON.stringify(buckets.map((name) => ({ name })))} });
    const { port } = await server.run();
    process.stdout.write(JSON.stringify({ port }) + '\\n');
    process.on('SIGTERM', () => void server.close().finally(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const { port } = JSON.parse(line) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async close() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface CuttingProxy {
  endpoint: string;
  /** The next connection that sends more than `bytes` request bytes is destroyed at that point. */
  cutOnceAfter(bytes: number): void;
  /** The next time `marker` passes in a request, one of its bytes is changed (once). */
  corruptOnce(marker: Buffer): void;
  /** Replaces `from` by `to` in every answer from now on (undefined: stop). */
  rewriteAnswers(from: string | undefined, to?: string): void;
  /** How many connections were cut so far. */
  readonly cuts: number;
  /** How many connections were accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startCuttingProxy(targetPort: number): Promise<CuttingProxy> {
  let armed: number | undefined;
  let sinceArmed = 0;
  let cuts = 0;
  let connections = 0;
  let marker: Buffer | undefined;
  let rewrite: { from: string; to: string } | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    // The end of the previous chunk, so a marker split between two chunks is found too.
    let tail = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (marker !== undefined) {
        const window = Buffer.concat([tail, chunk]);
        const at = window.indexOf(marker);
        if (at >= 0) {
          // The marker's last byte is in this chunk (otherwise it would have been found before).
          const position = at + marker.length - 1 - tail.length;
          chunk[position] = (chunk[position] ?? 0) ^ 0xff;
          marker = undefined;
        } else tail = window.subarray(Math.max(0, window.length - marker.length + 1));
      }
      sinceArmed += chunk.length;
      if (armed !== undefined && sinceArmed > armed) {
        armed = undefined;
        cuts += 1;
        // Forward only half of this chunk, then drop both sides: the server sees part of a body.
        upstream.write(chunk.subarray(0, Math.floor(chunk.length / 2)));
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) =>
      client.write(
        rewrite === undefined
          ? chunk
          : Buffer.from(chunk.toString('latin1').replaceAll(rewrite.from, rewrite.to), 'latin1'),
      ),
    );
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cutOnceAfter(bytes: number) {
      armed = bytes;
      sinceArmed = 0;
    },
    corruptOnce(bytes: Buffer) {
      marker = bytes;
    },
    rewriteAnswers(from: string | undefined, to = '') {
      rewrite = from === undefined ? undefined : { from, to };
    },
    get cuts() {
      return cuts;
    },
    get connections() {
      return connections;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
