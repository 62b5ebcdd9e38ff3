/**
 * The metrics part of the state-store contract (what `GET /metrics` reads), over every adapter of
 * test-adapters.ts: runs by status, the queue, finished runs and step attempts in finish order after a
 * cursor, and the lease-expiry counters that `requeueExpiredLeases` keeps in the store.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { openStateStore } from './open-store.js';
import type { NewRun, RunStatus, StateStore } from './state-store.js';
import { ADAPTERS, scratch, type AdapterFactory } from './test-adapters.js';

const T0 = new Date('2026-11-23T03:45:11.000Z');
const seconds = (n: number): Date => new Date(T0.getTime() + n * 1000);
const LEASE_MS = 30_000;

function newRun(id: string, overrides: Partial<NewRun> = {}): NewRun {
  return {
    id,
    pipelineId: 'sales',
    revision: 1,
    status: 'queued',
    trigger: 'manual:cli',
    params: {},
    scheduledFor: T0,
    queuedAt: T0,
    ...overrides,
  };
}

async function saveRevisions(store: StateStore, ...pipelineIds: string[]): Promise<void> {
  for (const pipelineId of pipelineIds) {
    await store.savePipelineRevision({
      pipelineId,
      hash: 'h1',
      definition: { id: pipelineId },
      sourcePath: `pipelines/${pipelineId}.yaml`,
      at: T0,
    });
  }
}

/** A run that started at `start` and finished at `end` (seconds after T0) with `status`. */
async function finished(
  store: StateStore,
  id: string,
  status: RunStatus,
  start: number,
  end: number,
  pipelineId = 'sales',
): Promise<void> {
  await store.createRun(newRun(id, { pipelineId, status: 'running', startedAt: seconds(start) }));
  await store.updateRun(id, { status, finishedAt: seconds(end) });
}

/** Queued runs claimed by `worker`, so their leases expire LEASE_MS after `at`. */
async function claimed(store: StateStore, ids: string[], at: Date): Promise<void> {
  for (const id of ids) {
    assert.ok(await store.enqueueRun({ ...newRun(id), status: 'queued' }));
    assert.equal((await store.claimRun({ workerId: 'w1', now: at, leaseMs: LEASE_MS }))?.id, id);
  }
}

