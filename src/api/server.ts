/**
 * Starting the HTTP server of `pipewright serve`: refuses to listen beyond loopback while no API token
 * exists, then listens with the Fastify app and turns bind failures into clear usage errors.
 */
import { isIP } from 'node:net';
import { PwError } from '../core/errors/pw-error.js';
import type { StateStore } from '../store/state-store.js';
import { buildApp, type AppOptions } from './app.js';

export interface ApiServer {
  /** The address actually bound (port 0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare.startsWith('::ffff:127.');
}

/** PW_API_UNPROTECTED when `host` is reachable from other machines and no unrevoked token exists. */
export async function assertProtected(store: StateStore, host: string): Promise<void> {
  if (isLoopback(host)) return;
  const active = (await store.listApiTokens()).filter((token) => token.revokedAt === undefined);
  if (active.length > 0) return;
  throw new PwError('PW_API_UNPROTECTED', `Refusing to listen on ${host} without any API token`, {
    hint: 'Create one first: pipewright token create --name <name> --scope admin (or listen on 127.0.0.1).',
  });
}

export async function startApiServer(
  options: AppOptions & { host: string; port: number },
): Promise<ApiServer> {
  await assertProtected(options.store, options.host);
  const app = await buildApp(options);
  app.server.keepAliveTimeout = 5_000;
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await app.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new PwError('PW_USAGE', `Cannot listen on ${options.host}:${options.port}: ${code}`, {
        hint:
          code === 'EADDRINUSE'
            ? 'Another process uses that port; pick another with --port.'
            : 'Check --host and --port.',
      });
    }
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, close: () => app.close() };
}
