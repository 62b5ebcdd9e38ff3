/**
 * The run-queue and pipeline-state part of the state-store contract, over every adapter of
 * test-adapters.ts: queueing with unique schedule slots, claiming in order under concurrency limits,
 * leases, taking back runs of lost workers, cancelling, and three worker processes draining one queue.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Kysely, Migrator } from 'kysely';
import { PwError } from '../core/errors/pw-error.js';
import type { Database } from './database-schema.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, createMigrationProvider } from './migrations/index.js';
import { openStateStore } from './open-store.js';
import { createPostgresDialect, createPostgresPool } from './postgres/postgres-dialect.js';
import { createSqliteDialect, openSqliteDatabase } from './sqlite/sqlite-dialect.js';
import type { NewRun, RunRecord, StateStore } from './state-store.js';
import {
  ADAPTERS,
  postgres,
  reportPostgresUnavailable,
  scratch,
  type AdapterFactory,
} from './test-adapters.js';

const T0 = new Date('2026-11-23T03:45:11.000Z');
const seconds = (n: number): Date => new Date(T0.getTime() + n * 1000);
const LEASE_MS = 30_000;
const DRAIN_RUNS = 300;
const DRAIN_WORKERS = 3;
const FIXTURE = fileURLToPath(new URL('./queue-drain.fixture.js', import.meta.url));

type QueuedRun = NewRun & { status: 'queued' };

function queued(id: string, overrides: Partial<NewRun> = {}): QueuedRun {
  return {
    id,
    pipelineId: 'sales',
    revision: 1,
    trigger: 'manual:cli',
    params: {},
    scheduledFor: T0,
    queuedAt: T0,
    ...overrides,
    status: 'queued',
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

async function enqueueAll(store: StateStore, runs: QueuedRun[]): Promise<void> {
  for (const run of runs) assert.ok(await store.enqueueRun(run), `run ${run.id} is queued`);
}

const claim = (
  store: StateStore,
  workerId: string,
  at: Date,
  limits: object = {},
): Promise<RunRecord | undefined> => store.claimRun({ workerId, now: at, leaseMs: LEASE_MS, ...limits });

async function claimIds(
  store: StateStore,
  count: number,
  limits: object = {},
): Promise<(string | undefined)[]> {
  const ids: (string | undefined)[] = [];
  for (let i = 0; i < count; i++) ids.push((await claim(store, 'w1', seconds(i), limits))?.id);
  return ids;
}

async function finish(store: StateStore, id: string): Promise<void> {
  await store.updateRun(id, {
    status: 'succeeded',
    finishedAt: seconds(100),
    leaseOwner: undefined,
    leaseExpiresAt: undefined,
  });
}

function runQueueContract(adapter: AdapterFactory): void {
  describe(`run queue contract: ${adapter.name}`, () => {
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

    test('enqueueRun returns the queued run; claimRun takes the oldest (queuedAt, then id) and leases it', () =>
      closeAfter(async () => {
        const first = await store.enqueueRun(queued('run-b', { queuedAt: seconds(1), params: { day: 'x' } }));
        assert.deepEqual(first, {
          id: 'run-b',
          pipelineId: 'sales',
          revision: 1,
          status: 'queued',
          trigger: 'manual:cli',
          params: { day: 'x' },
          scheduledFor: T0,
          queuedAt: seconds(1),
          attempt: 1,
        });
        await enqueueAll(store, [
          queued('run-c', { queuedAt: seconds(1) }),
          queued('run-a', { queuedAt: seconds(2) }),
        ]);
        await enqueueAll(store, [queued('run-z', { queuedAt: seconds(0) })]);

        const claimed = await claim(store, 'worker-1', seconds(10));
        assert.deepEqual(claimed, {
          id: 'run-z',
          pipelineId: 'sales',
          revision: 1,
          status: 'running',
          trigger: 'manual:cli',
          params: {},
          scheduledFor: T0,
          queuedAt: seconds(0),
          startedAt: seconds(10),
          attempt: 1,
          leaseOwner: 'worker-1',
          leaseExpiresAt: new Date(seconds(10).getTime() + LEASE_MS),
        });
        assert.deepEqual(await store.getRun('run-z'), claimed);
        assert.deepEqual(await claimIds(store, 4), ['run-b', 'run-c', 'run-a', undefined]);
        assert.equal(await store.countRuns({ status: 'running' }), 4);
        assert.equal(await store.countRuns({ status: 'queued' }), 0);
      }));

    test('a scheduled slot is queued once; manual runs and other pipelines may share the instant', () =>
      closeAfter(async () => {
        const slot = seconds(3600);
        const scheduled = (id: string, pipelineId = 'sales'): QueuedRun =>
          queued(id, { trigger: 'schedule', pipelineId, scheduledFor: slot });
        assert.ok(await store.enqueueRun(scheduled('slot-1')));
        assert.equal(await store.enqueueRun(scheduled('slot-1-again')), undefined);
        assert.equal(await store.getRun('slot-1-again'), undefined);
        // The slot stays taken whatever became of its run.
        await store.updateRun('slot-1', { status: 'failed', finishedAt: slot });
        assert.equal(await store.enqueueRun(scheduled('slot-1-retry')), undefined);

        assert.ok(await store.enqueueRun(queued('manual-1', { scheduledFor: slot })));
        assert.ok(await store.enqueueRun(queued('manual-2', { scheduledFor: slot })));
        assert.ok(await store.enqueueRun(queued('api-1', { trigger: 'api:ops', scheduledFor: slot })));
        assert.ok(await store.enqueueRun(scheduled('slot-stock', 'stock')));
        assert.ok(
          await store.enqueueRun(queued('slot-2', { trigger: 'schedule', scheduledFor: seconds(7200) })),
        );
        assert.equal(await store.countRuns({ pipelineId: 'sales' }), 5);

        await assert.rejects(
          store.enqueueRun(queued('manual-1', { scheduledFor: seconds(9) })),
          (error: unknown) => {
            assert.ok(error instanceof PwError);
            assert.equal(error.code, 'PW_STORE');
            assert.match(error.message, /queue run manual-1/);
            return true;
          },
        );
      }));

    test('concurrent enqueues of one slot queue it once', () =>
      closeAfter(async () => {
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.enqueueRun(queued(`race-${i}`, { trigger: 'schedule', scheduledFor: seconds(60) })),
          ),
        );
        assert.equal(results.filter((run) => run !== undefined).length, 1);
        assert.equal(await store.countRuns(), 1);
      }));

    test('lastScheduledSlot is the newest scheduled slot, ignoring other triggers and pipelines', () =>
      closeAfter(async () => {
        assert.equal(await store.lastScheduledSlot('sales'), undefined);
        await enqueueAll(store, [
          queued('s1', { trigger: 'schedule', scheduledFor: seconds(60) }),
          queued('s3', { trigger: 'schedule', scheduledFor: seconds(180) }),
          queued('s2', { trigger: 'schedule', scheduledFor: seconds(120), queuedAt: seconds(500) }),
          queued('m1', { scheduledFor: seconds(900) }),
          queued('o1', { trigger: 'schedule', pipelineId: 'stock', scheduledFor: seconds(999) }),
        ]);
        assert.deepEqual(await store.lastScheduledSlot('sales'), seconds(180));
        assert.deepEqual(await store.lastScheduledSlot('stock'), seconds(999));
      }));

    test('claimRun respects the global limit, counting every running run', () =>
      closeAfter(async () => {
        await enqueueAll(
          store,
          ['q1', 'q2', 'q3', 'q4'].map((id, i) => queued(id, { queuedAt: seconds(i) })),
        );
        // A run executing outside the queue (`pipewright run`) takes a slot too.
        await store.createRun({ ...queued('local'), status: 'running', startedAt: T0 });
        assert.deepEqual(await claimIds(store, 3, { maxRunning: 3 }), ['q1', 'q2', undefined]);
        await finish(store, 'q1');
        assert.deepEqual(await claimIds(store, 2, { maxRunning: 3 }), ['q3', undefined]);
        assert.equal(await claim(store, 'w1', T0, { maxRunning: 0 }), undefined);
        assert.deepEqual(await claimIds(store, 1), ['q4']);
      }));

    test('claimRun passes over a pipeline at its limit and takes the next pipeline’s run', () =>
      closeAfter(async () => {
        await enqueueAll(store, [
          queued('sales-1', { queuedAt: seconds(1) }),
          queued('sales-2', { queuedAt: seconds(2) }),
          queued('sales-3', { queuedAt: seconds(3) }),
          queued('stock-1', { pipelineId: 'stock', queuedAt: seconds(4) }),
          queued('stock-2', { pipelineId: 'stock', queuedAt: seconds(5) }),
        ]);
        const limits = { maxRunningPerPipeline: { sales: 2, stock: 0 } };
        assert.deepEqual(await claimIds(store, 3, limits), ['sales-1', 'sales-2', undefined]);
        await finish(store, 'sales-2');
        assert.deepEqual(await claimIds(store, 2, limits), ['sales-3', undefined]);
        const both = { maxRunning: 3, maxRunningPerPipeline: { sales: 1 } };
        assert.deepEqual(
          await claimIds(store, 2, both),
          ['stock-1', undefined],
          'sales over its limit, then the global limit',
        );
        await finish(store, 'sales-1');
        assert.deepEqual(await claimIds(store, 1, both), ['stock-2']);
      }));

    test('claims racing from two stores never exceed the limits', () =>
      closeAfter(async () => {
        const runs = Array.from({ length: 24 }, (_, i) =>
          queued(`r-${String(i).padStart(2, '0')}`, {
            pipelineId: i % 2 === 0 ? 'sales' : 'stock',
            queuedAt: seconds(i),
          }),
        );
        await enqueueAll(store, runs);
        const other = await openStateStore(adapter.location(), scratch);
        try {
          const limits = { maxRunning: 5, maxRunningPerPipeline: { sales: 2 } };
          const claims = await Promise.all(
            Array.from({ length: 16 }, (_, i) => claim(i % 2 === 0 ? store : other, `w${i}`, T0, limits)),
          );
          const claimed = claims.filter((run) => run !== undefined);
          assert.equal(claimed.length, 5);
          assert.equal(claimed.filter((run) => run.pipelineId === 'sales').length, 2);
          assert.equal(await store.countRuns({ status: 'running' }), 5);
          assert.equal(await store.countRuns({ status: 'running', pipelineId: 'sales' }), 2);
        } finally {
          await other.close();
        }
      }));

    test('renewLease extends the lease for its owner only, and only while the run is running', () =>
      closeAfter(async () => {
        await enqueueAll(store, [queued('run-1')]);
        await claim(store, 'worker-1', T0);
        assert.equal(await store.renewLease('run-1', 'worker-2', seconds(500)), false);
        assert.equal(await store.renewLease('run-1', 'worker-1', seconds(90)), true);
        assert.deepEqual((await store.getRun('run-1'))?.leaseExpiresAt, seconds(90));
        assert.equal(await store.renewLease('missing', 'worker-1', seconds(90)), false);
        await store.updateRun('run-1', { status: 'succeeded', finishedAt: seconds(100) });
        assert.equal(await store.renewLease('run-1', 'worker-1', seconds(200)), false);
      }));

    test('requeueExpiredLeases requeues with the next attempt and fails a run at the attempt cap', () =>
      closeAfter(async () => {
        await enqueueAll(store, [
          queued('lost', { queuedAt: seconds(1) }),
          queued('lost-last', { queuedAt: seconds(2) }),
          queued('alive', { queuedAt: seconds(3) }),
          queued('newer', { queuedAt: seconds(4) }),
        ]);
        await claimIds(store, 3);
        await store.updateRun('lost-last', { attempt: 3 });
        await store.renewLease('alive', 'w1', seconds(1000));
        await store.createRun({ ...queued('no-lease'), status: 'running' });
        const now = seconds(LEASE_MS / 1000 + 10);

        const { requeued, failed } = await store.requeueExpiredLeases(now, 3);
        assert.deepEqual(
          requeued.map((run) => run.id),
          ['lost'],
        );
        assert.deepEqual(requeued[0], {
          id: 'lost',
          pipelineId: 'sales',
          revision: 1,
          status: 'queued',
          trigger: 'manual:cli',
          params: {},
          scheduledFor: T0,
          queuedAt: seconds(1),
          startedAt: seconds(0),
          attempt: 2,
        });
        assert.deepEqual(
          failed.map((run) => [run.id, run.status, run.attempt, run.error?.code]),
          [['lost-last', 'failed', 3, 'PW_PROCESS_LOST']],
        );
        assert.deepEqual(failed[0]?.finishedAt, now);
        assert.equal(failed[0]?.leaseOwner, undefined);
        assert.match(failed[0]?.error?.message ?? '', /all 3 attempts/);
        assert.deepEqual(await store.requeueExpiredLeases(now, 3), { requeued: [], failed: [] });
        assert.equal((await store.getRun('alive'))?.status, 'running');
        assert.equal((await store.getRun('no-lease'))?.status, 'running');
        assert.equal(
          await store.renewLease('lost', 'w1', seconds(2000)),
          false,
          'the lost worker lost its lease',
        );

        // Taken back ahead of newer runs, keeping when it was first started.
        const again = await claim(store, 'w2', seconds(200));
        assert.deepEqual(
          [again?.id, again?.attempt, again?.leaseOwner, again?.startedAt],
          ['lost', 2, 'w2', seconds(0)],
        );
      }));

    test('requestCancel cancels a queued run at once and flags a running one; a finished run stays', () =>
      closeAfter(async () => {
        await enqueueAll(store, [
          queued('waiting', { queuedAt: seconds(1) }),
          queued('busy', { queuedAt: seconds(0) }),
        ]);
        await claim(store, 'w1', seconds(5));

        const cancelled = await store.requestCancel('waiting', seconds(10));
        assert.equal(cancelled?.status, 'cancelled');
        assert.deepEqual(cancelled?.finishedAt, seconds(10));
        assert.deepEqual(cancelled?.cancelRequestedAt, seconds(10));
        assert.equal(cancelled?.error?.code, 'PW_CANCELLED');
        assert.deepEqual(await store.getRun('waiting'), cancelled);
        assert.equal(await claim(store, 'w1', seconds(11)), undefined, 'a cancelled run is not claimed');

        const flagged = await store.requestCancel('busy', seconds(12));
        assert.deepEqual(
          [
            flagged?.status,
            flagged?.cancelRequestedAt,
            flagged?.finishedAt,
            flagged?.error,
            flagged?.leaseOwner,
          ],
          ['running', seconds(12), undefined, undefined, 'w1'],
        );
        const repeated = await store.requestCancel('busy', seconds(20));
        assert.deepEqual(repeated?.cancelRequestedAt, seconds(12), 'the first request counts');

        await store.updateRun('busy', { status: 'cancelled', finishedAt: seconds(21) });
        const finished = await store.getRun('busy');
        assert.deepEqual(await store.requestCancel('busy', seconds(30)), finished);
        assert.deepEqual(await store.requestCancel('waiting', seconds(30)), cancelled);
        assert.equal(await store.requestCancel('missing', seconds(30)), undefined);
      }));

    test('updateRun sets and clears the lease and cancel fields; countRuns filters', () =>
      closeAfter(async () => {
        await enqueueAll(store, [queued('r1'), queued('r2', { pipelineId: 'stock' })]);
        await store.updateRun('r1', {
          status: 'running',
          leaseOwner: 'w9',
          leaseExpiresAt: seconds(60),
          cancelRequestedAt: seconds(30),
        });
        const set = await store.getRun('r1');
        assert.deepEqual(
          [set?.leaseOwner, set?.leaseExpiresAt, set?.cancelRequestedAt],
          ['w9', seconds(60), seconds(30)],
        );
        await store.updateRun('r1', {
          leaseOwner: undefined,
          leaseExpiresAt: undefined,
          cancelRequestedAt: undefined,
        });
        const cleared = await store.getRun('r1');
        assert.deepEqual(
          [cleared?.leaseOwner, cleared?.leaseExpiresAt, cleared?.cancelRequestedAt],
          [undefined, undefined, undefined],
        );
        assert.equal(await store.countRuns(), 2);
        assert.equal(await store.countRuns({ status: 'queued' }), 1);
        assert.equal(await store.countRuns({ status: 'running', pipelineId: 'sales' }), 1);
        assert.equal(await store.countRuns({ pipelineId: 'stock' }), 1);
        assert.equal(await store.countRuns({ pipelineId: 'none' }), 0);
      }));

    test('pipeline state: none means running and valid; pause, resume and invalid round-trip', () =>
      closeAfter(async () => {
        assert.equal(await store.getPipelineState('sales'), undefined);
        assert.deepEqual(await store.listPipelineStates(), []);
        await store.setPipelineInvalid('sales', undefined, T0);
        assert.equal(await store.getPipelineState('sales'), undefined, 'marking valid stores nothing');

        await store.setPipelinePaused('sales', true);
        assert.deepEqual(await store.getPipelineState('sales'), { pipelineId: 'sales', paused: true });
        // A pipeline may be invalid before it ever had a valid revision.
        await store.setPipelineInvalid('new-one', 'line 3: unknown key', seconds(1));
        await store.setPipelineInvalid('sales', 'cron: 7 fields', seconds(2));
        await store.setPipelineInvalid('sales', 'cron: bad minute', seconds(3));
        assert.deepEqual(await store.listPipelineStates(), [
          {
            pipelineId: 'new-one',
            paused: false,
            invalidSince: seconds(1),
            invalidReason: 'line 3: unknown key',
          },
          { pipelineId: 'sales', paused: true, invalidSince: seconds(2), invalidReason: 'cron: bad minute' },
        ]);
        await store.setPipelinePaused('sales', false);
        await store.setPipelineInvalid('sales', undefined, seconds(4));
        assert.deepEqual(await store.getPipelineState('sales'), { pipelineId: 'sales', paused: false });
        await store.setPipelineInvalid('sales', 'again', seconds(5));
        assert.deepEqual((await store.getPipelineState('sales'))?.invalidSince, seconds(5));

        await store.close();
        store = await adapter.reopen();
        assert.equal((await store.listPipelineStates()).length, 2, 'state survives a restart');
      }));

    test('two stores taking back expired leases at once take back each run exactly once', () =>
      closeAfter(async () => {
        const runs = Array.from({ length: 60 }, (_, i) =>
          queued(`lost-${String(i).padStart(2, '0')}`, { queuedAt: seconds(i) }),
        );
        await enqueueAll(store, runs);
        await claimIds(store, runs.length);
        for (const run of runs.slice(0, 20)) await store.updateRun(run.id, { attempt: 3 });
        const other = await openStateStore(adapter.location(), scratch);
        try {
          const now = seconds(LEASE_MS / 1000 + 100);
          const [mine, theirs] = await Promise.all([
            store.requeueExpiredLeases(now, 3),
            other.requeueExpiredLeases(now, 3),
          ]);
          const requeued = [...mine.requeued, ...theirs.requeued].map((run) => run.id).sort();
          const failed = [...mine.failed, ...theirs.failed].map((run) => run.id).sort();
          assert.deepEqual(
            requeued,
            runs.slice(20).map((run) => run.id),
          );
          assert.deepEqual(
            failed,
            runs.slice(0, 20).map((run) => run.id),
          );
          assert.equal(await store.countRuns({ status: 'queued' }), 40);
          const attempts = new Set((await store.listRuns({ status: 'queued' })).map((run) => run.attempt));
          assert.deepEqual([...attempts], [2], 'no run was requeued twice');
        } finally {
          await other.close();
        }
      }));

    test(`${DRAIN_WORKERS} worker processes drain ${DRAIN_RUNS} queued runs, each claimed exactly once`, async (t) => {
      try {
        const runs = Array.from({ length: DRAIN_RUNS }, (_, i) =>
          queued(`drain-${String(i).padStart(3, '0')}`, {
            pipelineId: i % 3 === 0 ? 'stock' : 'sales',
            trigger: i % 2 === 0 ? 'schedule' : 'manual:cli',
            scheduledFor: seconds(i),
            queuedAt: seconds(i % 50),
          }),
        );
        await enqueueAll(store, runs);
        const folder = mkdtempSync(join(scratch, 'drain-'));
        const { claimedBy, ms } = await drainInProcesses(adapter.location(), folder, DRAIN_WORKERS);

        const all = claimedBy.flatMap((worker) => worker.ids);
        const duplicates = all.filter((id, index) => all.indexOf(id) !== index);
        assert.deepEqual(duplicates, [], 'no run was claimed twice');
        assert.deepEqual([...all].sort(), runs.map((run) => run.id).sort(), 'every run was claimed');
        assert.equal(await store.countRuns({ status: 'succeeded' }), DRAIN_RUNS);
        const finished = await store.listRuns({ limit: DRAIN_RUNS });
        assert.ok(
          finished.every((run) => run.attempt === 1 && run.host === 'test' && run.leaseOwner === undefined),
        );
        const share = claimedBy.map((worker) => `${worker.workerId}: ${worker.ids.length}`).join(', ');
        const rate = Math.round((DRAIN_RUNS / ms) * 1000);
        t.diagnostic(
          `${adapter.name}: ${DRAIN_RUNS} runs drained in ${Math.round(ms)} ms (${rate} runs/s; ${share})`,
        );
      } finally {
        await store.close();
      }
    });
  });
}

interface WorkerResult {
  workerId: string;
  ids: string[];
  ms: number;
}

/**
 * Starts `count` worker processes on the store, waits until each has connected, lets them all go at
 * once and collects what each claimed. `ms` runs from the go-ahead until the last worker finished.
 */
