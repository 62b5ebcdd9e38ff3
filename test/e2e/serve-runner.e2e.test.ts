/**
 * `serve` executes runs in a runner process (src/cli/runner-supervisor.ts): started when a run is
 * queued, at a lower CPU priority, gone after its idle time, started again for the next run, and
 * never left behind when the service itself is killed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { assertExit, killGroup, makeProject, removeDir, runCli, waitFor } from './cli-harness.js';
import { freePort, getJson, startService, waitForRun, type Service } from './service-harness.js';

const IDLE_MS = 1_500;

/** Process ids whose parent is `pid` (from /proc, so it sees exactly the service's own children). */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    children.push(...text.split(/\s+/).filter(Boolean).map(Number));
  }
  return children;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The nice value of a process: field 19 of /proc/<pid>/stat, counted after the command's parentheses. */
async function niceOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[16]);
}

function runnerStarts(output: string): number[] {
  return [...output.matchAll(/runner (\d+) started/g)].map((match) => Number(match[1]));
}

describe('serve runs pipelines in a runner process', { timeout: 120_000 }, () => {
  let project: string;
  let serve: Service | undefined;

  before(async () => {
    project = await makeProject('runner', {
      'pipelines/trivial.yaml':
        'id: trivial\nsteps:\n  - id: one\n    uses: sql\n    with: { query: "SELECT 1 AS n" }\n',
    });
  });
  after(async () => {
    if (serve) killGroup(serve.child, 'SIGKILL');
    await removeDir(project);
  });

  it('starts no runner while nothing is queued, one for a triggered run, and lets it go when idle', async () => {
    const port = await freePort();
    serve = startService(['serve', '--port', String(port)], project, {
      PIPEWRIGHT_RUNNER_IDLE_MS: String(IDLE_MS),
    });
    const service = serve;
    const servePid = service.child.pid ?? 0;
    const ready = await waitFor(
      async () => (await getJson(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200,
      20_000,
      100,
    );
    assert.ok(ready, `serve became ready\n${service.output()}`);
    assert.deepEqual(await childrenOf(servePid), [], 'no runner before any work');

    assertExit(await runCli(['trigger', 'trivial'], { cwd: project }), 0, 'trigger');
    await waitForRun(
      project,
      'the first run succeeded',
      (runs) => runs.find((r) => r.status === 'succeeded'),
      30_000,
      service,
    );
    const [firstRunner] = runnerStarts(service.output());
    assert.ok(firstRunner !== undefined, `a runner was started\n${service.output()}`);
    assert.equal(await niceOf(firstRunner).catch(() => NaN), 10, 'the runner runs at nice 10');

    const gone = await waitFor(async () => !alive(firstRunner), IDLE_MS + 10_000, 100);
    assert.ok(gone, `the runner exited after ${IDLE_MS} ms idle\n${service.output()}`);
    assert.match(service.output(), new RegExp(`runner ${firstRunner} idle; exiting`));
    assert.deepEqual(await childrenOf(servePid), [], 'no runner left while idle');

    assertExit(await runCli(['trigger', 'trivial'], { cwd: project }), 0, 'second trigger');
    await waitForRun(
      project,
      'the second run succeeded',
      (runs) => (runs.filter((r) => r.status === 'succeeded').length === 2 ? runs[0] : undefined),
      30_000,
      service,
    );
    const starts = runnerStarts(service.output());
    assert.equal(starts.length, 2, `a new runner for the second run\n${service.output()}`);
    assert.notEqual(starts[1], firstRunner);
  });

  it('leaves no runner behind when serve is killed with SIGKILL', async () => {
    assert.ok(serve, 'serve is up');
    const service = serve;
    const runnersGone = await waitFor(
      async () => (await childrenOf(service.child.pid ?? 0)).length === 0,
      20_000,
      100,
    );
    assert.ok(runnersGone, `the second runner went idle\n${service.output()}`);
    assertExit(await runCli(['trigger', 'trivial'], { cwd: project }), 0, 'third trigger');
    const started = await waitFor(async () => runnerStarts(service.output()).length === 3, 20_000, 100);
    assert.ok(started, `a third runner started\n${service.output()}`);
    const runner = runnerStarts(service.output())[2] ?? 0;
    process.kill(service.child.pid ?? 0, 'SIGKILL');
    await service.done.catch(() => undefined);
    serve = undefined;
    const gone = await waitFor(async () => !alive(runner), 15_000, 100);
    assert.ok(gone, `runner ${runner} exited once the service was gone`);
  });
});
