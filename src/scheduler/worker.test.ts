/**
 * Workers against a real SQLite store and real run databases in a temporary project: executing queued
 * runs, concurrency, a cancel request reaching a running step, a graceful shutdown that requeues the
 * run and another worker resuming it from its checkpoint, and a run that cannot start.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { defineStep } from '../core/step.js';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import type { Project } from '../project/load-project.js';
import type { RunRecord, StateStore } from '../store/state-store.js';
import { createWorkerProject, type WorkerProject } from './worker-project.fixture.js';
import { Worker, type WorkerOptions } from './worker.js';
import { signallingQueuedRuns } from './queue-signal.js';

/** Runs whose `hold` step should wait (until aborted) the first time it executes. */
const holdOnce = new Set<string>();
const holdStarted = new Set<string>();

const holdStep = defineStep({
  type: 'test.hold',
  kind: 'custom',
  description:
    'Waits until aborted on the first execution of a run listed in holdOnce; else returns at once.',
  config: z.strictObject({}),
  producesDataset: false,
  async run(ctx) {
    holdStarted.add(ctx.run.id);
    if (holdOnce.delete(ctx.run.id)) await delay(60_000, undefined, { signal: ctx.signal });
    return { rows: 0 };
  },
});

let store: StateStore;
let project: Project;
const workers: Worker[] = [];

let fixture: WorkerProject;

before(async () => {
  fixture = await createWorkerProject({ id: 'hold', step: holdStep });
  ({ store, project } = fixture);
});

after(async () => {
  await Promise.all(workers.map((worker) => worker.stop(0)));
  await fixture.dispose();
});

let counter = 0;
async function enqueue(overrides: Partial<RunRecord> = {}): Promise<RunRecord> {
  counter += 1;
  const now = new Date();
  const run = await store.enqueueRun({
    id: `run-${String(counter).padStart(3, '0')}`,
    pipelineId: 'p',
    revision: 1,
    status: 'queued',
    trigger: 'manual:test',
    params: {},
    scheduledFor: now,
    queuedAt: now,
    ...overrides,
  } as Parameters<StateStore['enqueueRun']>[0]);
  assert.ok(run);
  return run;
}

function worker(options: Partial<WorkerOptions> = {}): Worker {
  const created = new Worker({ store, project, pollMs: 20, leaseMs: 3_000, env: {}, ...options });
  workers.push(created);
  created.start();
  return created;
}

