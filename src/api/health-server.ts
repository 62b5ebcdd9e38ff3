/**
 * The HTTP seam of `pipewright serve`: for now only `GET /health` (the process is up) and
 * `GET /ready` (the state store answers and the definitions are loaded), both JSON, on node:http.
 * The REST API replaces this module with a Fastify server that keeps both routes.
 */
import { createServer, type Server } from 'node:http';
import { PwError } from '../core/errors/pw-error.js';

export interface HealthServerOptions {
  host: string;
  port: number;
  /** Resolves with extra fields when ready, rejects (or returns false) when not. */
  ready: () => Promise<boolean | Record<string, unknown>>;
  version: string;
}

export interface HealthServer {
  /** The address actually bound (port 0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const startedAt = Date.now();
  const server: Server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      response.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
      });
      response.end(text);
    };
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, { status: 405, title: 'Method not allowed' });
    } else if (path === '/health') {
      send(200, {
        status: 'ok',
        version: options.version,
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
      });
    } else if (path === '/ready') {
      options.ready().then(
        (ready) =>
          ready === false
            ? send(503, { status: 'starting' })
            : send(200, { status: 'ready', ...(ready === true ? {} : ready) }),
        (error: unknown) => send(503, { status: 'unavailable', error: (error as Error).message }),
      );
    } else {
      send(404, {
        status: 404,
        title: 'Not found',
        detail: 'This server answers GET /health and GET /ready; the REST API is not part of this version.',
      });
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL'
          ? new PwError('PW_USAGE', `Cannot listen on ${options.host}:${options.port}: ${error.code}`, {
              hint:
                error.code === 'EADDRINUSE'
                  ? 'Another process uses that port; pick another with --port.'
                  : 'Check --host and --port.',
            })
          : error,
      );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