async function drainInProcesses(
  location: string,
  folder: string,
  count: number,
): Promise<{ claimedBy: WorkerResult[]; ms: number }> {
  const workers = Array.from({ length: count }, (_, i) => {
    const workerId = `worker-${i + 1}`;
    const resultFile = join(folder, `${workerId}.json`);
    const child = spawn(process.execPath, ['--enable-source-maps', FIXTURE, location, workerId, resultFile], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) =>
        reject(new Error(`${workerId} exited (${code}) before it was ready: ${stderr}`)),
      );
    });
    const exited = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`${workerId} exited with ${code}: ${stderr}`)),
      );
    });
    // Either may be awaited only later; keep their rejections for that await.
    ready.catch(() => undefined);
    exited.catch(() => undefined);
    return { child, workerId, resultFile, ready, exited };
  });
  try {
    await Promise.all(workers.map((worker) => worker.ready));
    const started = performance.now();
    for (const worker of workers) worker.child.send('go');
    await Promise.all(workers.map((worker) => worker.exited));
    const ms = performance.now() - started;
    const claimedBy = workers.map(
      (worker) => JSON.parse(readFileSync(worker.resultFile, 'utf8')) as WorkerResult,
    );
    return { claimedBy, ms };
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill();
  }
}

for (const adapter of ADAPTERS) runQueueContract(adapter);

