/**
 * The REST API through `app.inject()`, against a real SQLite store in a temp copy of the demo project:
 * authentication and scopes, problem+json errors, triggering with parameters, pagination, log
 * following over SSE, artifact download and the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createProject } from '../cli/commands/init.js';
import { loadProject } from '../project/load-project.js';
import { DefinitionSync } from '../scheduler/definitions.js';
import { openStateStore } from '../store/open-store.js';
import type { ApiTokenScope, StateStore } from '../store/state-store.js';
import { apiRoutes, buildApp } from './app.js';
import { openApiPath } from './openapi.js';
import { hashApiToken, newApiToken } from './tokens.js';

const scratch = mkdtempSync(join(tmpdir(), 'pw-api-test-'));
let app: FastifyInstance;
let store: StateStore;
const tokens: Partial<Record<ApiTokenScope | 'revoked', string>> = {};

function auth(scope: ApiTokenScope | 'revoked'): Record<string, string> {
  return { authorization: `Bearer ${tokens[scope] ?? ''}` };
}

async function sensorRevision(): Promise<number> {
  const revision = await store.latestPipelineRevision('sensor-documents');
  assert.ok(revision);
  return revision.revision;
}

function problemOf(response: { headers: Record<string, unknown>; json: () => unknown }) {
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  return response.json() as { status: number; code: string; detail: string; hint?: string; title: string };
}

before(async () => {
  const dir = await createProject(join(scratch, 'project'));
  const project = await loadProject(dir);
  store = await openStateStore(project.spec.state, project.dir);
  const definitions = new DefinitionSync({ project, store });
  await definitions.sync();
  for (const scope of ['read', 'operate', 'admin', 'revoked'] as const) {
    const token = newApiToken();
    tokens[scope] = token;
    await store.createApiToken({
      name: `t-${scope}`,
      scope: scope === 'revoked' ? 'admin' : scope,
      hash: hashApiToken(token),
      at: new Date(),
    });
  }
  await store.revokeApiToken('t-revoked', new Date());
  app = await buildApp({
    store,
    project,
    pipelines: () => definitions.pipelines(),
    version: '0.0.0-test',
    logPollMs: 20,
  });
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('REST API', () => {
  test('health and readiness need no token and keep their JSON', async () => {
    const health = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200);
    assert.equal(health.json<{ status: string }>().status, 'ok');
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.deepEqual(ready.json(), { status: 'ready' });
  });

  test('no, wrong or revoked token → 401 problem; read token cannot trigger → 403', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer pw_nope' },
      auth('revoked'),
      { authorization: 'Basic x' },
    ]) {
      const response = await app.inject({ method: 'GET', url: '/api/pipelines', headers });
      assert.equal(response.statusCode, 401);
      const problem = problemOf(response);
      assert.equal(problem.code, 'PW_AUTH_REQUIRED');
      assert.equal(problem.status, 401);
      assert.ok(problem.hint);
    }
    const forbidden = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/runs',
      headers: auth('read'),
      payload: {},
    });
    assert.equal(forbidden.statusCode, 403);
    assert.equal(problemOf(forbidden).code, 'PW_AUTH_FORBIDDEN');
  });

  test('lists pipelines with schedule in words, next instants and state; unknown id → 404', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/pipelines', headers: auth('read') });
    assert.equal(response.statusCode, 200);
    const { pipelines } = response.json<{
      pipelines: { id: string; schedule: { next: string[]; in_words: string } | null; paused: boolean }[];
    }>();
    const weekly = pipelines.find((pipeline) => pipeline.id === 'weekly-temperature');
    assert.ok(weekly?.schedule);
    assert.equal(weekly.schedule.next.length, 3);
    assert.match(weekly.schedule.in_words, /Europe\/Berlin/);
    assert.equal(weekly.paused, false);
    const missing = await app.inject({ method: 'GET', url: '/api/pipelines/nope', headers: auth('read') });
    assert.equal(missing.statusCode, 404);
    assert.equal(problemOf(missing).code, 'PW_PIPELINE_NOT_FOUND');
  });

  test('pause and resume need operate and change the pipeline state', async () => {
    const paused = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/pause',
      headers: auth('operate'),
    });
    assert.equal(paused.statusCode, 200);
    assert.equal(paused.json<{ paused: boolean }>().paused, true);
    assert.equal((await store.getPipelineState('weekly-temperature'))?.paused, true);
    const resumed = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/resume',
      headers: auth('admin'),
    });
    assert.equal(resumed.json<{ paused: boolean }>().paused, false);
  });

  test('trigger with bad params → 422 listing each param; ok → 201, then the run is queued', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/runs',
      headers: auth('operate'),
      payload: { params: { low: 'warm', nope: 1 } },
    });
    assert.equal(bad.statusCode, 422);
    const problem = problemOf(bad) as ReturnType<typeof problemOf> & {
      errors: { field: string; message: string }[];
    };
    assert.equal(problem.code, 'PW_PARAM_INVALID');
    assert.match(problem.detail, /low/);
    assert.match(problem.detail, /nope/);
    assert.deepEqual(
      problem.errors.map((error) => error.field),
      ['nope', 'low'],
    );
    assert.match(problem.errors[1]?.message ?? '', /expected a number, found 'warm'/);

    const wrongShape = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/runs',
      headers: auth('operate'),
      payload: { params: { low: { deep: 1 } } },
    });
    assert.equal(wrongShape.statusCode, 400);
    assert.equal(problemOf(wrongShape).code, 'PW_REQUEST_INVALID');

    const created = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/runs',
      headers: auth('operate'),
      payload: { params: { low: 20 } },
    });
    assert.equal(created.statusCode, 201);
    const run = created.json<{
      id: string;
      status: string;
      trigger: string;
      params: Record<string, unknown>;
    }>();
    assert.equal(run.status, 'queued');
    assert.equal(run.trigger, 'api:t-operate');
    assert.equal(run.params.low, 20);
    assert.equal(created.headers.location, `/api/runs/${run.id}`);

    const shown = await app.inject({ method: 'GET', url: `/api/runs/${run.id}`, headers: auth('read') });
    assert.equal(shown.statusCode, 200);
    const detail = shown.json<{ status: string; steps: unknown[]; artifacts: unknown[] }>();
    assert.equal(detail.status, 'queued');
    assert.deepEqual(detail.steps, []);

    const noBody = await app.inject({
      method: 'POST',
      url: '/api/pipelines/sensor-documents/runs',
      headers: auth('operate'),
    });
    assert.equal(noBody.statusCode, 201);

    const cancelled = await app.inject({
      method: 'POST',
      url: `/api/runs/${run.id}/cancel`,
      headers: auth('operate'),
    });
    assert.equal(cancelled.statusCode, 202);
    assert.equal(cancelled.json<{ status: string }>().status, 'cancelled');
  });

  test('unknown run, route and artifact → 404 problem', async () => {
    for (const url of [
      '/api/runs/nope',
      '/api/runs/nope/logs',
      '/api/nothing-here',
      '/api/runs/nope/artifacts/1',
    ]) {
      const response = await app.inject({ method: 'GET', url, headers: auth('read') });
      assert.equal(response.statusCode, 404, url);
      problemOf(response);
    }
    const cancel = await app.inject({
      method: 'POST',
      url: '/api/runs/nope/cancel',
      headers: auth('operate'),
    });
    assert.equal(cancel.statusCode, 404);
  });

  test('malformed JSON → 400, oversized body → 413, bad query → 400', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/runs',
      headers: { ...auth('operate'), 'content-type': 'application/json' },
      payload: '{"params": ',
    });
    assert.equal(malformed.statusCode, 400);
    assert.equal(problemOf(malformed).code, 'PW_REQUEST_INVALID');
    const oversized = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/runs',
      headers: { ...auth('operate'), 'content-type': 'application/json' },
      payload: JSON.stringify({ params: { low: 'x'.repeat(1024 * 1024 + 10) } }),
    });
    assert.equal(oversized.statusCode, 413);
    assert.equal(problemOf(oversized).code, 'PW_REQUEST_TOO_LARGE');
    const anonymous = await app.inject({
      method: 'POST',
      url: '/api/pipelines/weekly-temperature/runs',
      headers: { 'content-type': 'application/json' },
      payload: '{"params": ',
    });
    assert.equal(anonymous.statusCode, 401, 'no token: 401 before the body is read');
    const badQuery = await app.inject({ method: 'GET', url: '/api/runs?status=done', headers: auth('read') });
    assert.equal(badQuery.statusCode, 400);
    assert.match(problemOf(badQuery).detail, /status/);
  });

  test('lists runs newest first in pages with a next cursor, with filters', async () => {
    const revision = await sensorRevision();
    const at = new Date('2026-01-01T00:00:00.000Z');
    for (let index = 0; index < 7; index += 1) {
      await store.enqueueRun({
        id: `20260101-000000-page${index}`,
        pipelineId: 'sensor-documents',
        revision,
        status: 'queued',
        trigger: 'manual:test',
        params: {},
        // Three runs share an instant, so the cursor must split ties.
        scheduledFor: at,
        queuedAt: new Date(at.getTime() + Math.min(index, 3) * 1000),
      });
    }
    const seen: string[] = [];
    const base = '/api/runs?pipeline=sensor-documents&before=2026-06-01T00:00:00.000Z&limit=2';
    let url = base;
    for (let pages = 0; pages < 10; pages += 1) {
      const response = await app.inject({ method: 'GET', url, headers: auth('read') });
      assert.equal(response.statusCode, 200);
      const page = response.json<{ runs: { id: string }[]; next: string | null }>();
      seen.push(...page.runs.map((run) => run.id));
      if (page.next === null) break;
      url = `${base}&cursor=${page.next}`;
    }
    assert.deepEqual(
      seen,
      [6, 5, 4, 3, 2, 1, 0].map((index) => `20260101-000000-page${index}`),
    );
    const filtered = await app.inject({
      method: 'GET',
      url: '/api/runs?pipeline=sensor-documents&status=succeeded',
      headers: auth('read'),
    });
    assert.deepEqual(filtered.json(), { runs: [], next: null });
  });

  test('logs: a JSON page, and SSE following until the run finishes, resuming after Last-Event-ID', async () => {
    const revision = await sensorRevision();
    const now = new Date();
    const run = await store.enqueueRun({
      id: '20260102-000000-logs01',
      pipelineId: 'sensor-documents',
      revision,
      status: 'queued',
      trigger: 'manual:test',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });
    assert.ok(run);
    await store.appendLogs([
      { runId: run.id, at: now, level: 'info', message: 'first line' },
      { runId: run.id, stepId: 'a', at: now, level: 'warn', message: 'second line' },
    ]);
    const page = await app.inject({ method: 'GET', url: `/api/runs/${run.id}/logs`, headers: auth('read') });
    const body = page.json<{ logs: { id: number; message: string }[]; next: number | null }>();
    assert.deepEqual(
      body.logs.map((entry) => entry.message),
      ['first line', 'second line'],
    );
    assert.equal(body.next, body.logs[1]?.id, 'a queued run has more to come');

    // The run finishes (with a last line) while a client follows it.
    setTimeout(() => {
      void (async () => {
        await store.appendLogs([{ runId: run.id, at: new Date(), level: 'info', message: 'third line' }]);
        await store.updateRun(run.id, { status: 'succeeded', finishedAt: new Date() });
      })();
    }, 100);
    const followed = await app.inject({
      method: 'GET',
      url: `/api/runs/${run.id}/logs`,
      headers: { ...auth('read'), accept: 'text/event-stream', 'last-event-id': String(body.logs[0]?.id) },
    });
    assert.equal(followed.statusCode, 200);
    assert.match(String(followed.headers['content-type']), /^text\/event-stream/);
    const events = followed.body
      .split('\n\n')
      .filter((chunk) => chunk.startsWith('id:') || chunk.startsWith('event:'));
    assert.match(events[0] ?? '', /second line/);
    assert.match(events[1] ?? '', /third line/);
    assert.match(events.at(-1) ?? '', /^event: end\ndata: \{"status":"succeeded"\}/);
    assert.ok(!followed.body.includes('first line'), 'resumes after Last-Event-ID');
  });

  test('artifacts download with their content type', async () => {
    const revision = await sensorRevision();
    const now = new Date();
    const run = await store.enqueueRun({
      id: '20260103-000000-art001',
      pipelineId: 'sensor-documents',
      revision,
      status: 'queued',
      trigger: 'manual:test',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });
    assert.ok(run);
    const path = join(scratch, 'report.csv');
    writeFileSync(path, 'a,b\n1,2\n');
    const artifact = await store.addArtifact({
      runId: run.id,
      stepId: 'export',
      name: 'report.csv',
      path,
      bytes: 8,
      contentType: 'text/csv',
      createdAt: now,
    });
    const detail = await app.inject({ method: 'GET', url: `/api/runs/${run.id}`, headers: auth('read') });
    const listed = detail.json<{ artifacts: { download: string }[] }>().artifacts[0];
    assert.equal(listed?.download, `/api/runs/${run.id}/artifacts/${artifact.id}`);
    const download = await app.inject({ method: 'GET', url: listed.download, headers: auth('read') });
    assert.equal(download.statusCode, 200);
    assert.match(String(download.headers['content-type']), /^text\/csv/);
    assert.equal(download.body, 'a,b\n1,2\n');
  });

  test('the OpenAPI document lists every route, and /api/docs lists every operation', async () => {
    const document = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    }>();
    assert.equal(document.openapi, '3.1.0');
    const routes = apiRoutes({} as Parameters<typeof apiRoutes>[0]);
    assert.ok(routes.length >= 12);
    const page = (await app.inject({ method: 'GET', url: '/api/docs' })).body;
    for (const route of routes) {
      const path = openApiPath(route.url);
      assert.ok(document.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path} is documented`);
      assert.ok(page.includes(`<code>${path}</code>`), `${path} is on /api/docs`);
      assert.ok(
        app.hasRoute({ method: route.method, url: route.url }),
        `${route.method} ${route.url} is served`,
      );
    }
  });

  test('tokens over HTTP need admin; a created token works at once and a revoked one stops', async () => {
    const denied = await app.inject({ method: 'GET', url: '/api/tokens', headers: auth('operate') });
    assert.equal(denied.statusCode, 403);
    const created = await app.inject({
      method: 'POST',
      url: '/api/tokens',
      headers: auth('admin'),
      payload: { name: 'made-over-http', scope: 'read' },
    });
    assert.equal(created.statusCode, 201);
    const { token } = created.json<{ token: string }>();
    const headers = { authorization: `Bearer ${token}` };
    assert.equal((await app.inject({ method: 'GET', url: '/api/pipelines', headers })).statusCode, 200);
    const listed = await app.inject({ method: 'GET', url: '/api/tokens', headers: auth('admin') });
    assert.ok(!listed.body.includes(token));
    assert.ok(listed.json<{ tokens: { name: string }[] }>().tokens.some((t) => t.name === 'made-over-http'));
    const taken = await app.inject({
      method: 'POST',
      url: '/api/tokens',
      headers: auth('admin'),
      payload: { name: 'made-over-http', scope: 'admin' },
    });
    assert.equal(taken.statusCode, 409);
    const revoked = await app.inject({
      method: 'POST',
      url: '/api/tokens/made-over-http/revoke',
      headers: auth('admin'),
    });
    assert.equal(revoked.statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/api/pipelines', headers })).statusCode, 401);
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/tokens/nobody/revoke',
      headers: auth('admin'),
    });
    assert.equal(unknown.statusCode, 404);
  });

  test('no response carries a token or its hash', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/runs?limit=500', headers: auth('admin') });
    for (const token of Object.values(tokens)) {
      assert.ok(!response.body.includes(token));
      assert.ok(!response.body.includes(hashApiToken(token)));
    }
  });
});
