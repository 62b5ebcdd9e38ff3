/**
 * `pipewright demo`, the README's main command: it creates the demo project with an API token kept in
 * a file only its owner can read, serves it on loopback so the weekly pipeline runs once at start-up,
 * answers the REST API with that token, stops on SIGTERM, and keeps the token across restarts.
 * `demo --once` runs the weekly pipeline a single time and exits.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, killGroup, listRuns, makeTempDir, removeDir, runCli, waitFor } from './cli-harness.js';
import { freePort, startService, waitForRun, type Service } from './service-harness.js';

describe('pipewright demo', { timeout: 180_000 }, () => {
  let root: string;
  let project: string;
  let demo: Service | undefined;

  before(async () => {
    root = await makeTempDir('demo');
    project = join(root, 'demo');
  });

  after(async () => {
    if (demo) killGroup(demo.child, 'SIGKILL');
    await removeDir(root);
  });

  it('creates and serves the demo project; the weekly pipeline runs at start-up; the token file opens the API', async () => {
    const port = await freePort();
    demo = startService(['demo', '--port', String(port)], root);
    const base = `http://127.0.0.1:${port}`;
    const service = demo;
    const ready = await waitFor(
      async () => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200,
      60_000,
      100,
    );
    assert.ok(ready, `demo became ready\n${service.output()}`);
    const run = await waitForRun(
      project,
      'the start-up weekly-temperature run succeeded',
      (runs) =>
        runs.find(
          (candidate) => candidate.pipeline === 'weekly-temperature' && candidate.status === 'succeeded',
        ),
      90_000,
      demo,
    );
    assert.equal(run.trigger, 'schedule');
    assert.match(demo.output(), /Created the demo project in demo\//);

    const tokenFile = join(project, '.pipewright', 'demo-token');
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600, 'the token file is for its owner only');
    const token = (await readFile(tokenFile, 'utf8')).trim();
    assert.match(token, /^pw_[A-Za-z0-9_-]{43}$/);
    assert.doesNotMatch(demo.output(), new RegExp(token), 'the token is never printed');

    const anonymous = await fetch(`${base}/api/runs`);
    assert.equal(anonymous.status, 401);
    const listed = await fetch(`${base}/api/runs?pipeline=weekly-temperature`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(listed.status, 200);
    const body = (await listed.json()) as { runs: { id: string; status: string }[] };
    assert.deepEqual(
      body.runs.map((listedRun) => [listedRun.id, listedRun.status]),
      [[run.id, 'succeeded']],
    );

    killGroup(demo.child, 'SIGTERM');
    const stopped = await demo.done;
    demo = undefined;
    assertExit(stopped, 0, 'demo after SIGTERM');
  });

  it('keeps the project and its token on the next start; --once runs the weekly pipeline and exits', async () => {
    const tokenBefore = await readFile(join(project, '.pipewright', 'demo-token'), 'utf8');
    const once = await runCli(['demo', '--once'], { cwd: root });
    assertExit(once, 0, 'demo --once');
    assert.doesNotMatch(once.stdout, /Created the demo project/);
    assert.equal(await readFile(join(project, '.pipewright', 'demo-token'), 'utf8'), tokenBefore);
    const weekly = (await listRuns(project)).filter(
      (candidate) => candidate.pipeline === 'weekly-temperature',
    );
    assert.deepEqual(weekly.map((candidate) => [candidate.trigger, candidate.status]).sort(), [
      ['manual:cli', 'succeeded'],
      ['schedule', 'succeeded'],
    ]);
  });
});
