/**
 * One contract suite for every state-store adapter: each entry of ADAPTERS runs the same tests, so the
 * PostgreSQL adapter is added by appending a factory, not by copying tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PwError } from '../core/errors/pw-error.js';
import { openStateStore } from './open-store.js';
import { openSqliteStore } from './sqlite/open-sqlite-store.js';
import type { LogEntry, NewRun, StateStore } from './state-store.js';

interface AdapterFactory {
  name: string;
  /** A fresh, empty, migrated store for each test. */
  open(): Promise<StateStore>;
  /** Opens the store the last `open()` created again, to prove data survives a restart. */
  reopen(): Promise<StateStore>;
}

const scratch = mkdtempSync(join(tmpdir(), 'pw-store-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let sqliteCounter = 0;
let sqlitePath = '';
const ADAPTERS: AdapterFactory[] = [
  {
    name: 'sqlite',
    open: () => {
      sqliteCounter += 1;
      sqlitePath = join(scratch, `case-${sqliteCounter}`, 'state.db');
      return openSqliteStore(sqlitePath);
    },
    reopen: () => openSqliteStore(sqlitePath),
  },
];

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

  test('openStateStore refuses PostgreSQL URLs for now without echoing the URL', async () => {
    for (const url of ['postgres://pw:secret@db/pw', 'postgresql://pw:secret@db/pw']) {
      await assert.rejects(openStateStore(url, folder), (error: unknown) => {
        isStoreError(/PostgreSQL state store is not available yet/)(error);
        assert.doesNotMatch((error as PwError).message, /secret/);
        return true;
      });
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
