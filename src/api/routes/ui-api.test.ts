/**
 * The REST API additions the web UI reads, through `app.inject()` against a real SQLite store in a temp
 * copy of the demo project: recent runs and next instants of pipelines, a pipeline's definition and
 * statistics, its data-load ledger, the run history's time window, the activity page, artifact
 * previews (CSV and Parquet through DuckDB, XLSX, text, embeds, none) and rows in/out per step.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import ExcelJS from 'exceljs';
import type { FastifyInstance } from 'fastify';
import { createProject } from '../../cli/commands/init.js';
import { loadProject, type Project } from '../../project/load-project.js';
import { projectSchema } from '../../core/spec/project-schema.js';
import { DefinitionSync } from '../../scheduler/definitions.js';
import { openStateStore } from '../../store/open-store.js';
import type { RunStatus, StateStore } from '../../store/state-store.js';
import { buildApp } from '../app.js';
import { hashApiToken, newApiToken } from '../tokens.js';

const scratch = mkdtempSync(join(tmpdir(), 'pw-ui-api-'));
const NOW = new Date('2026-11-23T10:00:00.000Z');
let app: FastifyInstance;
let store: StateStore;
let project: Project;
let token = '';
let runCounter = 0;

const get = async <T>(url: string) => {
  const response = await app.inject({ url, headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
  return response.json<T>();
};

async function addRun(pipelineId: string, status: RunStatus, queuedAt: Date, durationMs = 60_000) {
  runCounter += 1;
  const revision = (await store.latestPipelineRevision(pipelineId))?.revision ?? 1;
  const run = await store.createRun({
    id: `20261123-ui-${String(runCounter).padStart(4, '0')}`,
    pipelineId,
    revision,
    status,
    trigger: 'schedule',
    params: {},
    scheduledFor: queuedAt,
    queuedAt,
    startedAt: queuedAt,
  });
  if (status !== 'queued' && status !== 'running') {
    await store.updateRun(run.id, { finishedAt: new Date(queuedAt.getTime() + durationMs) });
  }
  return run;
}

before(async () => {
  const dir = await createProject(join(scratch, 'project'));
  project = await loadProject(dir);
  store = await openStateStore(project.spec.state, project.dir);
  const definitions = new DefinitionSync({ project, store });
  await definitions.sync();
  token = newApiToken();
  await store.createApiToken({ name: 'ui-api', scope: 'read', hash: hashApiToken(token), at: NOW });
  app = await buildApp({
    store,
    project,
    pipelines: () => definitions.pipelines(),
    version: '0.0.0-test',
    clock: () => NOW,
    uiDir: false,
  });
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface RunSummary {
  id: string;
  status: string;
  duration_ms: number | null;
}

describe('API additions for the web UI', () => {
  test('pipelines carry their 20 most recent runs, last_run with duration, and ?next=N instants', async () => {
    for (let index = 0; index < 24; index += 1) {
      await addRun(
        'weekly-temperature',
        index % 4 === 0 ? 'failed' : 'succeeded',
        new Date(NOW.getTime() - (24 - index) * 3_600_000),
        1000 * (index + 1),
      );
    }
    const { pipelines } = await get<{
      pipelines: {
        id: string;
        recent_runs: RunSummary[];
        last_run: RunSummary | null;
        schedule: { next: string[] } | null;
      }[];
    }>('/api/pipelines');
    const weekly = pipelines.find((pipeline) => pipeline.id === 'weekly-temperature');
    assert.ok(weekly);
    assert.equal(weekly.recent_runs.length, 20);
    assert.equal(weekly.recent_runs[0]?.id, '20261123-ui-0024');
    assert.equal(weekly.recent_runs[19]?.id, '20261123-ui-0005');
    assert.deepEqual(Object.keys(weekly.recent_runs[0] ?? {}).sort(), [
      'duration_ms',
      'finished_at',
      'id',
      'queued_at',
      'started_at',
      'status',
      'trigger',
    ]);
    assert.equal(weekly.last_run?.id, '20261123-ui-0024');
    assert.equal(weekly.last_run.duration_ms, 24_000);
    assert.equal(weekly.schedule?.next.length, 3);
    const sensor = pipelines.find((pipeline) => pipeline.id === 'sensor-documents');
    assert.deepEqual(sensor?.recent_runs, []);

    const five = await get<{ schedule: { next: string[] } }>('/api/pipelines/weekly-temperature?next=5');
    assert.equal(five.schedule.next.length, 5);
    const tooMany = await app.inject({
      url: '/api/pipelines/weekly-temperature?next=21',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(tooMany.statusCode, 400);
  });

  test('a pipeline has its YAML, its steps with inferred needs, and the statistics of finished runs', async () => {
    const detail = await get<{
      definition: { yaml: string; steps: { id: string; type: string; needs: string[] }[] };
      stats: {
        runs: { id: string; status: string; started_at: string; duration_ms: number }[];
        success_rate: number;
      };
    }>('/api/pipelines/weekly-temperature');
    assert.match(detail.definition.yaml, /^# yaml-language-server/);
    assert.match(detail.definition.yaml, /id: weekly-temperature/);
    const hourly = detail.definition.steps.find((step) => step.id === 'hourly');
    assert.deepEqual(hourly, { id: 'hourly', type: 'sql', needs: ['readings'] }, 'read from its SQL');
    const exported = detail.definition.steps.find((step) => step.id === 'export');
    assert.ok(exported?.needs.includes('quality'), 'explicit needs');
    assert.equal(detail.stats.runs.length, 24);
    assert.equal(detail.stats.runs[0]?.id, '20261123-ui-0024');
    assert.equal(detail.stats.runs[0]?.duration_ms, 24_000);
    assert.equal(detail.stats.success_rate, 18 / 24);
    const empty = await get<{ stats: { runs: unknown[]; success_rate: number | null } }>(
      '/api/pipelines/sensor-documents',
    );
    assert.deepEqual(empty.stats, { runs: [], success_rate: null });
  });

  test('the data-load ledger of a pipeline, in pages', async () => {
    const run = await addRun('sensor-documents', 'succeeded', new Date(NOW.getTime() - 3_600_000));
    for (let index = 0; index < 5; index += 1) {
      await store.recordDataLoad({
        runId: run.id,
        pipelineId: 'sensor-documents',
        stepId: 'load',
        target: `documents_${index}`,
        rows: 10 * index,
        status: 'succeeded',
        at: new Date(NOW.getTime() - 3_600_000 + index * 1000),
      });
    }
    const first = await get<{
      loads: { target: string; run_id: string; step: string; rows: number; created_at: string }[];
      next: string;
    }>('/api/pipelines/sensor-documents/loads?limit=3');
    assert.deepEqual(
      first.loads.map((load) => load.target),
      ['documents_4', 'documents_3', 'documents_2'],
    );
    assert.equal(first.loads[0]?.run_id, run.id);
    assert.equal(first.loads[0]?.step, 'load');
    assert.equal(first.loads[0]?.rows, 40);
    const second = await get<{ loads: { target: string }[]; next: string | null }>(
      `/api/pipelines/sensor-documents/loads?limit=3&cursor=${first.next}`,
    );
    assert.deepEqual(
      second.loads.map((load) => load.target),
      ['documents_1', 'documents_0'],
    );
    assert.equal(second.next, null);
    const missing = await app.inject({
      url: '/api/pipelines/nope/loads',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(missing.statusCode, 404);
  });

  test('the run history filters on a from/to window of queued_at; dates cover whole days', async () => {
    const window = await get<{ runs: { id: string }[] }>(
      `/api/runs?pipeline=weekly-temperature&from=${encodeURIComponent(new Date(NOW.getTime() - 3 * 3_600_000).toISOString())}&to=${encodeURIComponent(new Date(NOW.getTime() - 3_600_000).toISOString())}`,
    );
    assert.deepEqual(
      window.runs.map((run) => run.id),
      ['20261123-ui-0023', '20261123-ui-0022'],
    );
    const day = await get<{ runs: unknown[] }>(
      '/api/runs?pipeline=weekly-temperature&from=2026-11-22&to=2026-11-22',
    );
    assert.equal(day.runs.length, 14, 'the runs queued on 22 November, UTC');
  });

  test('activity lists failed runs of the last 7 days first, then recent runs; failed deliveries first', async () => {
    const old = await addRun('sensor-documents', 'failed', new Date(NOW.getTime() - 8 * 24 * 3_600_000));
    await store.recordDelivery({
      runId: old.id,
      pipelineId: 'sensor-documents',
      event: 'on_failure',
      kind: 'email',
      target: 'ops@example.org',
      status: 'failed',
      attempts: 3,
      error: 'refused',
      createdAt: new Date(NOW.getTime() - 8 * 24 * 3_600_000),
    });
    await store.recordDelivery({
      pipelineId: 'weekly-temperature',
      event: 'step',
      kind: 'webhook',
      target: 'https://hooks.example.org/x',
      status: 'sent',
      attempts: 1,
      createdAt: NOW,
    });
    const activity = await get<{
      runs: { id: string; status: string }[];
      deliveries: { status: string; run_id: string | null; pipeline: string }[];
      files: unknown[];
    }>('/api/activity?limit=5');
    const failedFirst = activity.runs.slice(0, 6).map((run) => run.status);
    assert.deepEqual(failedFirst, ['failed', 'failed', 'failed', 'failed', 'failed', 'succeeded']);
    assert.ok(
      !activity.runs.slice(0, 5).some((run) => run.id === old.id),
      'older failures are not put first',
    );
    assert.equal(new Set(activity.runs.map((run) => run.id)).size, activity.runs.length, 'no run twice');
    assert.deepEqual(activity.deliveries[0], {
      ...activity.deliveries[0],
      status: 'failed',
      run_id: old.id,
      pipeline: 'sensor-documents',
    });
    assert.equal(activity.deliveries[1]?.run_id, null);
    assert.deepEqual(activity.files, []);
  });

  test('activity lists files received by watched folders and inbox batches, failed first', async () => {
    const watched = (name: string, state: 'succeeded' | 'failed', minutesAgo: number) => ({
      id: `wf-${name}`,
      pipelineId: 'sensor-documents',
      dir: 'inbox',
      name,
      size: 10,
      mtime: NOW,
      sha256: name.padEnd(64, '0'),
      state,
      runId: `run-for-${name}`,
      processingPath: `/p/inbox/processing/${name}`,
      finalPath: `/p/inbox/${state === 'failed' ? 'failed' : 'processed/2026/11/23'}/${name}`,
      ...(state === 'failed' ? { message: 'PW_SPEC_TYPE: bad column' } : {}),
      claimedAt: new Date(NOW.getTime() - minutesAgo * 60_000),
    });
    await store.recordWatchedFile(watched('old-bad.csv', 'failed', 50));
    await store.recordWatchedFile(watched('fine.csv', 'succeeded', 10));
    await store.recordInboxBatch({
      id: 'b-1',
      inbox: 'health',
      receivedAt: new Date(NOW.getTime() - 5 * 60_000),
      bytes: 1234,
      status: 'stored',
      files: [{ name: 'a.json', stored_as: '20261123-120000_a.json', bytes: 10, sha256: 'x'.repeat(64) }],
      runId: 'run-for-b-1',
    });
    const activity = await get<{
      files: { source: string; name: string; status: string; state: string; error: string | null }[];
    }>('/api/activity?limit=5');
    assert.deepEqual(
      activity.files.map((file) => [file.source, file.name, file.state, file.status]),
      [
        ['watch inbox', 'old-bad.csv', 'failed', 'failed'],
        ['inbox health', 'batch b-1 (1 file)', 'stored', 'succeeded'],
        ['watch inbox', 'fine.csv', 'succeeded', 'succeeded'],
      ],
    );
    assert.equal(activity.files[0]?.error, 'PW_SPEC_TYPE: bad column');
  });

  test('activity lists the files of routed folders that match no route', async () => {
    const incoming = join(scratch, 'incoming');
    mkdirSync(incoming, { recursive: true });
    writeFileSync(join(incoming, 'orders_1.csv'), 'id\n1\n');
    writeFileSync(join(incoming, 'holiday-photo.jpg'), 'x');
    const routed = {
      ...project,
      spec: projectSchema.parse({
        watch: [{ dir: incoming, routes: [{ pattern: '^orders_', pipeline: 'sensor-documents' }] }],
      }),
    };
    const routedApp = await buildApp({
      store,
      project: routed,
      pipelines: () => [],
      version: '0.0.0-test',
      clock: () => NOW,
      uiDir: false,
    });
    try {
      const response = await routedApp.inject({
        url: '/api/activity?limit=50',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.statusCode, 200, response.body);
      const unmatched = response
        .json<{
          files: {
            source: string;
            name: string;
            state: string;
            status: string;
            error: string | null;
            path: string | null;
            run_id: string | null;
          }[];
        }>()
        .files.filter((file) => file.state === 'unmatched');
      assert.deepEqual(unmatched, [
        {
          ...unmatched[0],
          source: `watch ${incoming}`,
          name: 'holiday-photo.jpg',
          path: join(incoming, 'holiday-photo.jpg'),
          status: 'skipped',
          error: 'matches no route of watch[0] in pipewright.yaml; it stays in the folder',
          run_id: null,
        },
      ]);
    } finally {
      await routedApp.close();
    }
  });

  test('artifact previews: CSV and Parquet tables, XLSX, text, embeds and none', async () => {
    const run = await addRun('sensor-documents', 'succeeded', NOW);
    const lines = [
      'probe,temp_c',
      ...Array.from({ length: 150 }, (_, index) => `p${index},${20 + index / 10}`),
    ];
    writeFileSync(join(scratch, 'readings.csv'), `${lines.join('\n')}\n`);
    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    await connection.run(
      `copy (select range as n, 'row ' || range as label from range(3)) to '${join(scratch, 'small.parquet')}' (format parquet)`,
    );
    connection.closeSync();
    duck.closeSync();
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('data');
    sheet.addRow(['name', 'count']);
    sheet.addRow(['a', 1]);
    sheet.addRow(['b', 2]);
    await workbook.xlsx.writeFile(join(scratch, 'book.xlsx'));
    writeFileSync(join(scratch, 'notes.md'), `# Notes\n${'é'.repeat(40_000)}\n`);
    writeFileSync(join(scratch, 'chart.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(scratch, 'blob.bin'), 'x');
    const ids: Record<string, number> = {};
    for (const name of [
      'readings.csv',
      'small.parquet',
      'book.xlsx',
      'notes.md',
      'chart.svg',
      'blob.bin',
      'gone.csv',
    ]) {
      const artifact = await store.addArtifact({
        runId: run.id,
        name,
        path: join(scratch, name),
        bytes: 1,
        createdAt: NOW,
      });
      ids[name] = artifact.id ?? 0;
    }
    await store.markArtifactDeleted(ids['gone.csv'] ?? 0, NOW);
    const preview = <T>(name: string) => get<T>(`/api/runs/${run.id}/artifacts/${ids[name]}/preview`);

    const csv = await preview<{
      kind: string;
      columns: { name: string; type: string }[];
      rows: unknown[][];
      total_rows: number;
      truncated: boolean;
    }>('readings.csv');
    assert.equal(csv.kind, 'table');
    assert.deepEqual(csv.columns, [
      { name: 'probe', type: 'VARCHAR' },
      { name: 'temp_c', type: 'DOUBLE' },
    ]);
    assert.equal(csv.rows.length, 100);
    assert.deepEqual(csv.rows[0], ['p0', 20]);
    assert.equal(csv.total_rows, 150);
    assert.equal(csv.truncated, true);

    const parquet = await preview<{
      rows: unknown[][];
      total_rows: number;
      truncated: boolean;
      columns: { name: string }[];
    }>('small.parquet');
    assert.deepEqual(
      parquet.columns.map((column) => column.name),
      ['n', 'label'],
    );
    assert.deepEqual(parquet.rows[2], ['2', 'row 2']);
    assert.equal(parquet.truncated, false);

    const xlsx = await preview<{
      kind: string;
      columns: { name: string }[];
      rows: unknown[][];
      total_rows: number;
    }>('book.xlsx');
    assert.equal(xlsx.kind, 'table');
    assert.deepEqual(
      xlsx.columns.map((column) => column.name),
      ['name', 'count'],
    );
    assert.deepEqual(xlsx.rows, [
      ['a', 1],
      ['b', 2],
    ]);
    assert.equal(xlsx.total_rows, 2);

    const text = await preview<{ kind: string; text: string; truncated: boolean }>('notes.md');
    assert.equal(text.kind, 'text');
    assert.equal(text.truncated, true);
    assert.ok(Buffer.byteLength(text.text) <= 64 * 1024);
    assert.ok(!text.text.includes('\ufffd'), 'no character cut in half');

    assert.deepEqual(await preview('chart.svg'), {
      kind: 'inline',
      media_type: 'image/svg+xml',
      url: `/api/runs/${run.id}/artifacts/${ids['chart.svg']}`,
    });
    assert.equal((await preview<{ kind: string }>('blob.bin')).kind, 'none');
    assert.match((await preview<{ reason: string }>('gone.csv')).reason, /deleted/);
  });

  test('a run lists rows in and out per step attempt, from the steps it waits for', async () => {
    const run = await addRun('weekly-temperature', 'succeeded', NOW);
    for (const [step, rows] of [
      ['readings', 96],
      ['hourly', 24],
      ['quality', undefined],
    ] as const) {
      await store.startStepAttempt({
        runId: run.id,
        stepId: step,
        attempt: 1,
        runAttempt: 1,
        startedAt: NOW,
      });
      await store.finishStepAttempt(run.id, step, 1, { status: 'succeeded', finishedAt: NOW, rows });
    }
    const detail = await get<{
      trigger: string;
      params: Record<string, unknown>;
      revision: number;
      steps: {
        step: string;
        rows_in: number | null;
        rows_out: number | null;
        started_at: string;
        finished_at: string;
      }[];
    }>(`/api/runs/${run.id}`);
    assert.equal(detail.trigger, 'schedule');
    assert.deepEqual(detail.params, {});
    assert.equal(typeof detail.revision, 'number');
    const rows = Object.fromEntries(detail.steps.map((step) => [step.step, [step.rows_in, step.rows_out]]));
    assert.deepEqual(rows.readings, [null, 96]);
    assert.deepEqual(rows.hourly, [96, 24]);
    // quality reads hourly, and its SQL rule mentions a column named like the readings step, which the
    // plan counts as a dataset it reads: rows in are summed over whatever the plan says it waits for.
    const graph = await get<{ definition: { steps: { id: string; needs: string[] }[] } }>(
      '/api/pipelines/weekly-temperature',
    );
    const waitsFor = graph.definition.steps.find((step) => step.id === 'quality')?.needs ?? [];
    const produced: Record<string, number> = { readings: 96, hourly: 24 };
    const expected = waitsFor.reduce((sum, id) => sum + (produced[id] ?? 0), 0);
    assert.ok(waitsFor.includes('hourly'));
    assert.deepEqual(rows.quality, [expected, null]);
  });
});
