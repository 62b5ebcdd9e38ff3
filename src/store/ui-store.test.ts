/**
 * Contract tests of the web UI's store methods over every adapter (SQLite and, when it answers,
 * PostgreSQL): sessions by id hash, the recent runs of many pipelines in one query, run filters by
 * time window and statuses, the data-load ledger in keyset pages, recent deliveries failed first — and,
 * with 100,000 runs over 200 pipelines, query plans that use indexes for the UI's lists.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Sqlite from 'better-sqlite3';
import type { RunStatus, StateStore } from './state-store.js';
import { ADAPTERS, postgres } from './test-adapters.js';

const T0 = new Date('2026-11-23T04:00:00.000Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

async function withStore(open: () => Promise<StateStore>, body: (store: StateStore) => Promise<void>) {
  const store = await open();
  try {
    await body(store);
  } finally {
    await store.close();
  }
}

async function pipelineWithRuns(store: StateStore, pipelineId: string, statuses: RunStatus[], start = 0) {
  const { revision } = await store.savePipelineRevision({
    pipelineId,
    hash: `h-${pipelineId}`,
    definition: {},
    sourcePath: `pipelines/${pipelineId}.yaml`,
    at: T0,
  });
  for (const [index, status] of statuses.entries()) {
    await store.createRun({
      id: `${pipelineId}-${String(index).padStart(3, '0')}`,
      pipelineId,
      revision: revision.revision,
      status,
      trigger: 'manual:test',
      params: {},
      scheduledFor: minutes(start + index),
      // Pairs of runs share an instant, so the order must fall back to the id.
      queuedAt: minutes(start + Math.floor(index / 2) * 2),
    });
  }
}

for (const adapter of ADAPTERS) {
  describe(`web UI store: ${adapter.name}`, () => {
    test('sessions are found by id hash with their token, touched, deleted; expired ones go on create', async () => {
      await withStore(adapter.open, async (store) => {
        const token = await store.createApiToken({ name: 'ui', scope: 'operate', hash: 'h-ui', at: T0 });
        const session = {
          idHash: 'session-hash-1',
          tokenId: token.id,
          csrfToken: 'csrf-1',
          createdAt: T0,
          expiresAt: minutes(60),
          lastSeenAt: T0,
        };
        await store.createUiSession(session);
        assert.deepEqual(await store.findUiSession('session-hash-1'), { session, token });
        assert.equal(await store.findUiSession('other'), undefined);
        await store.touchUiSession('session-hash-1', minutes(5));
        assert.deepEqual((await store.findUiSession('session-hash-1'))?.session.lastSeenAt, minutes(5));
        // A session created after the first one's absolute expiry removes it.
        await store.createUiSession({
          ...session,
          idHash: 'session-hash-2',
          createdAt: minutes(61),
          expiresAt: minutes(200),
        });
        assert.equal(await store.findUiSession('session-hash-1'), undefined);
        await store.deleteUiSession('session-hash-2');
        assert.equal(await store.findUiSession('session-hash-2'), undefined);
      });
    });

    test('recent runs of many pipelines in one query: at most N each, newest first, ties by id', async () => {
      await withStore(adapter.open, async (store) => {
        await pipelineWithRuns(store, 'busy', Array<RunStatus>(25).fill('succeeded'));
        await pipelineWithRuns(store, 'quiet', ['failed', 'succeeded', 'running']);
        await pipelineWithRuns(store, 'never', []);
        await pipelineWithRuns(store, 'other', ['succeeded']);
        const runs = await store.listRecentRunsByPipeline(['busy', 'quiet', 'never'], 20);
        const busy = runs.filter((run) => run.pipelineId === 'busy').map((run) => run.id);
        assert.deepEqual(
          busy,
          Array.from({ length: 20 }, (_, index) => `busy-${String(24 - index).padStart(3, '0')}`),
        );
        assert.deepEqual(
          runs.filter((run) => run.pipelineId === 'quiet').map((run) => run.id),
          ['quiet-002', 'quiet-001', 'quiet-000'],
        );
        assert.ok(!runs.some((run) => run.pipelineId === 'other'));
        assert.deepEqual(await store.listRecentRunsByPipeline([], 20), []);
      });
    });

    test('runs filter by a queued_at window and by a set of statuses', async () => {
      await withStore(adapter.open, async (store) => {
        await pipelineWithRuns(store, 'p', [
          'succeeded',
          'failed',
          'queued',
          'cancelled',
          'succeeded',
          'running',
        ]);
        const window = await store.listRuns({ from: minutes(2), before: minutes(4) });
        assert.deepEqual(
          window.map((run) => run.id),
          ['p-003', 'p-002'],
        );
        const finished = await store.listRuns({
          pipelineId: 'p',
          statuses: ['succeeded', 'failed', 'cancelled'],
        });
        assert.deepEqual(
          finished.map((run) => run.id),
          ['p-004', 'p-003', 'p-001', 'p-000'],
        );
      });
    });

    test('the data-load ledger pages newest first by (at, id) without gaps or repeats', async () => {
      await withStore(adapter.open, async (store) => {
        await pipelineWithRuns(store, 'loader', ['succeeded']);
        await pipelineWithRuns(store, 'else', ['succeeded']);
        for (let index = 0; index < 7; index += 1) {
          await store.recordDataLoad({
            runId: 'loader-000',
            pipelineId: 'loader',
            stepId: 'load',
            target: `table_${index}`,
            rows: index,
            status: index === 3 ? 'failed' : 'succeeded',
            // Loads share instants, so the cursor must split ties by id.
            at: minutes(Math.floor(index / 3)),
          });
        }
        await store.recordDataLoad({
          runId: 'else-000',
          pipelineId: 'else',
          stepId: 'load',
          target: 'not_mine',
          rows: 1,
          status: 'succeeded',
          at: minutes(1),
        });
        const seen: string[] = [];
        let after: { at: Date; id: number } | undefined;
        for (;;) {
          const page = await store.listDataLoadsPage('loader', after, 3);
          seen.push(...page.map((load) => load.target));
          const last = page.at(-1);
          if (page.length < 3 || last?.id === undefined) break;
          after = { at: last.at, id: last.id };
        }
        assert.deepEqual(
          seen,
          [6, 5, 4, 3, 2, 1, 0].map((index) => `table_${index}`),
        );
      });
    });

    test('recent deliveries across runs, and the failed ones only', async () => {
      await withStore(adapter.open, async (store) => {
        await pipelineWithRuns(store, 'mailer', ['succeeded', 'failed']);
        const statuses = ['sent', 'failed', 'outbox', 'failed', 'sent'] as const;
        for (const [index, status] of statuses.entries()) {
          await store.recordDelivery({
            runId: `mailer-00${index % 2}`,
            pipelineId: 'mailer',
            event: 'step',
            kind: 'email',
            target: `to-${index}@example.org`,
            status,
            attempts: 1,
            createdAt: minutes(index),
          });
        }
        const recent = await store.listRecentDeliveries({ failedOnly: false, limit: 3 });
        assert.deepEqual(
          recent.map((item) => item.target),
          ['to-4@example.org', 'to-3@example.org', 'to-2@example.org'],
        );
        const failed = await store.listRecentDeliveries({ failedOnly: true, limit: 10 });
        assert.deepEqual(
          failed.map((item) => item.target),
          ['to-3@example.org', 'to-1@example.org'],
        );
      });
    });
  });
}

// ---- query plans with 100,000 runs over 200 pipelines -------------------------------------------------

const PIPELINES = 200;
const RUNS = 100_000;

/** The UI's list queries as the store sends them (parameters as `?`; PostgreSQL gets `$n`). */
const LIST_QUERIES: Record<string, { sql: string; params: unknown[] }> = {
  'history, all': {
    sql: 'select * from runs order by queued_at desc, id desc limit 51',
    params: [],
  },
  'history, from/to window': {
    sql: 'select * from runs where queued_at < ? and queued_at >= ? order by queued_at desc, id desc limit 51',
    params: ['2026-02-01T00:00:00.000Z', '2026-01-20T00:00:00.000Z'],
  },
  'history of a pipeline': {
    sql: 'select * from runs where pipeline_id = ? order by queued_at desc, id desc limit 51',
    params: ['p042'],
  },
  'history of a pipeline by status': {
    sql: 'select * from runs where pipeline_id = ? and status = ? order by queued_at desc, id desc limit 51',
    params: ['p042', 'failed'],
  },
  'history by status (activity: failures of 7 days)': {
    sql: 'select * from runs where status = ? and queued_at >= ? order by queued_at desc, id desc limit 51',
    params: ['failed', '2026-03-01T00:00:00.000Z'],
  },
  'stats: last 100 finished of a pipeline': {
    sql: 'select * from runs where pipeline_id = ? and status in (?, ?, ?) order by queued_at desc, id desc limit 100',
    params: ['p042', 'succeeded', 'failed', 'cancelled'],
  },
};