function metricsContract(adapter: AdapterFactory): void {
  describe(`metrics queries: ${adapter.name}`, () => {
    let store: StateStore;
    beforeEach(async () => {
      store = await adapter.open();
      await saveRevisions(store, 'sales', 'stock');
    });
    const closeAfter = async (body: () => Promise<void>): Promise<void> => {
      try {
        await body();
      } finally {
        await store.close();
      }
    };

    test('countRunsByStatus counts every status (0 for none); queueDepth counts queued runs and finds the oldest', () =>
      closeAfter(async () => {
        assert.deepEqual(await store.countRunsByStatus(), {
          queued: 0,
          running: 0,
          succeeded: 0,
          failed: 0,
          cancelled: 0,
        });
        assert.deepEqual(await store.queueDepth(), { queued: 0, oldestQueuedAt: undefined });

        for (const [id, at] of [
          ['q1', 5],
          ['q2', 2],
          ['q3', 9],
          ['q4', 7],
        ] as const) {
          assert.ok(await store.enqueueRun({ ...newRun(id, { queuedAt: seconds(at) }), status: 'queued' }));
        }
        // The oldest (q2) is claimed; q4 is cancelled while queued.
        assert.equal(
          (await store.claimRun({ workerId: 'w1', now: seconds(20), leaseMs: LEASE_MS }))?.id,
          'q2',
        );
        await store.requestCancel('q4', seconds(21));
        await finished(store, 'ok-1', 'succeeded', 0, 10);
        await finished(store, 'ok-2', 'succeeded', 0, 11, 'stock');
        await finished(store, 'bad', 'failed', 0, 12);

        assert.deepEqual(await store.countRunsByStatus(), {
          queued: 2,
          running: 1,
          succeeded: 2,
          failed: 1,
          cancelled: 1,
        });
        assert.deepEqual(await store.queueDepth(), { queued: 2, oldestQueuedAt: seconds(5) });
      }));

    test('listFinishedRuns: finished runs in (finishedAt, id) order strictly after a cursor, equal instants in id order', () =>
      closeAfter(async () => {
        await finished(store, 'b', 'succeeded', 1, 10);
        await finished(store, 'a', 'failed', 2, 10, 'stock');
        await finished(store, 'c', 'succeeded', 3, 20);
        await store.createRun(newRun('running', { status: 'running', startedAt: seconds(1) }));
        assert.ok(await store.enqueueRun({ ...newRun('never-started'), status: 'queued' }));
        await store.requestCancel('never-started', seconds(15));

        const all = await store.listFinishedRuns(undefined, 100);
        assert.deepEqual(all, [
          { id: 'a', pipelineId: 'stock', status: 'failed', startedAt: seconds(2), finishedAt: seconds(10) },
          {
            id: 'b',
            pipelineId: 'sales',
            status: 'succeeded',
            startedAt: seconds(1),
            finishedAt: seconds(10),
          },
          { id: 'never-started', pipelineId: 'sales', status: 'cancelled', finishedAt: seconds(15) },
          {
            id: 'c',
            pipelineId: 'sales',
            status: 'succeeded',
            startedAt: seconds(3),
            finishedAt: seconds(20),
          },
        ]);
        const ids = async (after: Parameters<StateStore['listFinishedRuns']>[0], limit = 100) =>
          (await store.listFinishedRuns(after, limit)).map((run) => run.id);
        assert.deepEqual(await ids(undefined, 1), ['a']);
        assert.deepEqual(await ids({ finishedAt: seconds(10), id: 'a' }, 1), ['b']);
        assert.deepEqual(await ids({ finishedAt: seconds(10), id: 'b' }), ['never-started', 'c']);
        assert.deepEqual(await ids({ finishedAt: seconds(10), id: '' }), ['a', 'b', 'never-started', 'c']);
        assert.deepEqual(await ids({ finishedAt: seconds(20), id: 'c' }), []);

        // A retried run leaves the list until it finishes again, then comes at its new finish.
        await store.updateRun('a', { status: 'queued', finishedAt: undefined, error: undefined });
        assert.deepEqual(await ids({ finishedAt: seconds(10), id: '' }), ['b', 'never-started', 'c']);
        await store.updateRun('a', { status: 'succeeded', finishedAt: seconds(30) });
        assert.deepEqual(await ids({ finishedAt: seconds(20), id: 'c' }), ['a']);
      }));

    test('listFinishedStepAttempts: finished attempts with their pipeline, in (finishedAt, run, step, attempt) order after a cursor', () =>
      closeAfter(async () => {
        await store.createRun(newRun('r1', { status: 'running', startedAt: seconds(0) }));
        await store.createRun(
          newRun('r2', { pipelineId: 'stock', status: 'running', startedAt: seconds(0) }),
        );
        const start = (runId: string, stepId: string, attempt: number, at: number) =>
          store.startStepAttempt({ runId, stepId, attempt, runAttempt: 1, startedAt: seconds(at) });
        await start('r1', 'load', 1, 0);
        await store.finishStepAttempt('r1', 'load', 1, { status: 'failed', finishedAt: seconds(4) });
        await start('r1', 'load', 2, 5);
        await store.finishStepAttempt('r1', 'load', 2, { status: 'succeeded', finishedAt: seconds(9) });
        await start('r2', 'export', 1, 1);
        await store.finishStepAttempt('r2', 'export', 1, { status: 'succeeded', finishedAt: seconds(9) });
        await start('r2', 'check', 1, 2);
        await store.finishStepAttempt('r2', 'check', 1, { status: 'skipped', finishedAt: seconds(2) });
        await start('r1', 'report', 1, 9);

        const all = await store.listFinishedStepAttempts(undefined, 100);
        assert.deepEqual(all, [
          {
            runId: 'r2',
            pipelineId: 'stock',
            stepId: 'check',
            attempt: 1,
            status: 'skipped',
            startedAt: seconds(2),
            finishedAt: seconds(2),
          },
          {
            runId: 'r1',
            pipelineId: 'sales',
            stepId: 'load',
            attempt: 1,
            status: 'failed',
            startedAt: seconds(0),
            finishedAt: seconds(4),
          },
          {
            runId: 'r1',
            pipelineId: 'sales',
            stepId: 'load',
            attempt: 2,
            status: 'succeeded',
            startedAt: seconds(5),
            finishedAt: seconds(9),
          },
          {
            runId: 'r2',
            pipelineId: 'stock',
            stepId: 'export',
            attempt: 1,
            status: 'succeeded',
            startedAt: seconds(1),
            finishedAt: seconds(9),
          },
        ]);
        const keys = async (after: Parameters<StateStore['listFinishedStepAttempts']>[0], limit = 100) =>
          (await store.listFinishedStepAttempts(after, limit)).map(
            (step) => `${step.runId}/${step.stepId}/${step.attempt}`,
          );
        const at9 = { finishedAt: seconds(9), runId: '', stepId: '', attempt: -1 };
        assert.deepEqual(await keys(at9), ['r1/load/2', 'r2/export/1']);
        assert.deepEqual(await keys({ ...at9, runId: 'r1', stepId: 'load', attempt: 1 }), [
          'r1/load/2',
          'r2/export/1',
        ]);
        assert.deepEqual(await keys({ ...at9, runId: 'r1', stepId: 'load', attempt: 2 }), ['r2/export/1']);
        assert.deepEqual(
          await keys({ finishedAt: seconds(2), runId: 'r2', stepId: 'check', attempt: 1 }, 1),
          ['r1/load/1'],
        );
        await store.finishStepAttempt('r1', 'report', 1, { status: 'succeeded', finishedAt: seconds(12) });
        assert.deepEqual(await keys({ ...at9, runId: 'r2', stepId: 'export', attempt: 1 }), ['r1/report/1']);
      }));

    test('requeueExpiredLeases counts a lease expiry for every run it requeues or fails, durably', () =>
      closeAfter(async () => {
        assert.equal(await store.leaseExpiryCount(), 0);
        await claimed(store, ['lost-1', 'lost-2', 'lost-last', 'alive'], seconds(0));
        await store.updateRun('lost-last', { attempt: 3 });
        await store.renewLease('alive', 'w1', seconds(1000));
        const expired = seconds(LEASE_MS / 1000 + 1);

        const taken = await store.requeueExpiredLeases(expired, 3);
        assert.deepEqual([taken.requeued.length, taken.failed.length], [2, 1]);
        assert.equal(await store.leaseExpiryCount(), 3);
        // Nothing expired: nothing counted.
        assert.deepEqual(await store.requeueExpiredLeases(expired, 3), { requeued: [], failed: [] });
        assert.equal(await store.leaseExpiryCount(), 3);

        // The requeued runs are claimed again and lost again: the second attempt counts too.
        const again = seconds(100);
        await store.claimRun({ workerId: 'w2', now: again, leaseMs: LEASE_MS });
        await store.claimRun({ workerId: 'w2', now: again, leaseMs: LEASE_MS });
        await store.requeueExpiredLeases(seconds(100 + LEASE_MS / 1000 + 1), 3);
        assert.equal(await store.leaseExpiryCount(), 5);

        await store.close();
        store = await adapter.reopen();
        assert.equal(await store.leaseExpiryCount(), 5, 'counted in the store');
      }));

    test('two stores taking back expired leases at once count each run exactly once', () =>
      closeAfter(async () => {
        const ids = Array.from({ length: 30 }, (_, i) => `lost-${String(i).padStart(2, '0')}`);
        await claimed(store, ids, seconds(0));
        for (const id of ids.slice(0, 10)) await store.updateRun(id, { attempt: 3 });
        const other = await openStateStore(adapter.location(), scratch);
        try {
          const now = seconds(LEASE_MS / 1000 + 100);
          await Promise.all([store.requeueExpiredLeases(now, 3), other.requeueExpiredLeases(now, 3)]);
          assert.equal(await store.leaseExpiryCount(), 30);
          assert.equal(await other.leaseExpiryCount(), 30);
        } finally {
          await other.close();
        }
      }));
  });
}

for (const adapter of ADAPTERS) metricsContract(adapter);