describe('migration 0002 on a store created before the run queue', () => {
  const upgrade = async (
    db: Kysely<Database>,
    dialect: 'sqlite' | 'postgres',
    reopen: () => Promise<StateStore>,
  ) => {
    const migrator = new Migrator({
      db,
      provider: createMigrationProvider(dialect),
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
    });
    try {
      assert.equal((await migrator.migrateTo('0001_initial')).error, undefined);
      await db.insertInto('pipelines').values({ id: 'sales', created_at: T0.toISOString() }).execute();
      await db
        .insertInto('pipeline_revisions')
        .values({
          pipeline_id: 'sales',
          revision: 1,
          hash: 'h',
          definition: '{}',
          source_path: 'p',
          created_at: T0.toISOString(),
        })
        .execute();
      // Only the columns 0001 knows: the typings already include the ones 0002 adds.
      const legacy: Record<string, unknown> = {
        id: 'old-run',
        pipeline_id: 'sales',
        revision: 1,
        status: 'queued',
        trigger: 'schedule',
        params: '{}',
        scheduled_for: T0.toISOString(),
        queued_at: T0.toISOString(),
        attempt: 1,
      };
      await db
        .insertInto('runs')
        .values(legacy as never)
        .execute();
    } finally {
      await db.destroy();
    }
    const store = await reopen();
    try {
      assert.equal(await store.enqueueRun(queued('same-slot', { trigger: 'schedule' })), undefined);
      const claimed = await store.claimRun({ workerId: 'w1', now: seconds(1), leaseMs: LEASE_MS });
      assert.deepEqual([claimed?.id, claimed?.leaseOwner], ['old-run', 'w1']);
    } finally {
      await store.close();
    }
  };

  test('sqlite: runs queued before the upgrade keep their slot and can be claimed', async () => {
    const path = join(mkdtempSync(join(scratch, 'upgrade-')), 'state.db');
    const db = new Kysely<Database>({ dialect: createSqliteDialect(openSqliteDatabase(path)) });
    await upgrade(db, 'sqlite', () => openStateStore(path, scratch));
  });

  test('postgres: runs queued before the upgrade keep their slot and can be claimed', async (t) => {
    if (typeof postgres === 'string') return reportPostgresUnavailable(t, postgres);
    const url = postgres.url(await postgres.emptyDatabase());
    const retry = { retries: 0, delayMs: 0 };
    const pool = createPostgresPool(url, {
      poolSize: 2,
      statementTimeoutMs: 10_000,
      connectTimeoutMs: 5000,
      retry,
    });
    const db = new Kysely<Database>({ dialect: createPostgresDialect(pool, retry) });
    await upgrade(db, 'postgres', () => openStateStore(url, scratch));
  });
});