async function until(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

async function statusOf(id: string): Promise<string | undefined> {
  return (await store.getRun(id))?.status;
}

describe('worker', () => {
  it('claims queued runs and executes them with their stored revision, recording host and pid', async () => {
    const runs = [await enqueue(), await enqueue()];
    const lines: string[] = [];
    const w = worker({ concurrency: 2, log: (level, message) => lines.push(`${level} ${message}`) });
    for (const run of runs)
      await until(`${run.id} to succeed`, async () => (await statusOf(run.id)) === 'succeeded');
    await w.stop();
    for (const run of runs) {
      const done = await store.getRun(run.id);
      assert.equal(done?.attempt, 1);
      assert.equal(done?.host, hostname());
      assert.equal(done?.pid, process.pid);
      assert.equal(done?.leaseOwner, w.id);
      const attempts = await store.listStepAttempts(run.id);
      assert.deepEqual(
        attempts.map((attempt) => [attempt.stepId, attempt.status]),
        [
          ['numbers', 'succeeded'],
          ['hold', 'succeeded'],
          ['total', 'succeeded'],
        ],
      );
    }
    assert.ok(
      lines.some((line) => line.includes(`run ${runs[0]?.id} (p) succeeded`)),
      lines.join('\n'),
    );
  });

  it('a cancel request reaches the running step and the run ends cancelled', async () => {
    const run = await enqueue();
    holdOnce.add(run.id);
    const w = worker({ leaseMs: 900 });
    await until('the hold step to start', () => holdStarted.has(run.id));
    const asked = Date.now();
    await store.requestCancel(run.id, new Date());
    await until('the run to be cancelled', async () => (await statusOf(run.id)) === 'cancelled');
    assert.ok(Date.now() - asked < 3_000, `cancel took ${Date.now() - asked} ms`);
    const attempts = await store.listStepAttempts(run.id);
    assert.deepEqual(attempts.find((attempt) => attempt.stepId === 'hold')?.status, 'cancelled');
    await w.stop();
    assert.equal(await statusOf(run.id), 'cancelled', 'a cancelled run is not requeued');
  });

  it('on shutdown, a run past the grace period is requeued and another worker resumes it from its checkpoint', async () => {
    const run = await enqueue();
    holdOnce.add(run.id);
    const first = worker();
    await until('the hold step to start', () => holdStarted.has(run.id));
    await first.stop(100);
    const requeued = await store.getRun(run.id);
    assert.equal(requeued?.status, 'queued');
    assert.equal(requeued?.attempt, 2);
    const logs = (await store.listLogs(run.id)).map((entry) => entry.message);
    assert.ok(
      logs.some((message) => message.includes('the worker shut down; run requeued')),
      logs.join('\n'),
    );

    const second = worker();
    await until('the resumed run to succeed', async () => (await statusOf(run.id)) === 'succeeded');
    await second.stop();
    const attempts = await store.listStepAttempts(run.id);
    assert.deepEqual(
      attempts.map((attempt) => [attempt.stepId, attempt.attempt, attempt.runAttempt, attempt.status]),
      [
        ['numbers', 1, 1, 'succeeded'],
        ['hold', 1, 1, 'cancelled'],
        ['hold', 2, 2, 'succeeded'],
        ['total', 1, 2, 'succeeded'],
      ],
      'the finished first step was not run again',
    );
    const logsAfter = (await store.listLogs(run.id)).map((entry) => entry.message);
    assert.ok(
      logsAfter.some((message) => message.includes('resuming run (attempt 2); 1 steps already done')),
      logsAfter.join('\n'),
    );
  });

  it('a worker that lost its lease stops the run without recording its end; the next holder finishes it', async () => {
    const run = await enqueue();
    holdOnce.add(run.id);
    const lines: string[] = [];
    // A worker whose clock lags ten minutes: every lease it takes or renews has already expired. It
    // stops claiming as soon as it gives the run up, so that the run stays in the queue to be looked at.
    const lagging: Worker = worker({
      clock: () => new Date(Date.now() - 600_000),
      requeueExpired: false,
      log: (level, message) => {
        lines.push(`${level} ${message}`);
        if (message.includes('lease passed to another worker')) void lagging.stop();
      },
    });
    await until('the hold step to start', () => holdStarted.has(run.id));
    const taken = await store.requeueExpiredLeases(new Date(), 3);
    assert.deepEqual(
      taken.requeued.map((record) => record.id),
      [run.id],
    );
    await until('the lagging worker to give the run up', () =>
      lines.some((line) => line.includes('stopped here after its lease passed to another worker')),
    );
    await lagging.stop();
    assert.equal(
      await statusOf(run.id),
      'queued',
      'the lagging worker did not record cancelled over the requeue',
    );

    const next = worker();
    await until('the run to succeed', async () => (await statusOf(run.id)) === 'succeeded');
    await next.stop();
    assert.equal((await store.getRun(run.id))?.leaseOwner, next.id);
  });

  it('a requeued run without a workspace starts again from the first step', async () => {
    const run = await enqueue();
    // As if a worker on another machine had done the first step before losing its lease.
    await store.claimRun({ workerId: 'elsewhere', now: new Date(), leaseMs: 1 });
    await store.startStepAttempt({
      runId: run.id,
      stepId: 'numbers',
      attempt: 1,
      runAttempt: 1,
      startedAt: new Date(),
      status: 'running',
    });
    await store.finishStepAttempt(run.id, 'numbers', 1, {
      status: 'succeeded',
      finishedAt: new Date(),
      rows: 10,
    });
    await store.startStepAttempt({
      runId: run.id,
      stepId: 'hold',
      attempt: 1,
      runAttempt: 1,
      startedAt: new Date(),
      status: 'running',
    });
    await delay(5);
    const w = worker();
    await until('the restarted run to succeed', async () => (await statusOf(run.id)) === 'succeeded');
    await w.stop();
    const done = await store.getRun(run.id);
    assert.equal(done?.attempt, 2, 'requeued once after the lease expired');
    const attempts = await store.listStepAttempts(run.id);
    assert.deepEqual(
      attempts
        .map((attempt) => [attempt.stepId, attempt.attempt, attempt.status, attempt.error?.code ?? null])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1])),
      [
        ['hold', 1, 'failed', 'PW_PROCESS_LOST'],
        ['hold', 2, 'succeeded', null],
        ['numbers', 1, 'succeeded', null],
        ['numbers', 2, 'succeeded', null],
        ['total', 1, 'succeeded', null],
      ],
      'every step ran again, the first one included',
    );
  });

  it('a run whose step module is missing fails with the reason instead of blocking the queue', async () => {
    const spec = pipelineSchema.parse({ id: 'broken', steps: [{ id: 'x', uses: './steps/missing.js' }] });
    await store.savePipelineRevision({
      pipelineId: 'broken',
      hash: definitionHash(spec),
      definition: spec,
      sourcePath: 'pipelines/broken.yaml',
      at: new Date(),
    });
    const run = await enqueue({ pipelineId: 'broken' });
    const next = await enqueue();
    const w = worker();
    await until('the next run to succeed', async () => (await statusOf(next.id)) === 'succeeded');
    await w.stop();
    const failed = await store.getRun(run.id);
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.error?.code, 'PW_STEP_MODULE_INVALID');
    const logs = (await store.listLogs(run.id)).map((entry) => entry.message);
    assert.ok(
      logs.some((message) => message.includes('run failed before its first step')),
      logs.join('\n'),
    );
  });

  it('an idle worker claims at once when nudged; runs queued through the signalling store nudge it', async () => {
    // A store of its own: workers of earlier tests still poll the shared one.
    const own = await createWorkerProject({ id: 'hold', step: holdStep });
    const w = new Worker({ store: own.store, project: own.project, pollMs: 3_600_000, env: {} });
    const queue = async (target: StateStore, id: string) => {
      const now = new Date();
      const run = await target.enqueueRun({
        id,
        pipelineId: 'p',
        revision: 1,
        status: 'queued',
        trigger: 'manual:test',
        params: {},
        scheduledFor: now,
        queuedAt: now,
      });
      assert.ok(run);
      return run.id;
    };
    const succeeded = (id: string) => async () => (await own.store.getRun(id))?.status === 'succeeded';
    try {
      w.start();
      // Its first claim finds nothing; the next poll is an hour away.
      await delay(300);
      const unseen = await queue(own.store, 'nudge-1');
      await delay(500);
      assert.equal((await own.store.getRun(unseen))?.status, 'queued');
      w.nudge();
      await until('the nudged run to succeed', succeeded(unseen));

      await delay(300);
      const announced = await queue(
        signallingQueuedRuns(own.store, () => w.nudge()),
        'nudge-2',
      );
      await until('the announced run to succeed', succeeded(announced));
    } finally {
      await w.stop();
      await own.dispose();
    }
  });

  it('stops promptly when idle', async () => {
    const w = worker({ pollMs: 5_000 });
    await delay(50);
    const started = Date.now();
    await w.stop();
    assert.ok(Date.now() - started < 500, `stop took ${Date.now() - started} ms`);
  });
});
