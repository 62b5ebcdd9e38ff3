/**
 * Several `pipewright worker` processes sharing one queue, on SQLite and on PostgreSQL: three workers
 * drain 300 queued runs and every run is executed exactly once (a user step appends the run id and its
 * process id to a file, so a second execution anywhere would show); and `service.max_running` holds
 * across processes (no two runs' start-to-finish intervals overlap when it is 1).
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DefinitionSync } from '../../src/scheduler/definitions.js';
import { silentLog } from '../../src/scheduler/service-log.js';
import { loadProject } from '../../src/project/load-project.js';
import { openStateStore } from '../../src/store/open-store.js';
import type { RunRecord, StateStore } from '../../src/store/state-store.js';
import { postgres, reportPostgresUnavailable } from '../../src/store/test-adapters.js';
import { killGroup, makeTempDir, removeDir, writeFiles } from './cli-harness.js';
import { startService, type Service } from './service-harness.js';

const MARK_STEP = `// Appends "<run id> <pid>" to marks.log: one line per execution of the step.
import { appendFile } from 'node:fs/promises';
export default {
  kind: 'transform',
  description: 'Records that this run executed, and where.',
  config: (z) => z.strictObject({ hold_ms: z.number().default(0) }),
  producesDataset: false,
  async run(ctx, config) {
    await appendFile(ctx.resolvePath('marks.log'), ctx.run.id + ' ' + process.pid + '\\n');
    if (config.hold_ms > 0) await new Promise((done) => setTimeout(done, config.hold_ms));
    return {};
  },
};
`;

interface Fleet {
  project: string;
  store: StateStore;
  env: Record<string, string>;
  workers: Service[];
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A project with pipeline `mark`, its definition stored, on SQLite or a fresh PostgreSQL database. */
async function createFleet(
  kind: 'sqlite' | 'postgres',
  options: { maxRunning?: number; holdMs?: number } = {},
): Promise<Fleet> {
  const project = await makeTempDir(`fleet-${kind}`);
  const env: Record<string, string> = {
    PIPEWRIGHT_POLL_MS: '50',
    PIPEWRIGHT_LEASE_MS: '10000',
    PIPEWRIGHT_SHUTDOWN_GRACE_MS: '2000',
  };
  if (kind === 'postgres') {
    assert.ok(typeof postgres !== 'string');
    env.PIPEWRIGHT_STATE_URL = postgres.url(await postgres.migratedDatabase());
  }
  await writeFiles(project, {
    'pipewright.yaml': [
      'workspace: { keep: never }',
      'duckdb: { memory_limit: 128MB, threads: 1 }',
      ...(options.maxRunning === undefined ? [] : [`service: { max_running: ${options.maxRunning} }`]),
      '',
    ].join('\n'),
    'pipelines/mark.yaml': [
      'id: mark',
      'steps:',
      '  - id: mark',
      '    uses: ./steps/mark.js',
      `    with: { hold_ms: ${options.holdMs ?? 0} }`,
      '',
    ].join('\n'),
    'steps/mark.js': MARK_STEP,
  });
  const previousUrl = process.env.PIPEWRIGHT_STATE_URL;
  if (env.PIPEWRIGHT_STATE_URL !== undefined) process.env.PIPEWRIGHT_STATE_URL = env.PIPEWRIGHT_STATE_URL;
  const loaded = await loadProject(project);
  const store = await openStateStore(loaded.spec.state, loaded.dir).finally(() => {
    if (previousUrl === undefined) delete process.env.PIPEWRIGHT_STATE_URL;
    else process.env.PIPEWRIGHT_STATE_URL = previousUrl;
  });
  await new DefinitionSync({ project: loaded, store, log: silentLog }).sync();
  const fleet: Fleet = { project, store, env, workers: [] };
  cleanups.push(async () => {
    for (const worker of fleet.workers) killGroup(worker.child, 'SIGKILL');
    await store.close();
    await removeDir(project);
  });
  return fleet;
}

async function enqueue(store: StateStore, count: number): Promise<string[]> {
  const ids: string[] = [];
  const now = new Date();
  for (let index = 0; index < count; index += 1) {
    const id = `fleet-${String(index).padStart(4, '0')}`;
    const run = await store.enqueueRun({
      id,
      pipelineId: 'mark',
      revision: 1,
      status: 'queued',
      trigger: 'manual:test',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });
    assert.ok(run, `run ${id} queued`);
    ids.push(id);
  }
  return ids;
}

async function allRuns(store: StateStore, count: number): Promise<RunRecord[]> {
  return store.listRuns({ pipelineId: 'mark', limit: count + 10 });
}

