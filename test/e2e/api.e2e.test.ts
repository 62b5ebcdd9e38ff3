/**
 * The REST API end to end: `pipewright serve` refuses a non-loopback host while no token exists; after
 * `pipewright token create` (the token is the last line), a run triggered over HTTP is executed by the
 * service and its status and log are visible over HTTP; SIGTERM still exits 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import {
  assertExit,
  collect,
  killGroup,
  makeTempDir,
  removeDir,
  runCli,
  spawnCli,
  waitFor,
  type CliResult,
} from './cli-harness.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

describe('the REST API of pipewright serve', { timeout: 120_000 }, () => {
  let project: string;
  let port: number;

  before(async () => {
    project = await makeTempDir('api');
    assertExit(await runCli(['init', project], { cwd: project }), 0, 'init');
    port = await freePort();
  });
  after(() => removeDir(project));

  it('refuses to listen beyond loopback without a token', async () => {
    const refused = await runCli(['serve', '--host', '0.0.0.0', '--port', String(port)], { cwd: project });
    assertExit(refused, 2, 'serve --host 0.0.0.0 without tokens');
    assert.match(refused.stderr, /PW_API_UNPROTECTED/);
    assert.match(refused.stderr, /pipewright token create/);
  });

  it('runs a pipeline triggered over HTTP with a token', async () => {
    const created = await runCli(['token', 'create', '--name', 'ops', '--scope', 'operate'], {
      cwd: project,
    });
    assertExit(created, 0, 'token create');
    const token = created.stdout.trimEnd().split('\n').at(-1) ?? '';
    assert.match(token, /^pw_[A-Za-z0-9_-]{43}$/);

    const child = spawnCli(['serve', '--port', String(port)], { cwd: project, env: {} });
    const done: Promise<CliResult> = collect(child, 100_000, 'serve');
    done.catch(() => undefined);
    try {
      const base = `http://127.0.0.1:${port}`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      assert.ok(
        await waitFor(
          async () => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200,
          20_000,
          200,
        ),
        'serve became ready',
      );
      assert.equal((await fetch(`${base}/api/pipelines`)).status, 401);
      const trigger = await fetch(`${base}/api/pipelines/sensor-documents/runs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ params: {} }),
      });
      assert.equal(trigger.status, 201);
      const { id } = (await trigger.json()) as { id: string };
      let status = '';
      await waitFor(
        async () => {
          const run = (await (await fetch(`${base}/api/runs/${id}`, { headers })).json()) as {
            status: string;
          };
          status = run.status;
          return status === 'succeeded' || status === 'failed';
        },
        60_000,
        300,
      );
      assert.equal(status, 'succeeded');
      const logs = (await (await fetch(`${base}/api/runs/${id}/logs`, { headers })).json()) as {
        logs: unknown[];
        next: number | null;
      };
      assert.ok(logs.logs.length > 0);
      assert.equal(logs.next, null);
    } finally {
      killGroup(child, 'SIGTERM');
    }
    assertExit(await done, 0, 'serve after SIGTERM');
  });
});
