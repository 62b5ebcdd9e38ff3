/**
 * Serving the UI build from a fake `dist/ui` in a temp folder: assets with their precompressed variants
 * by Accept-Encoding, immutable caching, no traversal, and the shell with its security headers for
 * app paths but never for API paths.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { UI_CSP, acceptedEncodings, isAppPath, registerUi } from './static.js';

const scratch = mkdtempSync(join(tmpdir(), 'pw-ui-static-'));
const dir = join(scratch, 'ui');
const SCRIPT = 'console.log("app");\n'.repeat(50);
const SHELL =
  '<!doctype html><html><head><script type="module" src="/assets/app-abc123.js"></script></head></html>\n';
let app: FastifyInstance;

before(async () => {
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), SHELL);
  writeFileSync(join(dir, 'assets', 'app-abc123.js'), SCRIPT);
  writeFileSync(join(dir, 'assets', 'app-abc123.js.gz'), gzipSync(SCRIPT));
  writeFileSync(join(dir, 'assets', 'app-abc123.js.br'), brotliCompressSync(SCRIPT));
  writeFileSync(join(dir, 'assets', 'app-def456.css'), 'body{color:red}');
  writeFileSync(join(scratch, 'secret.txt'), 'not for the web');
  app = Fastify();
  const shell = registerUi(app, { dir });
  app.setNotFoundHandler((request, reply) =>
    isAppPath(request.url) ? shell(request, reply) : reply.code(404).send({ api: true }),
  );
  await app.ready();
});

after(async () => {
  await app.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('UI static serving', () => {
  test('an asset picks br, then gzip, then identity by Accept-Encoding, cached immutably', async () => {
    const br = await app.inject({ url: '/assets/app-abc123.js', headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(br.statusCode, 200);
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(br.headers['content-type']), /^text\/javascript/);
    assert.equal(br.headers['x-content-type-options'], 'nosniff');
    assert.deepEqual(br.rawPayload, brotliCompressSync(SCRIPT));

    const gzip = await app.inject({
      url: '/assets/app-abc123.js',
      headers: { 'accept-encoding': 'gzip, br;q=0' },
    });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.deepEqual(gzip.rawPayload, gzipSync(SCRIPT));

    const plain = await app.inject({ url: '/assets/app-abc123.js' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body, SCRIPT);
    assert.equal(Number(plain.headers['content-length']), Buffer.byteLength(SCRIPT));

    const css = await app.inject({ url: '/assets/app-def456.css', headers: { 'accept-encoding': 'br' } });
    assert.equal(css.headers['content-encoding'], undefined, 'no variant on disk: sent as it is');
    assert.match(String(css.headers['content-type']), /^text\/css/);
  });

  test('unknown assets, traversal and variants asked for directly are 404', async () => {
    for (const url of [
      '/assets/nope.js',
      '/assets/..%2fsecret.txt',
      '/assets/.hidden.js',
      '/assets/app-abc123.js.gz',
      '/assets/',
    ]) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 404, url);
      assert.ok(!response.body.includes('not for the web'), url);
    }
    // The URL is normalised before routing: this is the shell at /secret.txt, not the file.
    for (const url of ['/assets/../secret.txt', '/assets/%2e%2e/secret.txt']) {
      const dotted = await app.inject({ url });
      assert.ok(dotted.statusCode === 404 || dotted.body === SHELL, url);
      assert.ok(!dotted.body.includes('not for the web'), url);
    }
  });

  test('app routes and unknown paths get the shell with CSP, no-cache and security headers', async () => {
    for (const url of [
      '/',
      '/pipelines/weekly',
      '/runs/20260101-x?tab=logs',
      '/activity',
      '/settings',
      '/sign-in',
      '/what',
    ]) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.body, SHELL);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      assert.equal(response.headers['cache-control'], 'no-cache');
      assert.equal(response.headers['content-security-policy'], UI_CSP);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['referrer-policy'], 'same-origin');
    }
    assert.match(UI_CSP, /script-src 'self'; style-src 'self'/);
    assert.match(UI_CSP, /frame-ancestors 'self'/);
  });

  test('API, session, metrics and probe paths are never the shell', () => {
    for (const url of [
      '/api',
      '/api/runs',
      '/ui/session',
      '/metrics',
      '/health',
      '/ready?x=1',
      '/assets/x.js',
    ])
      assert.equal(isAppPath(url), false, url);
    for (const url of ['/', '/apiary', '/healthy', '/runs/1', '/ui-guide'])
      assert.equal(isAppPath(url), true, url);
  });

  test('Accept-Encoding parsing honours q=0', () => {
    assert.deepEqual([...acceptedEncodings('gzip;q=1.0, br;q=0, identity')], ['gzip', 'identity']);
    assert.deepEqual([...acceptedEncodings(undefined)], []);
  });

  test('a missing build answers 503 saying how to build it', async () => {
    const bare = Fastify();
    const shell = registerUi(bare, { dir: join(scratch, 'missing') });
    bare.setNotFoundHandler((request, reply) => shell(request, reply));
    const response = await bare.inject({ url: '/' });
    assert.equal(response.statusCode, 503);
    assert.match(response.body, /npm run build/);
    await bare.close();
  });
});
