/**
 * One contract suite for every state-store adapter: each entry of ADAPTERS (test-adapters.ts) runs the
 * same tests, so an adapter is added by appending a factory, not by copying tests. The run queue has
 * its own contract file, run-queue.test.ts, over the same adapters.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { before, beforeEach, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify, inspect } from 'node:util';
import { Kysely, sql } from 'kysely';
import pg from 'pg';
import { PwError } from '../core/errors/pw-error.js';
import { MIGRATIONS } from './migrations/index.js';
import { openStateStore } from './open-store.js';
import { openPostgresStore } from './postgres/open-postgres-store.js';
import {
  POSTGRES_MIGRATION_LOCK_KEY,
  createPostgresDialect,
  createPostgresPool,
  isTransientConnectionError,
  normalizeDriverError,
  postgresDialectSupport,
  redactPostgresUrl,
} from './postgres/postgres-dialect.js';
import { openSqliteStore } from './sqlite/open-sqlite-store.js';
import type { LogEntry, NewRun, StateStore } from './state-store.js';
import {
  ADAPTERS,
  postgres,
  reportPostgresUnavailable,
  scratch,
  type AdapterFactory,
  type PostgresTestServer,
} from './test-adapters.js';

const T0 = new Date('2026-11-23T03:45:11.000Z');
const minutes = (n: number): Date => new Date(T0.getTime() + n * 60_000);

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    id: 'run-0001',
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

async function saveRevision(store: StateStore, pipelineId = 'sales', hash = 'h1'): Promise<number> {
  const saved = await store.savePipelineRevision({
    pipelineId,
    hash,
    definition: { id: pipelineId },
    sourcePath: `pipelines/${pipelineId}.yaml`,
    at: T0,
  });
  return saved.revision.revision;
}

function isStoreError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, 'PW_STORE');
    assert.match(error.message, pattern);
    assert.ok(error.hint, 'a store error carries a hint');
    return true;
  };
}

function storeContract(adapter: AdapterFactory): void {
  describe(`state store contract: ${adapter.name}`, () => {
    let store: StateStore;
    beforeEach(async () => {
      store = await adapter.open();
    });
    const closeAfter = async (body: () => Promise<void>): Promise<void> => {
      try {
        await body();
      } finally {
        await store.close();
      }
    };

    test('migrating again is a no-op that keeps data', () =>
      closeAfter(async () => {
        await saveRevision(store);
        await store.migrate();
        await store.migrate();
        assert.equal((await store.latestPipelineRevision('sales'))?.revision, 1);
      }));

    test('savePipelineRevision keeps the revision for the same hash and adds one for a new hash', () =>
      closeAfter(async () => {
        const input = {
          pipelineId: 'sales',
          hash: 'h1',
          definition: { steps: [1, 2] },
          sourcePath: 'pipelines/sales.yaml',
          at: T0,
        };
        const first = await store.savePipelineRevision(input);
        assert.equal(first.created, true);
        assert.deepEqual(first.revision, {
          pipelineId: 'sales',
          revision: 1,
          hash: 'h1',
          definition: { steps: [1, 2] },
          sourcePath: 'pipelines/sales.yaml',
          createdAt: T0,
        });
        const same = await store.savePipelineRevision({ ...input, at: minutes(1) });
        assert.equal(same.created, false);
        assert.deepEqual(same.revision, first.revision);
        const changed = await store.savePipelineRevision({
          ...input,
          hash: 'h2',
          definition: { steps: [3] },
          at: minutes(2),
        });
        assert.equal(changed.created, true);
        assert.equal(changed.revision.revision, 2);
        assert.deepEqual((await store.getPipelineRevision('sales', 1))?.definition, { steps: [1, 2] });
        assert.deepEqual(await store.latestPipelineRevision('sales'), changed.revision);
        assert.equal(await store.getPipelineRevision('sales', 3), undefined);
        assert.equal(await store.latestPipelineRevision('other'), undefined);
      }));

    test('concurrent savePipelineRevision calls with different hashes get distinct revisions', () =>
      closeAfter(async () => {
        const saves = await Promise.all(
          ['a', 'b', 'c', 'd'].map((hash) =>
            store.savePipelineRevision({
              pipelineId: 'sales',
              hash,
              definition: { hash },
              sourcePath: 'p.yaml',
              at: T0,
            }),
          ),
        );
        assert.deepEqual(saves.map((save) => save.revision.revision).sort(), [1, 2, 3, 4]);
        assert.ok(saves.every((save) => save.created));
      }));

    test('createRun and getRun round-trip every field', () =>
      closeAfter(async () => {
        await saveRevision(store);
        const run = newRun({
          status: 'running',
          trigger: 'api:ops',
          params: { day: '2026-11-22', nested: { n: 3, list: [true, null] } },
          scheduledFor: minutes(-5),
          startedAt: minutes(1),
          workspace: '/var/pw/runs/run-0001',
          host: 'odroid',
          pid: 4242,
        });
        const created = await store.createRun(run);
        const expected = {
          id: 'run-0001',
          pipelineId: 'sales',
          revision: 1,
          status: 'running',
          trigger: 'api:ops',
          params: { day: '2026-11-22', nested: { n: 3, list: [true, null] } },
          scheduledFor: minutes(-5),
          queuedAt: T0,
          startedAt: minutes(1),
          attempt: 1,
          workspace: '/var/pw/runs/run-0001',
          host: 'odroid',
          pid: 4242,
        };
        assert.deepEqual(created, expected);
        const read = await store.getRun('run-0001');
        assert.deepEqual(read, expected);
        assert.ok(read?.queuedAt instanceof Date);
        assert.equal(await store.getRun('nope'), undefined);
      }));

    test('a run must name a stored pipeline revision', () =>
      closeAfter(async () => {
        await assert.rejects(
          store.createRun(newRun({ pipelineId: 'ghost' })),
          isStoreError(/create run run-0001/),
        );
      }));

    test('updateRun applies a patch, including an error, and clears keys given as undefined', () =>
      closeAfter(async () => {
        await saveRevision(store);
        await store.createRun(newRun());
        await store.updateRun('run-0001', {
          status: 'failed',
          startedAt: minutes(1),
          finishedAt: minutes(2),
          host: 'box',
          pid: 7,
          error: { code: 'PW_SQL_ERROR', message: 'no such table', hint: 'check the name', stepId: 'load' },
        });
        let run = await store.getRun('run-0001');
        assert.equal(run?.status, 'failed');
        assert.deepEqual(run?.finishedAt, minutes(2));
        assert.deepEqual(run?.error, {
          code: 'PW_SQL_ERROR',
          message: 'no such table',
          hint: 'check the name',
          stepId: 'load',
        });

        await store.updateRun('run-0001', {
          status: 'queued',
          attempt: 2,
          finishedAt: undefined,
          error: undefined,
        });
        run = await store.getRun('run-0001');
        assert.equal(run?.attempt, 2);
        assert.equal(run?.status, 'queued');
        assert.equal('finishedAt' in (run ?? {}), false);
        assert.equal(run?.error, undefined);
        assert.deepEqual(run?.startedAt, minutes(1), 'keys not in the patch stay');
        assert.equal(run?.host, 'box');

        await assert.rejects(store.updateRun('nope', { status: 'cancelled' }), (error: unknown) => {
          assert.ok(error instanceof PwError);
          assert.equal(error.code, 'PW_RUN_NOT_FOUND');
          return true;
        });
      }));

    test('findRunsByIdPrefix matches a prefix literally, with _ and % not acting as wildcards', () =>
      closeAfter(async () => {
        await saveRevision(store);
        for (const [index, id] of ['ab_1', 'abX1', 'ab%2', 'AB_3', 'zz'].entries()) {
          await store.createRun(newRun({ id, queuedAt: minutes(index) }));
        }
        const ids = async (prefix: string): Promise<string[]> =>
          (await store.findRunsByIdPrefix(prefix)).map((run) => run.id);
        assert.deepEqual(await ids('ab_'), ['ab_1']);
        assert.deepEqual(await ids('ab%'), ['ab%2']);
        assert.deepEqual(await ids('ab'), ['ab%2', 'abX1', 'ab_1'], 'newest first, case-sensitive');
        assert.deepEqual(await ids('q'), []);
        assert.equal((await store.findRunsByIdPrefix('ab', 2)).length, 2);
      }));

    test('listRuns filters, orders newest first and limits', () =>
      closeAfter(async () => {
        await saveRevision(store, 'sales');
        await saveRevision(store, 'stock');
        await store.createRun(newRun({ id: 'r1', queuedAt: minutes(1) }));
        await store.createRun(newRun({ id: 'r2', queuedAt: minutes(2), status: 'failed' }));
        await store.createRun(newRun({ id: 'r3', queuedAt: minutes(3), pipelineId: 'stock' }));
        // Same queued_at as r3: the id breaks the tie.
        await store.createRun(newRun({ id: 'r4', queuedAt: minutes(3), status: 'failed' }));
        const ids = async (filter?: Parameters<StateStore['listRuns']>[0]): Promise<string[]> =>
          (await store.listRuns(filter)).map((run) => run.id);
        assert.deepEqual(await ids(), ['r4', 'r3', 'r2', 'r1']);
        assert.deepEqual(await ids({ pipelineId: 'sales' }), ['r4', 'r2', 'r1']);
        assert.deepEqual(await ids({ status: 'failed' }), ['r4', 'r2']);
        assert.deepEqual(await ids({ pipelineId: 'sales', status: 'failed', limit: 1 }), ['r4']);
        assert.deepEqual(await ids({ before: minutes(3) }), ['r2', 'r1']);
        assert.deepEqual(await ids({ limit: 2 }), ['r4', 'r3']);
      }));

    test('step attempts start, finish and list in start order', () =>
      closeAfter(async () => {
        await saveRevision(store);
        await store.createRun(newRun());
        await store.startStepAttempt({
          runId: 'run-0001',
          stepId: 'extract',
          attempt: 1,
          runAttempt: 1,
          startedAt: minutes(1),
        });
        await store.startStepAttempt({
          runId: 'run-0001',
          stepId: 'extract',
          attempt: 2,
          runAttempt: 1,
          startedAt: minutes(2),
        });
        await store.startStepAttempt({
          runId: 'run-0001',
          stepId: 'chart',
          attempt: 1,
          runAttempt: 1,
          startedAt: minutes(3),
          status: 'skipped',
        });
        await store.finishStepAttempt('run-0001', 'extract', 1, {
          status: 'failed',
          finishedAt: minutes(1.5),
          error: { code: 'PW_INPUT_NOT_FOUND', message: 'missing file' },
        });
        await store.finishStepAttempt('run-0001', 'extract', 2, {
          status: 'succeeded',
          finishedAt: minutes(2.5),
          rows: 5_000_000_000,
          bytes: 123,
          outputs: { table: 'raw_sales', count: 3 },
          warnings: ['2 rows skipped'],
        });
        const attempts = await store.listStepAttempts('run-0001');
        assert.deepEqual(attempts, [
          {
            runId: 'run-0001',
            stepId: 'extract',
            attempt: 1,
            runAttempt: 1,
            status: 'failed',
            startedAt: minutes(1),
            finishedAt: minutes(1.5),
            error: { code: 'PW_INPUT_NOT_FOUND', message: 'missing file' },
          },
          {
            runId: 'run-0001',
            stepId: 'extract',
            attempt: 2,
            runAttempt: 1,
            status: 'succeeded',
            startedAt: minutes(2),
            finishedAt: minutes(2.5),
            rows: 5_000_000_000,
            bytes: 123,
            outputs: { table: 'raw_sales', count: 3 },
            warnings: ['2 rows skipped'],
          },
          {
            runId: 'run-0001',
            stepId: 'chart',
            attempt: 1,
            runAttempt: 1,
            status: 'skipped',
            startedAt: minutes(3),
          },
        ]);
        await assert.rejects(
          store.finishStepAttempt('run-0001', 'load', 1, { status: 'succeeded' }),
          PwError,
        );
        assert.deepEqual(await store.listStepAttempts('other'), []);
      }));

    test('logs append in a batch of 1000 and page by id', () =>
      closeAfter(async () => {
        await saveRevision(store);
        await store.createRun(newRun());
        await store.createRun(newRun({ id: 'run-0002' }));
        const entries: LogEntry[] = Array.from({ length: 1000 }, (_, index) => ({
          runId: 'run-0001',
          at: new Date(T0.getTime() + index),
          level: index % 2 === 0 ? 'info' : 'debug',
          message: `line ${index}`,
          ...(index % 10 === 0 ? { stepId: 'extract', data: { index } } : {}),
        }));
        await store.appendLogs(entries);
        await store.appendLogs([{ runId: 'run-0002', at: T0, level: 'warn', message: 'other run' }]);
        await store.appendLogs([]);

        const first = await store.listLogs('run-0001', { limit: 300 });
        assert.equal(first.length, 300);
        assert.equal(first[0]?.message, 'line 0');
        assert.deepEqual(first[0]?.data, { index: 0 });
        assert.equal(first[0]?.stepId, 'extract');
        assert.deepEqual(first[1], {
          id: first[1]?.id,
          runId: 'run-0001',
          at: new Date(T0.getTime() + 1),
          level: 'debug',
          message: 'line 1',
        });

        const seen = [...first];
        let afterId = first.at(-1)?.id;
        while (afterId !== undefined) {
          const page = await store.listLogs('run-0001', { afterId, limit: 300 });
          seen.push(...page);
          afterId = page.at(-1)?.id;
        }
        assert.equal(seen.length, 1000);
        assert.deepEqual(
          seen.map((entry) => entry.message),
          entries.map((entry) => entry.message),
        );
        assert.ok(seen.every((entry, index) => index === 0 || entry.id > (seen[index - 1]?.id ?? Infinity)));

        const extract = await store.listLogs('run-0001', { stepId: 'extract' });
        assert.equal(extract.length, 100);
        assert.deepEqual(
          (await store.listLogs('run-0002')).map((entry) => entry.message),
          ['other run'],
        );
      }));

    test('artifacts add, list, expire and are marked deleted', () =>
      closeAfter(async () => {
        await saveRevision(store);
        await store.createRun(newRun({ id: 'old', queuedAt: minutes(-60) }));
        await store.createRun(newRun({ id: 'new', queuedAt: minutes(60) }));
        const report = await store.addArtifact({
          runId: 'old',
          stepId: 'report',
          name: 'report.pdf',
          path: 'runs/old/report.pdf',
          bytes: 2048,
          sha256: 'abc',
          contentType: 'application/pdf',
          createdAt: minutes(-59),
        });
        assert.equal(typeof report.id, 'number');
        assert.deepEqual(report, {
          id: report.id,
          runId: 'old',
          stepId: 'report',
          name: 'report.pdf',
          path: 'runs/old/report.pdf',
          bytes: 2048,
          sha256: 'abc',
          contentType: 'application/pdf',
          createdAt: minutes(-59),
        });
        const chart = await store.addArtifact({
          runId: 'old',
          name: 'chart.png',
          path: 'runs/old/chart.png',
          bytes: 10,
          createdAt: minutes(-58),
        });
        await store.addArtifact({
          runId: 'new',
          name: 'fresh.csv',
          path: 'runs/new/fresh.csv',
          bytes: 1,
          createdAt: minutes(61),
        });

        assert.deepEqual(
          (await store.listArtifacts('old')).map((artifact) => artifact.name),
          ['report.pdf', 'chart.png'],
        );
        assert.deepEqual(
          (await store.listExpiredArtifacts(T0)).map((artifact) => artifact.name),
          ['report.pdf', 'chart.png'],
        );

        await store.markArtifactDeleted(chart.id ?? -1, minutes(1));
        await store.markArtifactDeleted(chart.id ?? -1, minutes(2));
        assert.deepEqual(
          (await store.listExpiredArtifacts(T0)).map((artifact) => artifact.name),
          ['report.pdf'],
        );
        const listed = await store.listArtifacts('old');
        assert.deepEqual(listed[1]?.deletedAt, minutes(1), 'the first deletion time is kept');
      }));

    test('data loads are recorded and listed newest first', () =>
      closeAfter(async () => {
        await saveRevision(store, 'sales');
        await saveRevision(store, 'stock');
        await store.createRun(newRun({ id: 'r1' }));
        await store.createRun(newRun({ id: 'r2', pipelineId: 'stock' }));
        const first = await store.recordDataLoad({
          runId: 'r1',
          pipelineId: 'sales',
          stepId: 'load',
          target: 'public.sales',
          source: 'in/sales.csv',
          rows: 120,
          bytes: 4096,
          status: 'succeeded',
          at: minutes(1),
        });
        assert.deepEqual(first, {
          id: first.id,
          runId: 'r1',
          pipelineId: 'sales',
          stepId: 'load',
          target: 'public.sales',
          source: 'in/sales.csv',
          rows: 120,
          bytes: 4096,
          status: 'succeeded',
          at: minutes(1),
        });
        await store.recordDataLoad({
          runId: 'r1',
          pipelineId: 'sales',
          stepId: 'load',
          target: 'public.sales',
          rows: 0,
          status: 'failed',
          at: minutes(2),
          message: 'duplicate key',
        });
        await store.recordDataLoad({
          runId: 'r2',
          pipelineId: 'stock',
          stepId: 'save',
          target: 'out/stock.parquet',
          rows: 7,
          status: 'succeeded',
          at: minutes(3),
        });

        assert.deepEqual(
          (await store.listDataLoads()).map((load) => load.at),
          [minutes(3), minutes(2), minutes(1)],
        );
        const sales = await store.listDataLoads({ pipelineId: 'sales' });
        assert.deepEqual(
          sales.map((load) => load.status),
          ['failed', 'succeeded'],
        );
        assert.equal(sales[0]?.message, 'duplicate key');
        assert.deepEqual(
          (await store.listDataLoads({ runId: 'r2' })).map((load) => load.target),
          ['out/stock.parquet'],
        );
        assert.equal((await store.listDataLoads({ limit: 1 })).length, 1);
      }));

    test('a store reopened after close keeps its data', async () => {
      await saveRevision(store);
      await store.createRun(newRun({ params: { keep: true } }));
      await store.appendLogs([{ runId: 'run-0001', at: T0, level: 'info', message: 'persisted' }]);
      await store.close();
      store = await adapter.reopen();
      await closeAfter(async () => {
        assert.deepEqual((await store.getRun('run-0001'))?.params, { keep: true });
        assert.equal((await store.listLogs('run-0001'))[0]?.message, 'persisted');
        const again = await store.savePipelineRevision({
          pipelineId: 'sales',
          hash: 'h1',
          definition: {},
          sourcePath: 'x',
          at: T0,
        });
        assert.equal(again.created, false);
      });
    });
  });
}

for (const adapter of ADAPTERS) storeContract(adapter);

describe('opening a SQLite store', () => {
  let folder: string;
  before(() => {
    folder = mkdtempSync(join(scratch, 'open-'));
  });

  test('an in-memory store works for tests', async () => {
    const store = await openSqliteStore(':memory:');
    await saveRevision(store);
    assert.equal((await store.latestPipelineRevision('sales'))?.revision, 1);
    await store.close();
  });

  test('a path inside a location that cannot hold a folder gives PW_STORE with the path', async () => {
    // A regular file standing where a folder should be fails for every user, root included.
    const blocker = join(folder, 'blocker');
    writeFileSync(blocker, 'not a folder');
    const path = join(blocker, 'state', 'state.db');
    await assert.rejects(openSqliteStore(path), isStoreError(new RegExp(escapeRegExp(path))));
  });

  test('a file that is not a SQLite database gives PW_STORE with the path', async () => {
    const path = join(folder, 'garbage.db');
    writeFileSync(
      path,
      'this is definitely not a sqlite database file, just some text padded out '.repeat(40),
    );
    await assert.rejects(openSqliteStore(path), (error: unknown) => {
      isStoreError(new RegExp(escapeRegExp(path)))(error);
      assert.match((error as PwError).hint ?? '', /not a SQLite database/);
      return true;
    });
  });

  test('openStateStore resolves a relative path against the project folder', async () => {
    const store = await openStateStore('.pipewright/state.db', join(folder, 'project'));
    await store.close();
    const reopened = await openSqliteStore(join(folder, 'project', '.pipewright', 'state.db'));
    await reopened.close();
  });

  test('PIPEWRIGHT_STATE_URL wins over `state`; an empty value counts as unset', async () => {
    const project = join(folder, 'env-project');
    const store = await openStateStore('postgres://pw:secret@127.0.0.1:1/pw', project, {
      PIPEWRIGHT_STATE_URL: 'from-env/state.db',
    });
    await store.close();
    assert.ok(existsSync(join(project, 'from-env', 'state.db')), 'a relative override resolves like `state`');
    const fallback = await openStateStore('from-yaml/state.db', project, { PIPEWRIGHT_STATE_URL: ' ' });
    await fallback.close();
    assert.ok(existsSync(join(project, 'from-yaml', 'state.db')));
  });

  test('openStateStore opens postgres:// and postgresql:// URLs without echoing the password', async () => {
    // Nothing listens on port 1, so both attempts fail after their retries, naming the redacted URL.
    for (const url of ['postgres://pw:secret@127.0.0.1:1/pw', 'postgresql://pw:secret@127.0.0.1:1/pw']) {
      await assert.rejects(openStateStore(url, folder, {}), (error: unknown) => {
        isStoreError(new RegExp(escapeRegExp(url.replace('secret', '***'))))(error);
        assert.doesNotMatch(`${(error as PwError).message} ${(error as PwError).hint}`, /secret/);
        assert.match((error as PwError).hint ?? '', /Nothing accepted the connection/);
        return true;
      });
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---- PostgreSQL specifics ---------------------------------------------------------------------------

const execFileAsync = promisify(execFile);

/** Polls until `check` holds, failing after a few seconds with `what`. */
async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 25) {
    if (await check()) return;
    await delay(25);
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** Starts a promise now and keeps its rejection for a later await, not as an unhandled rejection. */
function started<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** A TCP proxy to the server that hangs up on the first `drop` connections it accepts. */
async function flakyProxy(
  server: PostgresTestServer,
  drop: number,
): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (accepted <= drop) {
      socket.destroy();
      return;
    }
    const upstream = connectTcp(server.port, server.host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

describe('PostgreSQL state store', () => {
  if (typeof postgres === 'string') {
    const reason = postgres;
    test('needs a PostgreSQL server', (t) => reportPostgresUnavailable(t, reason));
    return;
  }
  const server = postgres;
  const lockHolders = (database: string): Promise<{ n: number }[]> =>
    server.query(
      database,
      // Advisory locks belong to a database; other test files migrate their own at the same time.
      "select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = 1885958245 and objid = 2003986791 " +
        'and database = (select oid from pg_database where datname = current_database())',
    );

  test('first starts racing in two processes and two pools apply each migration once', async () => {
    const database = await server.emptyDatabase();
    const url = server.url(database);
    const moduleUrl = new URL('./postgres/open-postgres-store.js', import.meta.url).href;
    const script =
      `const { openPostgresStore } = await import(${JSON.stringify(moduleUrl)});` +
      'const store = await openPostgresStore(process.env.PW_TEST_STATE_URL); await store.close();';
    const inChild = (): Promise<unknown> =>
      execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, PW_TEST_STATE_URL: url },
      });
    const inProcess = async (): Promise<void> => (await openPostgresStore(url, { poolSize: 1 })).close();
    await Promise.all([inChild(), inChild(), inProcess(), inProcess()]);

    const applied = await server.query<{ name: string; times: number }>(
      database,
      'select name, count(*)::int as times from pw_migration group by name order by name',
    );
    assert.deepEqual(
      applied,
      MIGRATIONS.map((migration) => ({ name: migration.name, times: 1 })),
    );
    assert.deepEqual(await lockHolders(database), [{ n: 0 }], 'the migration lock is released');
    const store = await openPostgresStore(url);
    await closing(store, async () => assert.equal(await saveRevision(store), 1));
  });

  test('migrate waits while another session holds the migration lock, and gives up after its timeout', async () => {
    const database = await server.emptyDatabase();
    const url = server.url(database);
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1::bigint)', [POSTGRES_MIGRATION_LOCK_KEY]);
      await assert.rejects(openPostgresStore(url, { migrationLockTimeoutMs: 200 }), (error: unknown) => {
        isStoreError(/could not take the migration lock/)(error);
        assert.match((error as PwError).hint ?? '', /Another process has been migrating/);
        return true;
      });

      let opened = false;
      const opening = started(
        openPostgresStore(url).then((store) => {
          opened = true;
          return store;
        }),
      );
      await delay(300);
      assert.equal(opened, false, 'still waiting for the lock');
      const tables = await holder.query<{ found: string | null }>(
        "select to_regclass('pw_migration')::text as found",
      );
      assert.equal(tables.rows[0]?.found, null, 'nothing was created while waiting');
      await holder.query('select pg_advisory_unlock($1::bigint)', [POSTGRES_MIGRATION_LOCK_KEY]);
      const store = await opening;
      await closing(store, async () => assert.equal(await saveRevision(store), 1));
    } finally {
      await holder.end();
    }
  });

  test('concurrent savePipelineRevision calls from two stores retry on the unique key and get distinct revisions', async () => {
    const database = await server.migratedDatabase();
    const url = server.url(database);
    const [first, second] = await Promise.all([openPostgresStore(url), openPostgresStore(url)]);
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      await saveRevision(first, 'sales', 'h1');
      // An uncommitted revision 2 makes both stores read 1 as the latest and wait on its key; when it
      // commits, both inserts fail with unique_violation, so only the retry can succeed.
      await blocker.query('begin');
      await blocker.query("insert into pipeline_revisions values ('sales', 2, 'raw', '{}', 'raw.yaml', $1)", [
        T0.toISOString(),
      ]);
      const saving = started(
        Promise.all(
          [first, second].map((store, index) =>
            store.savePipelineRevision({
              pipelineId: 'sales',
              hash: `h-${index}`,
              definition: { index },
              sourcePath: 'p.yaml',
              at: T0,
            }),
          ),
        ),
      );
      await waitUntil('both stores wait for the uncommitted revision', async () => {
        const waiting = await blocker.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'pipewright' and wait_event_type = 'Lock'",
        );
        return waiting.rows[0]?.n === 2;
      });
      await blocker.query('commit');
      const saves = await saving;
      assert.deepEqual(saves.map((save) => save.revision.revision).sort(), [3, 4]);
      assert.ok(saves.every((save) => save.created));
      assert.equal((await second.getPipelineRevision('sales', 2))?.hash, 'raw');
      assert.equal((await first.latestPipelineRevision('sales'))?.revision, 4);
    } finally {
      await blocker.end();
      await first.close();
      await second.close();
    }
  });

  test('a refused login, a missing database or a closed port gives PW_STORE with the URL redacted and a hint', async () => {
    const role = `pw_no_such_role_${randomBytes(3).toString('hex')}`;
    const cases: [url: string, hint: RegExp][] = [
      [server.url('postgres', { user: role, password: 'hunter2' }), /refused the login/],
      [server.url(`pw_missing_${randomBytes(3).toString('hex')}`, { password: 'hunter2' }), /does not exist/],
      [server.url('postgres', { password: 'hunter2', port: 1 }), /Nothing accepted the connection/],
    ];
    for (const [url, hint] of cases) {
      await assert.rejects(openPostgresStore(url, { retryDelayMs: 10 }), (error: unknown) => {
        isStoreError(new RegExp(escapeRegExp(url.replace('hunter2', '***'))))(error);
        assert.match((error as PwError).hint ?? '', hint);
        assert.doesNotMatch(inspect(error, { depth: 10 }), /hunter2/, 'not even in the cause chain');
        return true;
      });
    }
  });

  test('connecting is retried while the server hangs up, and gives up after the configured retries', async () => {
    const database = await server.migratedDatabase();
    const flaky = await flakyProxy(server, 2);
    try {
      const store = await openPostgresStore(server.url(database, { port: flaky.port }), { retryDelayMs: 10 });
      await closing(store, async () => assert.equal(await saveRevision(store), 1));
      assert.ok(flaky.accepted() >= 3, 'the third attempt got through');
    } finally {
      await flaky.close();
    }

    const dead = await flakyProxy(server, Infinity);
    try {
      const url = server.url(database, { password: 'hunter2', port: dead.port });
      await assert.rejects(openPostgresStore(url, { retries: 2, retryDelayMs: 10 }), (error: unknown) => {
        isStoreError(/gave up after 3 attempts/)(error);
        assert.match((error as PwError).hint ?? '', /connection to PostgreSQL was lost/);
        assert.doesNotMatch((error as PwError).message, /hunter2/);
        return true;
      });
      assert.equal(dead.accepted(), 3);
    } finally {
      await dead.close();
    }
  });

  test('a read is repeated on a new connection when the server ends its session; writes and transactions are not', async () => {
    const database = await server.migratedDatabase();
    const retry = { retries: 2, delayMs: 10 };
    const pool = createPostgresPool(server.url(database), {
      poolSize: 2,
      statementTimeoutMs: 0,
      connectTimeoutMs: 5000,
      retry,
    });
    const db = new Kysely<Record<string, never>>({ dialect: createPostgresDialect(pool, retry) });
    const terminate = async (marker: string): Promise<void> => {
      let pid: number | undefined;
      await waitUntil(`the ${marker} query runs`, async () => {
        const rows = await server.query<{ pid: number }>(
          database,
          "select pid from pg_stat_activity where datname = current_database() and state = 'active' " +
            "and application_name = 'pipewright' and query like $1",
          [`%${marker}%`],
        );
        pid = rows[0]?.pid;
        return pid !== undefined;
      });
      await server.query(database, 'select pg_terminate_backend($1)', [pid]);
    };
    const is57P01 = (error: unknown): boolean => {
      assert.equal((error as { code?: string }).code, '57P01');
      return true;
    };
    try {
      const read = started(db.selectNoFrom(sql<string>`pg_sleep(0.4)::text`.as('read_marker')).execute());
      await terminate('read_marker');
      assert.deepEqual(await read, [{ read_marker: '' }]);

      const write = started(sql`select pg_sleep(0.4) as write_marker`.execute(db));
      await terminate('write_marker');
      await assert.rejects(write, is57P01);

      const inTransaction = started(
        db
          .transaction()
          .execute((trx) => trx.selectNoFrom(sql<string>`pg_sleep(0.4)::text`.as('trx_marker')).execute()),
      );
      await terminate('trx_marker');
      await assert.rejects(inTransaction, is57P01);

      // int8 arrives as a number on this pool, as text when a number could not hold it exactly, and the
      // process-wide `pg` parsers are left alone.
      const [row] = await db
        .selectNoFrom([sql<number>`42::bigint`.as('small'), sql<string>`9007199254740993::bigint`.as('huge')])
        .execute();
      assert.deepEqual(row, { small: 42, huge: '9007199254740993' });
      assert.equal(pg.types.getTypeParser(20)('5'), '5');
    } finally {
      await db.destroy();
    }
  });

  test('PIPEWRIGHT_STATE_URL can point a project configured for SQLite at PostgreSQL, and data survives reopening', async () => {
    const database = await server.migratedDatabase();
    const project = mkdtempSync(join(scratch, 'pg-project-'));
    const env = { PIPEWRIGHT_STATE_URL: server.url(database) };
    const store = await openStateStore('.pipewright/state.db', project, env);
    await closing(store, async () => {
      await saveRevision(store);
      await store.createRun(newRun());
    });
    assert.equal(existsSync(join(project, '.pipewright')), false, 'no SQLite file was created');
    const reopened = await openStateStore('.pipewright/state.db', project, env);
    await closing(reopened, async () => assert.equal((await reopened.getRun('run-0001'))?.status, 'queued'));
  });
});

