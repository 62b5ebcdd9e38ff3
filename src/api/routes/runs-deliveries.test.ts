/** GET /api/runs/:id/deliveries through `app.inject()`, against a real SQLite store and the demo project. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createProject } from '../../cli/commands/init.js';
import { loadProject } from '../../project/load-project.js';
import { DefinitionSync } from '../../scheduler/definitions.js';
import { openStateStore } from '../../store/open-store.js';
import type { StateStore } from '../../store/state-store.js';
import { buildApp } from '../app.js';
import { hashApiToken, newApiToken } from '../tokens.js';

const scratch = mkdtempSync(join(tmpdir(), 'pw-api-deliveries-'));
let app: FastifyInstance;
let store: StateStore;
let token = '';

before(async () => {
  const project = await loadProject(await createProject(join(scratch, 'project')));
  store = await openStateStore(project.spec.state, project.dir);
  const definitions = new DefinitionSync({ project, store });
  await definitions.sync();
  token = newApiToken();
  await store.createApiToken({ name: 'reader', scope: 'read', hash: hashApiToken(token), at: new Date() });
  app = await buildApp({ store, project, pipelines: () => definitions.pipelines(), version: '0.0.0-test' });
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('lists the deliveries of one run, newest first; an unknown run is 404', async () => {
  const revision = await store.latestPipelineRevision('sensor-documents');
  assert.ok(revision);
  const at = new Date('2026-11-23T08:00:00.000Z');
  await store.createRun({
    id: 'run-with-mail',
    pipelineId: 'sensor-documents',
    revision: revision.revision,
    status: 'failed',
    trigger: 'manual:cli',
    params: {},
    scheduledFor: at,
    queuedAt: at,
  });
  await store.recordDelivery({
    runId: 'run-with-mail',
    pipelineId: 'sensor-documents',
    stepId: 'mail',
    event: 'step',
    kind: 'email',
    target: 'ana@example.com',
    subject: 'Report',
    messageId: '<1.pipewright@example.com>',
    status: 'sent',
    attempts: 1,
    createdAt: at,
  });
  await store.recordDelivery({
    runId: 'run-with-mail',
    pipelineId: 'sensor-documents',
    event: 'on_failure',
    kind: 'webhook',
    target: 'https://hooks.example.com/x',
    status: 'failed',
    attempts: 3,
    error: 'PW_DELIVERY_UNAVAILABLE: Webhook https://hooks.example.com/x answered HTTP 503',
    createdAt: new Date(at.getTime() + 1000),
  });
  const response = await app.inject({
    method: 'GET',
    url: '/api/runs/run-with-mail/deliveries',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.statusCode, 200);
  const { deliveries } = response.json<{ deliveries: Array<Record<string, unknown>> }>();
  assert.deepEqual(
    deliveries.map(({ id: _id, ...rest }) => rest),
    [
      {
        step: null,
        event: 'on_failure',
        kind: 'webhook',
        target: 'https://hooks.example.com/x',
        subject: null,
        message_id: null,
        status: 'failed',
        attempts: 3,
        error: 'PW_DELIVERY_UNAVAILABLE: Webhook https://hooks.example.com/x answered HTTP 503',
        created_at: '2026-11-23T08:00:01.000Z',
      },
      {
        step: 'mail',
        event: 'step',
        kind: 'email',
        target: 'ana@example.com',
        subject: 'Report',
        message_id: '<1.pipewright@example.com>',
        status: 'sent',
        attempts: 1,
        error: null,
        created_at: '2026-11-23T08:00:00.000Z',
      },
    ],
  );
  const missing = await app.inject({
    method: 'GET',
    url: '/api/runs/nope/deliveries',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(missing.statusCode, 404);
  const unauthenticated = await app.inject({ method: 'GET', url: '/api/runs/run-with-mail/deliveries' });
  assert.equal(unauthenticated.statusCode, 401);
});
