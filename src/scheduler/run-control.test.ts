/**
 * Cancel and retry against a real SQLite store and a real worker: a failed run retried is resumed from
 * its failed step; a queued run is cancelled at once, a running one through its worker; finished and
 * unknown runs are refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { PwError } from '../core/errors/pw-error.js';
import { defineStep } from '../core/step.js';
import type { Project } from '../project/load-project.js';
import type { RunRecord, StateStore } from '../store/state-store.js';
import { resolveRun } from '../cli/resolve-run.js';
import { cancelRun, retryRun } from './run-control.js';
import { createWorkerProject, type WorkerProject } from './worker-project.fixture.js';
import { Worker } from './worker.js';

/** Runs whose `flaky` step fails the first time; runs whose `flaky` step waits until aborted. */
const failOnce = new Set<string>();
const holdOnce = new Set<string>();
const started = new Set<string>();

const flakyStep = defineStep({
  type: 'test.flaky',
  kind: 'custom',
  description: 'Fails (or holds) once for the runs listed; else returns at once.',
  config: z.strictObject({}),
  producesDataset: false,
  async run(ctx) {
    started.add(ctx.run.id);
    if (failOnce.delete(ctx.run.id)) throw new PwError('PW_CHECK_FAILED', 'flaky failed on purpose');
    if (holdOnce.delete(ctx.run.id)) await delay(60_000, undefined, { signal: ctx.signal });
    return { rows: 0 };
  },
});

let store: StateStore;
let project: Project;
const workers: Worker[] = [];

let fixture: WorkerProject;

before(async () => {
  fixture = await createWorkerProject({ id: 'flaky', step: flakyStep });
  ({ store, project } = fixture);
});

after(async () => {
  await Promise.all(workers.map((worker) => worker.stop(0)));
  await fixture.dispose();
});

let counter = 0;
async function enqueue(): Promise<RunRecord> {
  counter += 1;
  const now = new Date();
  const run = await store.enqueueRun({
    id: `rc-${String(counter).padStart(3, '0')}`,
    pipelineId: 'p',
    revision: 1,
    status: 'queued',
    trigger: 'manual:test',
    params: {},
    scheduledFor: now,
    queuedAt: now,
  });
  assert.ok(run);
  return run;
}

function worker(): Worker {
  const created = new Worker({ store, project, pollMs: 20, leaseMs: 3_000, env: {} });
  workers.push(created);
  created.start();
  return created;
}

async function until(what: string, condition: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

async function statusOf(id: string): Promise<string | undefined> {
  return (await store.getRun(id))?.status;
}

describe('retry', () => {
  it('queues a failed run again and a worker resumes it from its failed step', async () => {
    const run = await enqueue();
    failOnce.add(run.id);
    const w = worker();
    await until('the run to fail', async () => (await statusOf(run.id)) === 'failed');
    const failed = await store.getRun(run.id);
    assert.equal(failed?.error?.code, 'PW_CHECK_FAILED');

    await w.stop();
    const requeued = await retryRun(store, failed as RunRecord);
    assert.equal(requeued.status, 'queued');
    assert.equal(requeued.attempt, 2);
    assert.equal(requeued.error, undefined);
    assert.equal(requeued.finishedAt, undefined);

    const second = worker();
    await until('the retried run to succeed', async () => (await statusOf(run.id)) === 'succeeded');
    await second.stop();
    const attempts = await store.listStepAttempts(run.id);
    assert.deepEqual(
      attempts.map((attempt) => [attempt.stepId, attempt.runAttempt, attempt.status]),
      [
        ['numbers', 1, 'succeeded'],
        ['flaky', 1, 'failed'],
        ['flaky', 2, 'succeeded'],
        ['total', 2, 'succeeded'],
      ],
      'the step that had succeeded was not run again',
    );
  });

  it('refuses queued, running and succeeded runs', async () => {
    const run = await enqueue();
    await assert.rejects(retryRun(store, run), (error: PwError) => error.code === 'PW_RUN_NOT_RESUMABLE');
    await store.updateRun(run.id, { status: 'succeeded', finishedAt: new Date() });
    const done = (await store.getRun(run.id)) as RunRecord;
    await assert.rejects(retryRun(store, done), (error: PwError) => error.kind === 'user');
  });
});

describe('cancel', () => {
  it('cancels a queued run at once, and a finished run cannot be cancelled', async () => {
    const run = await enqueue();
    const cancelled = await cancelRun(store, run, new Date());
    assert.equal(cancelled.status, 'cancelled');
    await assert.rejects(
      cancelRun(store, cancelled, new Date()),
      (error: PwError) => error.code === 'PW_USAGE' && /already finished/.test(error.message),
    );
    // A cancelled run can be retried, and its cancel request does not stop it again.
    const retried = await retryRun(store, cancelled);
    assert.equal(retried.cancelRequestedAt, undefined);
    const w = worker();
    await until('the retried run to succeed', async () => (await statusOf(run.id)) === 'succeeded');
    await w.stop();
  });

  it('stops a running run through its worker', async () => {
    const run = await enqueue();
    holdOnce.add(run.id);
    const w = worker();
    await until('the flaky step to start', () => started.has(run.id));
    const asked = await cancelRun(store, (await store.getRun(run.id)) as RunRecord, new Date());
    assert.equal(asked.status, 'running');
    assert.ok(asked.cancelRequestedAt);
    await until('the run to be cancelled', async () => (await statusOf(run.id)) === 'cancelled');
    await w.stop();
  });

  it('an unknown run id is a user error', async () => {
    await assert.rejects(resolveRun(store, 'nope'), (error: PwError) => error.code === 'PW_RUN_NOT_FOUND');
  });
});