describe('PostgreSQL dialect support', () => {
  test('redacts the password wherever the URL carries it', () => {
    assert.equal(redactPostgresUrl('postgres://pw:s3cr%40t@db:5432/pw'), 'postgres://pw:***@db:5432/pw');
    assert.equal(
      redactPostgresUrl('postgresql://pw@db/pw?password=s3cret&sslmode=require'),
      'postgresql://pw@db/pw?password=***&sslmode=require',
    );
    assert.equal(redactPostgresUrl('postgres://db/pw'), 'postgres://db/pw');
    assert.equal(
      redactPostgresUrl('postgres://pw:s3cret@h1:5432,h2:5432/pw'),
      'postgres://pw:***@h1:5432,h2:5432/pw',
    );
  });

  test('classifies write conflicts and transient connection failures by code', () => {
    const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });
    for (const code of ['23505', '40001', '40P01'])
      assert.ok(postgresDialectSupport.isWriteConflict(withCode(code)));
    assert.equal(postgresDialectSupport.isWriteConflict(withCode('23503')), false);
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '08006', '08003']) {
      assert.ok(isTransientConnectionError(withCode(code)), code);
    }
    assert.ok(isTransientConnectionError(new Error('Connection terminated unexpectedly')));
    assert.ok(isTransientConnectionError(new AggregateError([withCode('ECONNREFUSED')], '')));
    for (const code of ['28P01', '3D000', '23505', '57014'])
      assert.equal(isTransientConnectionError(withCode(code)), false);
  });

  test('gives a hint for the failures an operator can fix', () => {
    const hint = (code: string, message = 'x'): string =>
      postgresDialectSupport.hintFor(Object.assign(new Error(message), { code })) ?? '';
    assert.match(hint('28P01'), /refused the login/);
    assert.match(hint('28000'), /refused the login/);
    assert.match(hint('3D000'), /does not exist/);
    assert.match(hint('ECONNREFUSED'), /Nothing accepted the connection/);
    assert.match(hint('57P01'), /connection to PostgreSQL was lost/);
    assert.match(hint('42501'), /grant CREATE/);
    assert.equal(postgresDialectSupport.hintFor(new Error('syntax error')), undefined);
  });

  test('an invalid URL error loses the URL it carried', () => {
    const error = Object.assign(new TypeError('Invalid URL'), {
      code: 'ERR_INVALID_URL',
      input: 'postgres://a:s3cret@',
    });
    const normalized = normalizeDriverError(error);
    assert.doesNotMatch(inspect(normalized, { depth: 10 }), /s3cret/);
  });
});

async function closing(store: StateStore, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await store.close();
  }
}
