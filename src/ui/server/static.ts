/**
 * Serving the web UI's build (`dist/ui/`): hashed assets under `/assets/` with their precompressed
 * `.br`/`.gz` siblings chosen by `Accept-Encoding` and cached for a year, and the app shell
 * (`index.html`, never cached) for `/` and every other non-API path, so the browser app routes itself.
 * HTML carries a strict Content-Security-Policy; every UI response is `nosniff` with a same-origin
 * referrer policy. Paths are matched against a strict pattern before touching the disk: no traversal.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PACKAGE_ROOT } from '../../package-root.js';

/** Where `npm run build` writes the UI. */
export const DEFAULT_UI_DIR = join(PACKAGE_ROOT, 'dist', 'ui');

export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "frame-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
} as const;

/** Paths that are never the app shell: the API, the session routes, metrics and the probes. */
const SERVER_PATHS = /^\/(?:api|ui)(?:\/|$)|^\/(?:metrics|health|ready)$/;
/** One or more path segments of letters, digits, `.`, `_`, `-`, none starting with a dot. */
const ASSET_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
  json: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  txt: 'text/plain; charset=utf-8',
};

const ENCODINGS = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
] as const;

/** The encodings the client accepts (q > 0), by name. */
export function acceptedEncodings(header: string | undefined): Set<string> {
  const accepted = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue;
    if (name !== '') accepted.add(name);
  }
  return accepted;
}

async function fileSize(path: string): Promise<number | undefined> {
  return stat(path).then(
    (info) => (info.isFile() ? info.size : undefined),
    () => undefined,
  );
}

export interface UiServingOptions {
  /** The UI build folder (holding index.html and assets/); default `dist/ui` of the package. */
  dir?: string | undefined;
}

/** True when `GET url` should answer the app shell: not an API, session, metrics or probe path. */
export function isAppPath(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return !SERVER_PATHS.test(path) && !path.startsWith('/assets/');
}

/**
 * Registers `GET /assets/*` and returns the handler for app paths, which the app's not-found handler
 * calls for GET and HEAD requests that `isAppPath` accepts.
 */
export function registerUi(
  app: FastifyInstance,
  options: UiServingOptions = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const dir = options.dir ?? DEFAULT_UI_DIR;
  const assets = join(dir, 'assets');

  const notFound = (reply: FastifyReply) =>
    reply
      .code(404)
      .headers(SECURITY_HEADERS)
      .header('cache-control', 'no-cache')
      .type('text/plain; charset=utf-8')
      .send('Not found\n');

  app.get('/assets/*', async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    const extension = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
    const type = extension === undefined ? undefined : CONTENT_TYPES[extension];
    if (!ASSET_PATH.test(name) || type === undefined) return notFound(reply);
    const path = join(assets, name);
    const size = await fileSize(path);
    if (size === undefined) return notFound(reply);
    const accepted = acceptedEncodings(request.headers['accept-encoding']);
    let body = path;
    let length = size;
    for (const encoding of ENCODINGS) {
      if (!accepted.has(encoding.name)) continue;
      const variant = await fileSize(path + encoding.suffix);
      if (variant === undefined) continue;
      body = path + encoding.suffix;
      length = variant;
      void reply.header('content-encoding', encoding.name);
      break;
    }
    return reply
      .headers(SECURITY_HEADERS)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('vary', 'Accept-Encoding')
      .header('content-length', length)
      .type(type)
      .send(await readFile(body));
  });

  return async (_request, reply) => {
    // Read on every request: the shell is small, and a rebuilt UI is picked up without a restart.
    const shell = await readFile(join(dir, 'index.html')).catch(() => undefined);
    void reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache');
    if (shell === undefined) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(`The web UI is not built (no ${join(dir, 'index.html')}); run: npm run build\n`);
    }
    return reply.header('content-security-policy', UI_CSP).type('text/html; charset=utf-8').send(shell);
  };
}