async function untilFinished(fleet: Fleet, count: number, timeoutMs: number): Promise<RunRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = await allRuns(fleet.store, count);
    if (runs.length === count && runs.every((run) => run.status === 'succeeded' || run.status === 'failed')) {
      return runs;
    }
    if (Date.now() > deadline) {
      const byStatus = new Map<string, number>();
      for (const run of runs) byStatus.set(run.status, (byStatus.get(run.status) ?? 0) + 1);
      assert.fail(
        `${count} runs not finished within ${timeoutMs} ms: ${JSON.stringify(Object.fromEntries(byStatus))}\n` +
          fleet.workers.map((worker) => worker.output()).join('\n---\n'),
      );
    }
    await new Promise((done) => setTimeout(done, 250));
  }
}

async function marks(project: string): Promise<{ runId: string; pid: number }[]> {
  const text = await readFile(join(project, 'marks.log'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [runId = '', pid = ''] = line.split(' ');
      return { runId, pid: Number(pid) };
    });
}

async function stopAll(fleet: Fleet): Promise<void> {
  for (const worker of fleet.workers) killGroup(worker.child, 'SIGTERM');
  for (const worker of fleet.workers) {
    const result = await worker.done;
    assert.equal(result.code, 0, `worker exit after SIGTERM\n${worker.output()}`);
  }
  fleet.workers = [];
}

function skipWithoutPostgres(t: TestContext): boolean {
  if (typeof postgres !== 'string') return false;
  reportPostgresUnavailable(t, postgres);
  return true;
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`worker processes sharing a ${kind} store`, { timeout: 240_000 }, () => {
    it('three workers drain 300 queued runs, each executed exactly once', async (t) => {
      if (kind === 'postgres' && skipWithoutPostgres(t)) return;
      const fleet = await createFleet(kind);
      const ids = await enqueue(fleet.store, 300);
      for (let index = 0; index < 3; index += 1) {
        fleet.workers.push(startService(['worker', '--concurrency', '2'], fleet.project, fleet.env));
      }
      const runs = await untilFinished(fleet, 300, 180_000);
      const workerPids = new Set(fleet.workers.map((worker) => worker.child.pid));
      await stopAll(fleet);

      assert.deepEqual(
        runs
          .filter((run) => run.status !== 'succeeded' || run.attempt !== 1)
          .map((run) => [run.id, run.status, run.attempt]),
        [],
        'every run succeeded on its first attempt',
      );
      const executed = await marks(fleet.project);
      assert.equal(executed.length, 300, 'one execution per run, no more');
      assert.deepEqual(executed.map((mark) => mark.runId).sort(), ids);
      const byPid = new Map<number, number>();
      for (const mark of executed) byPid.set(mark.pid, (byPid.get(mark.pid) ?? 0) + 1);
      for (const pid of byPid.keys())
        assert.ok(workerPids.has(pid), `pid ${pid} is one of the three workers`);
      assert.ok(
        byPid.size >= 2,
        `the work was shared: runs per worker ${JSON.stringify([...byPid.values()])}`,
      );
      const markedBy = new Map(executed.map((mark) => [mark.runId, mark.pid]));
      assert.deepEqual(
        runs
          .filter((run) => run.pid !== markedBy.get(run.id))
          .map((run) => [run.id, run.pid, markedBy.get(run.id)]),
        [],
        'each run records the process that executed it',
      );
    });

    it('service.max_running: 1 holds across two worker processes', async (t) => {
      if (kind === 'postgres' && skipWithoutPostgres(t)) return;
      const fleet = await createFleet(kind, { maxRunning: 1, holdMs: 150 });
      await enqueue(fleet.store, 8);
      for (let index = 0; index < 2; index += 1) {
        fleet.workers.push(startService(['worker', '--concurrency', '2'], fleet.project, fleet.env));
      }
      const runs = await untilFinished(fleet, 8, 120_000);
      await stopAll(fleet);
      assert.ok(runs.every((run) => run.status === 'succeeded'));
      const intervals = runs
        .map((run) => [run.startedAt?.getTime() ?? NaN, run.finishedAt?.getTime() ?? NaN] as const)
        .sort((a, b) => a[0] - b[0]);
      for (let index = 1; index < intervals.length; index += 1) {
        const previous = intervals[index - 1];
        const current = intervals[index];
        assert.ok(previous && current);
        assert.ok(
          current[0] >= previous[1],
          `run ${index} started at ${current[0]} before the previous one finished at ${previous[1]}`,
        );
      }
    });
  });
}