/** listRecentRunsByPipeline's statements (ui-queries.ts), with `n` pipelines. */
const RECENT_RUNS = {
  sqlite: (n: number) =>
    `with p(pid) as (values ${Array(n).fill('(?)').join(', ')}) select runs.* from p join runs on runs.id in (` +
    'select r.id from runs as r where r.pipeline_id = p.pid order by r.queued_at desc, r.id desc limit 20) ' +
    'order by runs.pipeline_id, runs.queued_at desc, runs.id desc',
  postgres: (n: number) =>
    `select r.* from (values ${Array.from({ length: n }, (_, i) => `($${i + 1})`).join(', ')}) as p(pid) ` +
    'cross join lateral (select * from runs where runs.pipeline_id = p.pid ' +
    'order by runs.queued_at desc, runs.id desc limit 20) as r order by r.pipeline_id, r.queued_at desc, r.id desc',
};

const pipelineIds = Array.from({ length: PIPELINES }, (_, index) => `p${String(index).padStart(3, '0')}`);

async function seedRevisions(store: StateStore): Promise<void> {
  for (const pipelineId of pipelineIds) {
    await store.savePipelineRevision({ pipelineId, hash: 'h', definition: {}, sourcePath: 'x', at: T0 });
  }
}

describe('web UI list queries with 100,000 runs', () => {
  test('sqlite: every list query reads an index, none sorts all runs; recent runs stay fast', async () => {
    const adapter = ADAPTERS[0];
    assert.ok(adapter);
    await withStore(adapter.open, async (store) => {
      await seedRevisions(store);
      const db = new Sqlite(adapter.location());
      try {
        db.exec(`with recursive n(i) as (select 0 union all select i + 1 from n where i < ${RUNS - 1})
          insert into runs (id, pipeline_id, revision, status, trigger, params, scheduled_for, queued_at, started_at, finished_at, attempt)
          select printf('run-%06d', i), printf('p%03d', i % ${PIPELINES}), 1,
            case when i % 10 = 0 then 'failed' else 'succeeded' end, 'schedule', '{}',
            strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || i || ' minutes'),
            strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || i || ' minutes'),
            strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || i || ' minutes'),
            strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || i || ' minutes', '+30 seconds'), 1
          from n`);
        db.exec('analyze');
        const plan = (text: string, params: unknown[]) =>
          (db.prepare(`explain query plan ${text}`).all(...params) as { detail: string }[])
            .map((row) => row.detail)
            .join('\n');
        for (const [name, query] of Object.entries(LIST_QUERIES)) {
          const detail = plan(query.sql, query.params);
          assert.match(detail, /USING (COVERING )?INDEX/, `${name}:\n${detail}`);
          assert.doesNotMatch(detail, /USE TEMP B-TREE FOR ORDER BY/, `${name} sorts:\n${detail}`);
        }
        const recent = plan(RECENT_RUNS.sqlite(PIPELINES), pipelineIds);
        assert.match(
          recent,
          /SEARCH r USING COVERING INDEX runs_pipeline_recent_idx \(pipeline_id=\?\)/,
          recent,
        );
        assert.doesNotMatch(recent, /SCAN runs/, recent);
      } finally {
        db.close();
      }
      const started = performance.now();
      const runs = await store.listRecentRunsByPipeline(pipelineIds, 20);
      const elapsed = performance.now() - started;
      assert.equal(runs.length, PIPELINES * 20);
      assert.equal(runs[0]?.id, 'run-099800');
      // Not a timing test (bench/ measures); a generous bound that only a full row scan would break.
      assert.ok(elapsed < 5000, `${elapsed} ms`);
    });
  });

  test('postgres: every list query reads an index', async (t) => {
    const adapter = ADAPTERS.find((candidate) => candidate.name === 'postgres');
    if (adapter === undefined || typeof postgres === 'string') {
      const { reportPostgresUnavailable } = await import('./test-adapters.js');
      reportPostgresUnavailable(t, typeof postgres === 'string' ? postgres : 'no adapter');
      return;
    }
    const server = postgres;
    await withStore(adapter.open, async (store) => {
      await seedRevisions(store);
      const database = new URL(adapter.location()).pathname.slice(1);
      await server.query(
        database,
        `insert into runs (id, pipeline_id, revision, status, trigger, params, scheduled_for, queued_at, started_at, finished_at, attempt)
         select 'run-' || lpad(i::text, 6, '0'), 'p' || lpad((i % ${PIPELINES})::text, 3, '0'), 1,
           case when i % 10 = 0 then 'failed' else 'succeeded' end, 'schedule', '{}',
           to_char(timestamp '2026-01-01' + i * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(timestamp '2026-01-01' + i * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(timestamp '2026-01-01' + i * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(timestamp '2026-01-01' + i * interval '1 minute' + interval '30 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 1
         from generate_series(0, ${RUNS - 1}) as i`,
      );
      await server.query(database, 'analyze runs');
      const numbered = (text: string) => {
        let n = 0;
        return text.replace(/\?/g, () => `$${(n += 1)}`);
      };
      for (const [name, query] of Object.entries(LIST_QUERIES)) {
        const rows = await server.query<{ 'QUERY PLAN': string }>(
          database,
          `explain ${numbered(query.sql)}`,
          query.params,
        );
        const detail = rows.map((row) => row['QUERY PLAN']).join('\n');
        assert.match(detail, /Index (Only )?Scan/, `${name}:\n${detail}`);
        assert.doesNotMatch(detail, /Seq Scan on runs/, `${name}:\n${detail}`);
      }
      const rows = await server.query<{ 'QUERY PLAN': string }>(
        database,
        `explain ${RECENT_RUNS.postgres(PIPELINES)}`,
        pipelineIds,
      );
      const recent = rows.map((row) => row['QUERY PLAN']).join('\n');
      assert.match(recent, /Index Scan Backward using runs_pipeline_recent_idx/, recent);
      assert.doesNotMatch(recent, /Seq Scan on runs/, recent);
      const runs = await store.listRecentRunsByPipeline(pipelineIds, 20);
      assert.equal(runs.length, PIPELINES * 20);
      assert.equal(runs[0]?.id, 'run-099800');
    });
  });
});
