/**
 * For tests: an S3-compatible server (s3rver) on 127.0.0.1 with a temporary data folder, and a TCP
 * proxy in front of it that can cut one connection after a number of request bytes, to simulate an
 * upload interrupted half-way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

export interface CuttingProxy {
  endpoint: string;
  /** The next connection that sends more than `bytes` request bytes is destroyed at that point. */
  cutOnceAfter(bytes: number): void;
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
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
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
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
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
