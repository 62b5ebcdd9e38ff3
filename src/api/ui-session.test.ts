/**
 * The web UI's cookie sessions through `app.inject()` against a real SQLite store in a temp demo
 * project: signing in and out, CSRF on state-changing requests, revoked tokens and expired sessions
 * ending at the next request, failed sign-ins limited per address, Secure cookies behind https, and the
 * app shell and sandboxed artifacts served beside the API.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createProject } from '../cli/commands/init.js';
import { loadProject } from '../project/load-project.js';
import { DefinitionSync } from '../scheduler/definitions.js';
import { openStateStore } from '../store/open-store.js';
import type { ApiTokenScope, StateStore } from '../store/state-store.js';
import { buildApp } from './app.js';
import { SignInLimiter } from './sign-in-limiter.js';
import { hashApiToken, newApiToken } from './tokens.js';
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS, hashSessionId } from './ui-session.js';

const scratch = mkdtempSync(join(tmpdir(), 'pw-ui-session-'));
const uiDir = join(scratch, 'ui');
const SHELL = '<!doctype html><title>Pipewright</title>\n';
let app: FastifyInstance;
let store: StateStore;
let now = new Date('2026-11-23T10:00:00.000Z');
const tokens: Partial<Record<ApiTokenScope, string>> = {};
let tokenCounter = 0;

async function newToken(scope: ApiTokenScope): Promise<{ name: string; token: string }> {
  tokenCounter += 1;
  const name = `ui-${scope}-${tokenCounter}`;
  const token = newApiToken();
  await store.createApiToken({ name, scope, hash: hashApiToken(token), at: now });
  return { name, token };
}

interface SignedIn {
  cookie: string;
  id: string;
  csrf: string;
  setCookie: string;
}

async function signIn(token: string, headers: Record<string, string> = {}): Promise<SignedIn> {
  const response = await app.inject({ method: 'POST', url: '/ui/session', payload: { token }, headers });
  assert.equal(response.statusCode, 200, response.body);
  const setCookie = String(response.headers['set-cookie']);
  const id = /^pw_session=([^;]+);/.exec(setCookie)?.[1];
  assert.ok(id);
  return {
    cookie: `pw_session=${id}`,
    id,
    csrf: response.json<{ csrf_token: string }>().csrf_token,
    setCookie,
  };
}

function problemCode(response: { json: () => unknown }): string {
  return (response.json() as { code: string }).code;
}

before(async () => {
  mkdirSync(join(uiDir, 'assets'), { recursive: true });
  writeFileSync(join(uiDir, 'index.html'), SHELL);
  const dir = await createProject(join(scratch, 'project'));
  const project = await loadProject(dir);
  store = await openStateStore(project.spec.state, project.dir);
  const definitions = new DefinitionSync({ project, store });
  await definitions.sync();
  for (const scope of ['read', 'operate', 'admin'] as const) tokens[scope] = (await newToken(scope)).token;
  app = await buildApp({
    store,
    project,
    pipelines: () => definitions.pipelines(),
    version: '0.0.0-test',
    logPollMs: 20,
    clock: () => now,
    uiDir,
    signInLimiter: new SignInLimiter({ maxFailures: 3, windowMs: 60_000 }),
  });
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('web UI sessions', () => {
  test('signing in sets an HttpOnly SameSite=Strict cookie; the store keeps only its hash', async () => {
    const session = await signIn(tokens.operate ?? '');
    assert.match(session.setCookie, /^pw_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
    assert.equal(await store.findUiSession(session.id), undefined, 'the id itself is not a key');
    const stored = await store.findUiSession(hashSessionId(session.id));
    assert.equal(stored?.session.csrfToken, session.csrf);
    assert.equal(stored.token.scope, 'operate');

    const again = await app.inject({
      method: 'GET',
      url: '/ui/session',
      headers: { cookie: session.cookie },
    });
    assert.equal(again.statusCode, 200);
    assert.equal(again.headers['cache-control'], 'no-store');
    assert.deepEqual(again.json(), {
      token_name: 'ui-operate-2',
      scope: 'operate',
      csrf_token: session.csrf,
    });
    const me = await app.inject({ method: 'GET', url: '/api/me', headers: { cookie: session.cookie } });
    assert.deepEqual(me.json(), { token_name: 'ui-operate-2', scope: 'operate' });
    const bearer = await app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: `Bearer ${tokens.read ?? ''}` },
    });
    assert.deepEqual(bearer.json(), { token_name: 'ui-read-1', scope: 'read' });
    const none = await app.inject({ method: 'GET', url: '/ui/session' });
    assert.equal(none.statusCode, 401);
    assert.equal(problemCode(none), 'PW_AUTH_REQUIRED');
    const forged = await app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { cookie: 'pw_session=made-up' },
    });
    assert.equal(forged.statusCode, 401);
  });

  test('a wrong or revoked token cannot sign in', async () => {
    const wrong = await app.inject({
      method: 'POST',
      url: '/ui/session',
      payload: { token: 'pw_wrong' },
      headers: { 'x-forwarded-for': '192.0.2.50' },
    });
    assert.equal(wrong.statusCode, 401);
    assert.equal(problemCode(wrong), 'PW_AUTH_REQUIRED');
    assert.equal(wrong.headers['set-cookie'], undefined);
    const { name, token } = await newToken('read');
    await store.revokeApiToken(name, now);
    const revoked = await app.inject({
      method: 'POST',
      url: '/ui/session',
      payload: { token },
      headers: { 'x-forwarded-for': '192.0.2.50' },
    });
    assert.equal(revoked.statusCode, 401);
  });

  test('state-changing requests with the cookie need the CSRF token; GET does not', async () => {
    const session = await signIn(tokens.operate ?? '');
    const url = '/api/pipelines/weekly-temperature/pause';
    const missing = await app.inject({ method: 'POST', url, headers: { cookie: session.cookie } });
    assert.equal(missing.statusCode, 403);
    assert.equal(problemCode(missing), 'PW_CSRF_REJECTED');
    const wrong = await app.inject({
      method: 'POST',
      url,
      headers: { cookie: session.cookie, 'x-csrf-token': `${session.csrf.slice(0, -1)}x` },
    });
    assert.equal(problemCode(wrong), 'PW_CSRF_REJECTED');
    assert.equal((await store.getPipelineState('weekly-temperature'))?.paused ?? false, false);
    const right = await app.inject({
      method: 'POST',
      url,
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf },
    });
    assert.equal(right.statusCode, 200);
    assert.equal((await store.getPipelineState('weekly-temperature'))?.paused, true);
    await store.setPipelinePaused('weekly-temperature', false);
    const list = await app.inject({ method: 'GET', url: '/api/runs', headers: { cookie: session.cookie } });
    assert.equal(list.statusCode, 200);

    const reader = await signIn(tokens.read ?? '');
    const narrow = await app.inject({
      method: 'POST',
      url,
      headers: { cookie: reader.cookie, 'x-csrf-token': reader.csrf },
    });
    assert.equal(narrow.statusCode, 403);
    assert.equal(problemCode(narrow), 'PW_AUTH_FORBIDDEN', "scope = the token's scope");
  });

  test('a revoked token ends its sessions at their next request', async () => {
    const { name, token } = await newToken('admin');
    const session = await signIn(token);
    assert.equal(
      (await app.inject({ url: '/api/tokens', headers: { cookie: session.cookie } })).statusCode,
      200,
    );
    await store.revokeApiToken(name, now);
    const after = await app.inject({ url: '/api/tokens', headers: { cookie: session.cookie } });
    assert.equal(after.statusCode, 401);
    assert.match((after.json() as { detail: string }).detail, /revoked/);
    assert.equal(await store.findUiSession(hashSessionId(session.id)), undefined, 'the session is deleted');
  });

  test('sessions end after 12 h idle and after 7 days whatever the use', async () => {
    const start = now;
    try {
      const idle = await signIn(tokens.read ?? '');
      now = new Date(start.getTime() + SESSION_IDLE_MS - 60_000);
      assert.equal((await app.inject({ url: '/api/me', headers: { cookie: idle.cookie } })).statusCode, 200);
      // Used just now, so the idle limit counts from here.
      now = new Date(now.getTime() + SESSION_IDLE_MS - 60_000);
      assert.equal((await app.inject({ url: '/api/me', headers: { cookie: idle.cookie } })).statusCode, 200);
      now = new Date(now.getTime() + SESSION_IDLE_MS);
      assert.equal((await app.inject({ url: '/api/me', headers: { cookie: idle.cookie } })).statusCode, 401);

      now = start;
      const busy = await signIn(tokens.read ?? '');
      for (let hours = 6; hours < SESSION_ABSOLUTE_MS / 3_600_000; hours += 6) {
        now = new Date(start.getTime() + hours * 3_600_000);
        const response = await app.inject({ url: '/api/me', headers: { cookie: busy.cookie } });
        assert.equal(response.statusCode, 200, `after ${hours} h`);
      }
      now = new Date(start.getTime() + SESSION_ABSOLUTE_MS);
      assert.equal((await app.inject({ url: '/api/me', headers: { cookie: busy.cookie } })).statusCode, 401);
    } finally {
      now = start;
    }
  });

  test('signing out needs the CSRF header, deletes the session and clears the cookie', async () => {
    const session = await signIn(tokens.read ?? '');
    const refused = await app.inject({
      method: 'DELETE',
      url: '/ui/session',
      headers: { cookie: session.cookie },
    });
    assert.equal(refused.statusCode, 403);
    assert.equal(problemCode(refused), 'PW_CSRF_REJECTED');
    const out = await app.inject({
      method: 'DELETE',
      url: '/ui/session',
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf },
    });
    assert.equal(out.statusCode, 204);
    assert.match(
      String(out.headers['set-cookie']),
      /^pw_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0/,
    );
    assert.equal(await store.findUiSession(hashSessionId(session.id)), undefined);
    assert.equal((await app.inject({ url: '/api/me', headers: { cookie: session.cookie } })).statusCode, 401);
  });

  test('failed sign-ins are limited per client address, even for a good token afterwards', async () => {
    const from = (address: string, token: string) =>
      app.inject({
        method: 'POST',
        url: '/ui/session',
        payload: { token },
        headers: { 'x-forwarded-for': address },
      });
    for (let attempt = 0; attempt < 3; attempt += 1)
      assert.equal((await from('198.51.100.7', `pw_guess${attempt}`)).statusCode, 401);
    const limited = await from('198.51.100.7', tokens.read ?? '');
    assert.equal(limited.statusCode, 429);
    assert.equal(problemCode(limited), 'PW_AUTH_THROTTLED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await from('198.51.100.8', tokens.read ?? '')).statusCode, 200, 'other addresses go on');
  });

  test('the cookie is Secure over https behind a loopback proxy or when base_url is https', async () => {
    const session = await signIn(tokens.read ?? '', { 'x-forwarded-proto': 'https' });
    assert.match(session.setCookie, /; Secure$/);
    const plain = await signIn(tokens.read ?? '');
    assert.doesNotMatch(plain.setCookie, /Secure/);
    // A proxy elsewhere is not trusted to say https.
    const remote = await app.inject({
      method: 'POST',
      url: '/ui/session',
      payload: { token: tokens.read ?? '' },
      headers: { 'x-forwarded-proto': 'https' },
      remoteAddress: '203.0.113.9',
    });
    assert.doesNotMatch(String(remote.headers['set-cookie']), /Secure/);
  });

  test('no session answer, log or header carries the API token', async () => {
    const token = tokens.admin ?? '';
    const response = await app.inject({ method: 'POST', url: '/ui/session', payload: { token } });
    assert.ok(!JSON.stringify(response.headers).includes(token));
    assert.ok(!response.body.includes(token));
    assert.ok(!response.body.includes(hashApiToken(token)));
  });
});

describe('the web UI beside the API', () => {
  test('app paths get the shell; API paths keep their problems; probes keep their JSON', async () => {
    const shell = await app.inject({ url: '/runs/20260101-abc?tab=logs' });
    assert.equal(shell.statusCode, 200);
    assert.equal(shell.body, SHELL);
    assert.match(String(shell.headers['content-security-policy']), /^default-src 'self'/);
    const api = await app.inject({
      url: '/api/nothing-here',
      headers: { authorization: `Bearer ${tokens.read ?? ''}` },
    });
    assert.equal(api.statusCode, 404);
    assert.match(String(api.headers['content-type']), /^application\/problem\+json/);
    assert.equal((await app.inject({ url: '/ui/other' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'POST', url: '/runs/x' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/health' })).json<{ status: string }>().status, 'ok');
  });

  test('HTML and SVG artifacts are sandboxed and shown inline; ?download=1 makes them attachments', async () => {
    const revision = (await store.latestPipelineRevision('sensor-documents'))?.revision ?? 1;
    const run = await store.enqueueRun({
      id: '20261123-100000-uiart1',
      pipelineId: 'sensor-documents',
      revision,
      status: 'queued',
      trigger: 'manual:test',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });
    assert.ok(run);
    const cookie = (await signIn(tokens.read ?? '')).cookie;
    const files = [
      ['report.html', 'text/html', '<script>alert(1)</script>', 'sandbox'],
      ['chart.svg', 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"/>', 'sandbox'],
      ['chart.png', 'image/png', 'PNG', undefined],
      ['report.pdf', 'application/pdf', '%PDF-1.4', undefined],
    ] as const;
    for (const [name, contentType, content, csp] of files) {
      const path = join(scratch, name);
      writeFileSync(path, content);
      const artifact = await store.addArtifact({
        runId: run.id,
        name,
        path,
        bytes: content.length,
        contentType,
        createdAt: now,
      });
      const url: string = `/api/runs/${run.id}/artifacts/${String(artifact.id)}`;
      const shown = await app.inject({ url, headers: { cookie } });
      assert.equal(shown.statusCode, 200, name);
      assert.equal(shown.headers['content-security-policy'], csp, name);
      assert.equal(shown.headers['x-content-type-options'], 'nosniff');
      assert.equal(shown.headers['content-disposition'], `inline; filename="${name}"`);
      const saved = await app.inject({ url: `${url}?download=1`, headers: { cookie } });
      assert.equal(saved.headers['content-disposition'], `attachment; filename="${name}"`);
      assert.equal(saved.body, content);
    }
  });

  test('SSE log following works with the cookie alone', async () => {
    const revision = (await store.latestPipelineRevision('sensor-documents'))?.revision ?? 1;
    const run = await store.enqueueRun({
      id: '20261123-100000-uilog1',
      pipelineId: 'sensor-documents',
      revision,
      status: 'queued',
      trigger: 'manual:test',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });
    assert.ok(run);
    await store.appendLogs([{ runId: run.id, at: now, level: 'info', message: 'hello from the log' }]);
    await store.updateRun(run.id, { status: 'succeeded', finishedAt: now });
    const cookie = (await signIn(tokens.read ?? '')).cookie;
    const followed = await app.inject({
      url: `/api/runs/${run.id}/logs?after=0`,
      headers: { cookie, accept: 'text/event-stream' },
    });
    assert.equal(followed.statusCode, 200);
    assert.match(followed.body, /^id: \d+\nevent: log\ndata: .*hello from the log/m);
    assert.match(followed.body, /event: end/);
  });
});
