/**
 * Prometheus metrics: the incremental duration histograms of StoreMetrics over every store adapter
 * (seeded on the first scrape, each later finish counted exactly once), and `GET /metrics` through
 * `app.inject()` against a SQLite store in a temp copy of the demo project: authentication, the content
 * type, and exact sample values after runs are created in the store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createProject } from '../cli/commands/init.js';
import { PwError } from '../core/errors/pw-error.js';
import { loadProject, type Project } from '../project/load-project.js';
import { DefinitionSync } from '../scheduler/definitions.js';
import { openStateStore } from '../store/open-store.js';
import type { NewRun, RunStatus, StateStore } from '../store/state-store.js';
import { ADAPTERS, type AdapterFactory } from '../store/test-adapters.js';
import { buildApp } from './app.js';
import { REREAD_WINDOW_MS, StoreMetrics } from './metrics.js';
import { hashApiToken, newApiToken } from './tokens.js';

const T0 = new Date('2026-11-23T03:45:11.000Z');
const seconds = (n: number): Date => new Date(T0.getTime() + n * 1000);
const LEASE_MS = 30_000;

// ---- reading the exposition format -------------------------------------------------------------------

type Samples = Map<string, number>;

/** `name{b="2",a="1"} 3` → key `name{a="1",b="2"}` (labels sorted), value 3. Comments are skipped. */
function parseExposition(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `an exposition line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, name, value]) => `${name}="${value}"`)
      .sort();
    samples.set(seriesKey(match[1] ?? '', labels), Number(match[3]));
  }
  return samples;
}

function seriesKey(name: string, labels: string[]): string {
  return labels.length === 0 ? name : `${name}{${labels.join(',')}}`;
}

/** The value of one series, or undefined when it is absent. */
function sample(samples: Samples, name: string, labels: Record<string, string> = {}): number | undefined {
  const key = seriesKey(
    name,
    Object.entries(labels)
      .map(([label, value]) => `${label}="${value}"`)
      .sort(),
  );
  return samples.get(key);
}

// ---- store fixtures ------------------------------------------------------------------------------

function newRun(id: string, pipelineId: string, revision: number, overrides: Partial<NewRun> = {}): NewRun {
  return {
    id,
    pipelineId,
    revision,
    status: 'queued',
    trigger: 'manual:cli',
    params: {},
    scheduledFor: T0,
    queuedAt: T0,
    ...overrides,
  };
}

interface RunMaker {
  store: StateStore;
  pipelineId: string;
  revision: number;
}

/** A run that started at `start` and finished at `end` (seconds after T0). */
async function finishedRun(
  maker: RunMaker,
  id: string,
  status: RunStatus,
  start: number,
  end: number,
): Promise<void> {
  await maker.store.createRun(
    newRun(id, maker.pipelineId, maker.revision, { status: 'running', startedAt: seconds(start) }),
  );
  await maker.store.updateRun(id, { status, finishedAt: seconds(end) });
}

/** A finished step attempt of a run. */
async function finishedStep(
  store: StateStore,
  runId: string,
  stepId: string,
  status: 'succeeded' | 'failed' | 'skipped',
  start: number,
  end: number,
  attempt = 1,
): Promise<void> {
  await store.startStepAttempt({ runId, stepId, attempt, runAttempt: 1, startedAt: seconds(start) });
  await store.finishStepAttempt(runId, stepId, attempt, { status, finishedAt: seconds(end) });
}

// ---- StoreMetrics over every adapter ----------------------------------------------------------------

function histogramContract(adapter: AdapterFactory): void {
  describe(`metrics histograms: ${adapter.name}`, () => {
    let store: StateStore;
    let maker: RunMaker;
    beforeEach(async () => {
      store = await adapter.open();
      await store.savePipelineRevision({
        pipelineId: 'sales',
        hash: 'h1',
        definition: { id: 'sales' },
        sourcePath: 'pipelines/sales.yaml',
        at: T0,
      });
      maker = { store, pipelineId: 'sales', revision: 1 };
    });
    const closeAfter = async (body: () => Promise<void>): Promise<void> => {
      try {
        await body();
      } finally {
        await store.close();
      }
    };
    const scrape = async (metrics: StoreMetrics) => parseExposition(await metrics.scrape());
    const runCount = (samples: Samples, status: string) =>
      sample(samples, 'pipewright_run_duration_seconds_count', { pipeline: 'sales', status });
    const runSum = (samples: Samples, status: string) =>
      sample(samples, 'pipewright_run_duration_seconds_sum', { pipeline: 'sales', status });

    test('the first scrape counts history; later finishes are counted exactly once, also two at one instant', () =>
      closeAfter(async () => {
        const metrics = new StoreMetrics({ store, version: 't', processMetrics: false });
        await finishedRun(maker, 'old-1', 'succeeded', 0, 3);
        await finishedRun(maker, 'old-2', 'succeeded', 10, 100);
        await finishedRun(maker, 'old-3', 'failed', 10, 12);
        let samples = await scrape(metrics);
        assert.equal(runCount(samples, 'succeeded'), 2);
        assert.equal(runSum(samples, 'succeeded'), 93);
        assert.equal(runCount(samples, 'failed'), 1);
        const bucket = (le: string) =>
          sample(samples, 'pipewright_run_duration_seconds_bucket', {
            le,
            pipeline: 'sales',
            status: 'succeeded',
          });
        assert.deepEqual(
          [bucket('1'), bucket('5'), bucket('60'), bucket('120'), bucket('+Inf')],
          [0, 1, 1, 2, 2],
        );

        // Two runs finishing at the same instant, and one more scrape with nothing new.
        await finishedRun(maker, 'same-b', 'succeeded', 190, 200);
        await finishedRun(maker, 'same-a', 'succeeded', 180, 200);
        samples = await scrape(metrics);
        assert.equal(runCount(samples, 'succeeded'), 4);
        assert.equal(runSum(samples, 'succeeded'), 123);
        samples = await scrape(metrics);
        assert.equal(runCount(samples, 'succeeded'), 4, 'nothing is counted twice');

        // Another run at that same instant, visible only after the scrape that read the first two.
        await finishedRun(maker, 'same-c', 'succeeded', 195, 200);
        // A finish stamped earlier than the newest counted one (a slower clock, a later commit), within the window.
        await finishedRun(maker, 'late', 'failed', 150, 160);
        samples = await scrape(metrics);
        assert.equal(runCount(samples, 'succeeded'), 5);
        assert.equal(runSum(samples, 'succeeded'), 128);
        assert.equal(runCount(samples, 'failed'), 2);
        samples = await scrape(metrics);
        assert.equal(runCount(samples, 'succeeded'), 5);
        assert.equal(runCount(samples, 'failed'), 2);

        // A retried run that finishes again is a second finish; its duration runs from its first start.
        await store.updateRun('old-3', { status: 'queued', finishedAt: undefined, error: undefined });
        await store.updateRun('old-3', { status: 'succeeded', finishedAt: seconds(300) });
        samples = await scrape(metrics);
        assert.equal(runCount(samples, 'succeeded'), 6);
        assert.equal(runSum(samples, 'succeeded'), 128 + 290);
        assert.equal(runCount(samples, 'failed'), 2);

        // A fresh StoreMetrics (another app, a restart) seeds from the store, which keeps each run's
        // latest finish only: the retried run's earlier failure is not there any more.
        const fresh = await scrape(new StoreMetrics({ store, version: 't', processMetrics: false }));
        assert.equal(runCount(fresh, 'succeeded'), 6);
        assert.equal(runCount(fresh, 'failed'), 1);
      }));

    test('reads in pages: many finishes at one instant, then more a whole re-read window later, each counted once', () =>
      closeAfter(async () => {
        const metrics = new StoreMetrics({ store, version: 't', processMetrics: false, pageSize: 2 });
        await store.createRun(newRun('r', 'sales', 1, { status: 'running', startedAt: seconds(0) }));
        for (let i = 0; i < 7; i++) await finishedStep(store, 'r', `s${i}`, 'succeeded', 0, 5);
        const steps = (samples: Samples) =>
          [...samples]
            .filter(([key]) => key.startsWith('pipewright_step_duration_seconds_count'))
            .reduce((total, [, value]) => total + value, 0);
        assert.equal(steps(await scrape(metrics)), 7);
        const window = REREAD_WINDOW_MS / 1000;
        for (let i = 0; i < 5; i++) await finishedStep(store, 'r', `t${i}`, 'failed', 5, 5 + window + i);
        let samples = await scrape(metrics);
        assert.equal(steps(samples), 12);
        assert.equal(
          sample(samples, 'pipewright_step_duration_seconds_count', {
            pipeline: 'sales',
            step: 't4',
            status: 'failed',
          }),
          1,
        );
        assert.equal(
          sample(samples, 'pipewright_step_duration_seconds_sum', {
            pipeline: 'sales',
            step: 't4',
            status: 'failed',
          }),
          window + 4,
        );
        samples = await scrape(metrics);
        assert.equal(steps(samples), 12);
      }));

    test('concurrent scrapes share one read and count nothing twice', () =>
      closeAfter(async () => {
        const metrics = new StoreMetrics({ store, version: 't', processMetrics: false, pageSize: 3 });
        for (let i = 0; i < 10; i++) await finishedRun(maker, `run-${i}`, 'succeeded', 0, 10);
        const texts = await Promise.all([metrics.scrape(), metrics.scrape(), metrics.scrape()]);
        for (const text of texts) assert.equal(runCount(parseExposition(text), 'succeeded'), 10);
        assert.equal(runCount(await scrape(metrics), 'succeeded'), 10);
      }));
  });
}

for (const adapter of ADAPTERS) histogramContract(adapter);

// ---- GET /metrics ------------------------------------------------------------------------------

describe('GET /metrics', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pw-metrics-test-'));
  let project: Project;
  let store: StateStore;
  let app: FastifyInstance;
  let readToken = '';
  let now = seconds(1000);

  before(async () => {
    project = await loadProject(await createProject(join(scratch, 'project')));
    store = await openStateStore(project.spec.state, project.dir);
    const definitions = new DefinitionSync({ project, store });
    await definitions.sync();
    readToken = newApiToken();
    await store.createApiToken({ name: 'prometheus', scope: 'read', hash: hashApiToken(readToken), at: T0 });
    app = await buildApp({
      store,
      project,
      pipelines: () => definitions.pipelines(),
      version: '9.8.7-test',
      clock: () => now,
    });
  });

  after(async () => {
    await app.close();
    await store.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const get = (headers: Record<string, string> = { authorization: `Bearer ${readToken}` }) =>
    app.inject({ method: 'GET', url: '/metrics', headers });

  test('needs a bearer token: none or an unknown one → 401 problem', async () => {
    for (const headers of [{}, { authorization: 'Bearer pw_unknown' }]) {
      const response = await get(headers);
      assert.equal(response.statusCode, 401);
      assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
      assert.equal(response.json<{ code: string }>().code, 'PW_AUTH_REQUIRED');
    }
  });

  test('a read token gets the Prometheus text format with exact values from the store', async () => {
    const revision = (await store.latestPipelineRevision('weekly-temperature'))?.revision;
    assert.ok(revision);
    const weekly: RunMaker = { store, pipelineId: 'weekly-temperature', revision };

    let response = await get();
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(response.headers['cache-control'], 'no-store');
    let samples = parseExposition(response.body);
    assert.match(response.body, /^# HELP pipewright_runs Runs in the state store by status\.$/m);
    assert.match(response.body, /^# TYPE pipewright_run_duration_seconds histogram$/m);
    assert.match(response.body, /^# TYPE pipewright_lease_expiries_total counter$/m);
    for (const status of ['queued', 'running', 'succeeded', 'failed', 'cancelled']) {
      assert.equal(sample(samples, 'pipewright_runs', { status }), 0, `runs ${status}`);
    }
    assert.equal(sample(samples, 'pipewright_queue_depth'), 0);
    assert.equal(sample(samples, 'pipewright_queue_oldest_age_seconds'), 0);
    assert.equal(sample(samples, 'pipewright_lease_expiries_total'), 0);
    assert.equal(sample(samples, 'pipewright_build_info', { version: '9.8.7-test' }), 1);
    assert.ok((sample(samples, 'process_cpu_user_seconds_total') ?? -1) >= 0, 'process metrics');
    assert.ok(sample(samples, 'nodejs_heap_size_used_bytes'), 'Node.js metrics');

    // Two succeeded runs (with steps), one failed, one queued and one that loses its worker's lease.
    await finishedRun(weekly, 'run-ok-1', 'succeeded', 0, 40);
    await finishedStep(store, 'run-ok-1', 'readings', 'succeeded', 0, 0.5);
    await finishedStep(store, 'run-ok-1', 'export', 'failed', 1, 3);
    await finishedStep(store, 'run-ok-1', 'export', 'succeeded', 4, 40, 2);
    await finishedRun(weekly, 'run-ok-2', 'succeeded', 100, 400);
    await finishedRun(weekly, 'run-bad', 'failed', 500, 502);
    assert.ok(
      await store.enqueueRun({
        ...newRun('run-waiting', 'weekly-temperature', revision, { queuedAt: seconds(900) }),
        status: 'queued',
      }),
    );
    assert.ok(
      await store.enqueueRun({
        ...newRun('run-lost', 'weekly-temperature', revision, { queuedAt: seconds(10) }),
        status: 'queued',
      }),
    );
    assert.equal(
      (await store.claimRun({ workerId: 'gone', now: seconds(20), leaseMs: LEASE_MS }))?.id,
      'run-lost',
    );
    const taken = await store.requeueExpiredLeases(seconds(20 + LEASE_MS / 1000 + 1), 3);
    assert.deepEqual(
      taken.requeued.map((run) => run.id),
      ['run-lost'],
    );

    response = await get();
    assert.equal(response.statusCode, 200);
    samples = parseExposition(response.body);
    const expected: [string, Record<string, string>, number][] = [
      ['pipewright_runs', { status: 'succeeded' }, 2],
      ['pipewright_runs', { status: 'failed' }, 1],
      ['pipewright_runs', { status: 'queued' }, 2],
      ['pipewright_runs', { status: 'running' }, 0],
      ['pipewright_runs', { status: 'cancelled' }, 0],
      ['pipewright_queue_depth', {}, 2],
      // The oldest queued run (run-lost, queued at T0 + 10 s) has waited 990 s at T0 + 1000 s.
      ['pipewright_queue_oldest_age_seconds', {}, 990],
      ['pipewright_lease_expiries_total', {}, 1],
      ['pipewright_run_duration_seconds_count', { pipeline: 'weekly-temperature', status: 'succeeded' }, 2],
      ['pipewright_run_duration_seconds_sum', { pipeline: 'weekly-temperature', status: 'succeeded' }, 340],
      [
        'pipewright_run_duration_seconds_bucket',
        { le: '120', pipeline: 'weekly-temperature', status: 'succeeded' },
        1,
      ],
      [
        'pipewright_run_duration_seconds_bucket',
        { le: '300', pipeline: 'weekly-temperature', status: 'succeeded' },
        2,
      ],
      [
        'pipewright_run_duration_seconds_bucket',
        { le: '600', pipeline: 'weekly-temperature', status: 'succeeded' },
        2,
      ],
      [
        'pipewright_run_duration_seconds_bucket',
        { le: '+Inf', pipeline: 'weekly-temperature', status: 'succeeded' },
        2,
      ],
      ['pipewright_run_duration_seconds_count', { pipeline: 'weekly-temperature', status: 'failed' }, 1],
      ['pipewright_run_duration_seconds_sum', { pipeline: 'weekly-temperature', status: 'failed' }, 2],
      [
        'pipewright_step_duration_seconds_count',
        { pipeline: 'weekly-temperature', step: 'readings', status: 'succeeded' },
        1,
      ],
      [
        'pipewright_step_duration_seconds_sum',
        { pipeline: 'weekly-temperature', step: 'readings', status: 'succeeded' },
        0.5,
      ],
      [
        'pipewright_step_duration_seconds_bucket',
        { le: '0.5', pipeline: 'weekly-temperature', step: 'readings', status: 'succeeded' },
        1,
      ],
      [
        'pipewright_step_duration_seconds_count',
        { pipeline: 'weekly-temperature', step: 'export', status: 'failed' },
        1,
      ],
      [
        'pipewright_step_duration_seconds_count',
        { pipeline: 'weekly-temperature', step: 'export', status: 'succeeded' },
        1,
      ],
      [
        'pipewright_step_duration_seconds_sum',
        { pipeline: 'weekly-temperature', step: 'export', status: 'succeeded' },
        36,
      ],
    ];
    for (const [name, labels, value] of expected) {
      assert.equal(sample(samples, name, labels), value, `${name} ${JSON.stringify(labels)}`);
    }
    // The exact line, as Prometheus reads it.
    assert.match(response.body, /^pipewright_runs\{status="succeeded"\} 2$/m);

    // Later finishes are added once; the queue drains.
    now = seconds(2000);
    await store.updateRun('run-waiting', {
      status: 'succeeded',
      startedAt: seconds(1000),
      finishedAt: seconds(1010),
    });
    samples = parseExposition((await get()).body);
    assert.equal(sample(samples, 'pipewright_runs', { status: 'succeeded' }), 3);
    assert.equal(sample(samples, 'pipewright_queue_depth'), 1);
    assert.equal(sample(samples, 'pipewright_queue_oldest_age_seconds'), 1990);
    assert.equal(
      sample(samples, 'pipewright_run_duration_seconds_count', {
        pipeline: 'weekly-temperature',
        status: 'succeeded',
      }),
      3,
    );
    samples = parseExposition((await get()).body);
    assert.equal(
      sample(samples, 'pipewright_run_duration_seconds_count', {
        pipeline: 'weekly-temperature',
        status: 'succeeded',
      }),
      3,
    );
  });

  test('is in the OpenAPI document as text/plain with scope read', async () => {
    const document = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{
      paths: Record<
        string,
        Record<
          string,
          { 'x-required-scope'?: string; responses: Record<string, { content?: Record<string, unknown> }> }
        >
      >;
    }>();
    const operation = document.paths['/metrics']?.get;
    assert.ok(operation);
    assert.equal(operation['x-required-scope'], 'read');
    assert.deepEqual(Object.keys(operation.responses['200']?.content ?? {}), ['text/plain; version=0.0.4']);
    assert.ok(operation.responses['401'] && operation.responses['503']);
  });

  test('a store that does not answer → 503 problem', async () => {
    // Authentication works; the first metrics query fails as an unreachable store does.
    const failing = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'countRunsByStatus') {
          return () =>
            Promise.reject(
              new PwError('PW_STORE', 'State store test: could not count runs by status: connection refused'),
            );
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const other = await buildApp({ store: failing, project, pipelines: () => [], version: 't' });
    try {
      const response = await other.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${readToken}` },
      });
      assert.equal(response.statusCode, 503);
      assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
      assert.equal(response.json<{ code: string }>().code, 'PW_STORE');
    } finally {
      await other.close();
    }
  });
});
