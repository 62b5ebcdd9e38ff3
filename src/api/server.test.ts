/**
 * `serve`'s HTTP server: it refuses to listen beyond loopback while no API token exists, and on
 * loopback it answers /health over a real socket.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createProject } from '../cli/commands/init.js';
import { PwError } from '../core/errors/pw-error.js';
import { loadProject } from '../project/load-project.js';
import { openStateStore } from '../store/open-store.js';
import { assertProtected, isLoopback, startApiServer } from './server.js';

const scratch = mkdtempSync(join(tmpdir(), 'pw-api-server-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('loopback addresses are recognised', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
    assert.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.org']) assert.ok(!isLoopback(host), host);
});

test('refuses a non-loopback host without an active token; listens on loopback', async () => {
  const project = await loadProject(await createProject(join(scratch, 'p')));
  const store = await openStateStore(project.spec.state, project.dir);
  try {
    const refused = (error: unknown) =>
      error instanceof PwError &&
      error.code === 'PW_API_UNPROTECTED' &&
      /token create/.test(error.hint ?? '');
    await assert.rejects(assertProtected(store, '0.0.0.0'), refused);
    await store.createApiToken({ name: 'old', scope: 'admin', hash: 'h', at: new Date() });
    await store.revokeApiToken('old', new Date());
    await assert.rejects(assertProtected(store, '0.0.0.0'), refused, 'a revoked token does not count');
    await store.createApiToken({ name: 'ops', scope: 'admin', hash: 'h2', at: new Date() });
    await assertProtected(store, '0.0.0.0');

    const server = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      store,
      project,
      pipelines: () => [],
      version: '0.0.0-test',
    });
    try {
      const response = await fetch(`${server.url}/health`);
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { status: string }).status, 'ok');
    } finally {
      await server.close();
    }
  } finally {
    await store.close();
  }
});
