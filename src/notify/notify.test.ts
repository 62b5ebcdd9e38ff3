/**
 * Pipeline notifications through whole runs (executeRun with a real SQLite store and DuckDB), against a
 * real SMTP server (STARTTLS, AUTH) and a local webhook receiver that verifies signatures: the default
 * message, the run's own error left as it was when a notification fails, project defaults, cancelled
 * runs, secrets in webhook URLs, the ledger entries of delivery steps, and the dead-man notice.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { z } from 'zod';
import { setTimeout as delay } from 'node:timers/promises';
import { defineStep } from '../core/step.js';
import { Redactor } from '../core/secrets.js';
import { pipelineSchema, type PipelineSpec } from '../core/spec/pipeline-schema.js';
import { projectSchema, type ProjectSpec } from '../core/spec/project-schema.js';
import { executeRun, type RunRequest } from '../engine/execute-run.js';
import { StepRegistry } from '../steps/registry.js';
import { sqlStep } from '../steps/transform/sql.js';
import { emailStep } from '../steps/deliver/email.js';
import { webhookStep } from '../steps/deliver/webhook.js';
import { startTestSmtpServer, type TestSmtpServer } from '../steps/deliver/email-test-server.js';
import { startTestWebhookServer, type TestWebhookServer } from '../steps/deliver/webhook-test-server.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { StateStore } from '../store/state-store.js';
import { sendOverdueNotifications } from './notify.js';
import { Scheduler } from '../scheduler/scheduler-loop.js';
import { Worker } from '../scheduler/worker.js';
import { definitionHash } from '../core/spec/revision-hash.js';

const PASSWORD = 'smtp-password-for-tests';
const SECRET = 'whsec-notify-2c9e';
const HOOK_TOKEN = 'T0KEN-b7e4c1d9a2';

const waitStep = defineStep({
  type: 'test.wait',
  kind: 'custom',
  description: 'Waits, honouring the abort signal.',
  config: z.strictObject({ ms: z.int() }),
  producesDataset: false,
  async run(ctx, config) {
    await delay(config.ms, undefined, { signal: ctx.signal });
    return {};
  },
});

const registry = new StepRegistry([sqlStep, emailStep, webhookStep, waitStep]);

let root: string;
let store: StateStore;
let smtp: TestSmtpServer;
let hooks: TestWebhookServer;
let counter = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-notify-'));
  store = await openSqliteStore(join(root, 'state.db'));
  smtp = await startTestSmtpServer({ password: PASSWORD });
  hooks = await startTestWebhookServer(SECRET);
});
after(async () => {
  await store.close();
  await smtp.close();
  await hooks.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  smtp.received.length = 0;
  hooks.received.length = 0;
  hooks.plan.length = 0;
});

function project(extra: Record<string, unknown> = {}): ProjectSpec {
  return projectSchema.parse({
    duckdb: { memory_limit: '256MB', threads: 2 },
    service: { base_url: 'https://pw.example.com/' },
    connections: {
      mail: {
        type: 'smtp',
        host: '127.0.0.1',
        port: smtp.port,
        security: 'starttls',
        user: 'reporter',
        password: '${env:SMTP_PASSWORD}',
        ca_file: smtp.caFile,
        from: 'Pipewright <pipewright@example.com>',
        timeout: '5s',
      },
    },
    ...extra,
  });
}

async function runPipeline(spec: Record<string, unknown>, overrides: Partial<RunRequest> = {}) {
  counter += 1;
  const dir = join(root, `project-${counter}`);
  await mkdir(dir, { recursive: true });
  const pipeline: PipelineSpec = pipelineSchema.parse(spec);
  const outcome = await executeRun({
    projectDir: dir,
    project: project(),
    registry,
    pipeline,
    sourcePath: `pipelines/${pipeline.id}.yaml`,
    store,
    params: {},
    trigger: 'manual:test',
    env: { SMTP_PASSWORD: PASSWORD, HOOK_TOKEN },
    ...overrides,
  });
  const log = (await store.listLogs(outcome.run.id, { limit: 10_000 })).map(
    (entry) => `${entry.level} ${entry.stepId ?? '-'}: ${entry.message}`,
  );
  return { ...outcome, dir, log };
}

const FAILING_STEPS = [
  { id: 'readings', uses: 'sql', with: { query: 'SELECT 21.5 AS temp_c' } },
  { id: 'broken', uses: 'sql', with: { query: 'SELECT temp_c FROM readings WHERE nope > 1' } },
];

describe('on_failure', () => {
  it('sends the default message by e-mail and both webhook formats; the run keeps its own error', async () => {
    const { run, error, log } = await runPipeline({
      id: 'nightly',
      on_failure: [
        { email: { connection: 'mail', to: 'ops@example.com, Data Team <data@example.com>' } },
        { webhook: { url: `${hooks.url}/generic`, secret: SECRET } },
        { webhook: { url: `${hooks.url}/slack`, format: 'slack' } },
      ],
      steps: FAILING_STEPS,
    });

    assert.equal(run.status, 'failed');
    assert.equal(error?.code, 'PW_SQL_ERROR');
    assert.deepEqual((await store.getRun(run.id))?.error, run.error, 'the stored error is the run’s own');
    assert.equal(run.error?.stepId, 'broken');

    // E-mail: subject, recipients, and a body that says everything needed.
    assert.equal(smtp.received.length, 1);
    const mail = smtp.received[0];
    assert.ok(mail);
    assert.equal(mail.secure, true);
    assert.deepEqual(mail.envelopeTo, ['ops@example.com', 'data@example.com']);
    assert.equal(mail.parsed.subject, '[Pipewright] nightly failed: PW_SQL_ERROR in step broken');
    const text = String(mail.parsed.text);
    assert.match(text, /^Pipeline nightly failed in step broken\.\n/);
    assert.match(text, new RegExp(`\\nRun: +${run.id}\\n`));
    assert.match(text, /\nStatus: +failed\n/);
    assert.match(text, /\nTrigger: +manual:test\n/);
    assert.match(text, /\nFailed step: +broken\n/);
    assert.match(text, /\nError: +PW_SQL_ERROR: .*nope/);
    assert.ok(run.error?.hint, 'the error has a hint');
    assert.ok(text.includes(`Hint:`) && text.includes(run.error.hint ?? '-'));
    assert.match(text, new RegExp(`\\nDetails: +https://pw\\.example\\.com/runs/${run.id}\\n`));
    assert.match(text, /Last \d+ log lines:\n/);
    assert.match(text, /error +\[broken\] PW_SQL_ERROR/);
    assert.match(text, /error +run failed: PW_SQL_ERROR/);
    assert.match(
      String(mail.parsed.html),
      new RegExp(`<a href="https://pw\\.example\\.com/runs/${run.id}">`),
    );

    // Generic JSON, signed.
    const generic = hooks.received.find((hook) => hook.path === '/generic');
    assert.equal(generic?.signatureValid, true);
    const payload = generic?.json as Record<string, unknown> & {
      run: Record<string, unknown>;
      error: Record<string, unknown>;
      log: Array<{ message: string; level: string; step: string | null }>;
    };
    assert.equal(payload.event, 'run.failed');
    assert.equal(payload.pipeline, 'nightly');
    assert.equal(payload.run['id'], run.id);
    assert.equal(payload.run['status'], 'failed');
    assert.equal(payload.run['trigger'], 'manual:test');
    assert.deepEqual(payload.error, {
      code: 'PW_SQL_ERROR',
      message: run.error?.message,
      hint: run.error?.hint ?? null,
      step: 'broken',
    });
    assert.equal(payload.url, `https://pw.example.com/runs/${run.id}`);
    assert.ok(payload.log.length > 3 && payload.log.length <= 20);
    assert.match(payload.log.at(-1)?.message ?? '', /^run failed: PW_SQL_ERROR/);
    assert.match(String(payload.text), /^Pipeline nightly failed in step broken\. PW_SQL_ERROR: /);

    // Slack: text and blocks, no signature without a secret.
    const slack = hooks.received.find((hook) => hook.path === '/slack');
    const slackBody = slack?.json as { text: string; blocks: Array<{ type: string }> };
    assert.match(
      slackBody.text,
      new RegExp(
        `^:x: Pipeline nightly failed in step broken\\. <https://pw\\.example\\.com/runs/${run.id}\\|Open the run>$`,
      ),
    );
    assert.deepEqual(
      slackBody.blocks.map((block) => block.type),
      ['section', 'section', 'section', 'context', 'section'],
    );
    assert.equal(slack?.headers['x-pipewright-signature'], undefined);

    // The ledger and the log.
    const deliveries = await store.listDeliveries({ runId: run.id });
    assert.deepEqual(
      deliveries
        .map((record) => [
          record.event,
          record.kind,
          record.target,
          record.status,
          record.attempts,
          record.stepId,
        ])
        .sort(),
      [
        ['on_failure', 'email', 'ops@example.com, Data Team <data@example.com>', 'sent', 1, undefined],
        ['on_failure', 'webhook', `${hooks.url}/generic`, 'sent', 1, undefined],
        ['on_failure', 'webhook', `${hooks.url}/slack`, 'sent', 1, undefined],
      ].sort(),
    );
    assert.equal(deliveries.find((record) => record.kind === 'email')?.messageId, mail.parsed.messageId);
    assert.ok(
      log.includes(
        'info -: notification on_failure[0] (email) sent to ops@example.com, Data Team <data@example.com>',
      ),
    );
    assert.ok(log.includes(`info -: notification on_failure[1] (webhook) sent to ${hooks.url}/generic`));
  });

  it('a failing notification is logged and recorded, the others are sent, and the run error is unchanged', async () => {
    const closed = await startTestWebhookServer();
    const deadUrl = `${closed.url}/hook`;
    await closed.close();
    const { run, error, log, dir } = await runPipeline({
      id: 'flaky-notify',
      on_failure: [
        { webhook: { url: deadUrl, attempts: 1 } },
        { webhook: { url: `${hooks.url}/x`, headers: { Authorization: 'Bearer ${env:MISSING_TOKEN}' } } },
        { email: { to: 'ops@example.com' } },
      ],
      steps: FAILING_STEPS,
    });
    assert.equal(run.status, 'failed');
    assert.equal(error?.code, 'PW_SQL_ERROR');
    const stored = await store.getRun(run.id);
    assert.equal(stored?.status, 'failed');
    assert.deepEqual(stored?.error, run.error);

    const deliveries = (await store.listDeliveries({ runId: run.id })).sort((a, b) => a.id - b.id);
    assert.deepEqual(
      deliveries.map((record) => [record.kind, record.target, record.status, record.attempts]),
      [
        ['webhook', deadUrl, 'failed', 1],
        ['webhook', `${hooks.url}/x`, 'failed', 0],
        ['email', 'ops@example.com', 'outbox', 1],
      ],
    );
    assert.match(
      deliveries[0]?.error ?? '',
      new RegExp(`^PW_DELIVERY_UNAVAILABLE: Cannot reach webhook ${deadUrl}: ECONNREFUSED`),
    );
    assert.match(
      deliveries[1]?.error ?? '',
      /^PW_SECRET_MISSING: 1 secret reference cannot be resolved:\n {2}on_failure\[1\]\.webhook\.headers\.Authorization: \$\{env:MISSING_TOKEN\} — environment variable MISSING_TOKEN is not set$/,
    );
    assert.equal(hooks.received.length, 0, 'nothing was posted without its header');
    assert.ok(
      log.some((line) =>
        line.startsWith(
          `warn -: notification on_failure[0] (webhook) to ${deadUrl} failed: PW_DELIVERY_UNAVAILABLE Cannot reach webhook`,
        ),
      ),
    );
    assert.ok(
      log.some(
        (line) =>
          line.startsWith('warn -: notification on_failure[1] (webhook)') &&
          line.includes('PW_SECRET_MISSING'),
      ),
    );
    const outbox = await readdir(join(dir, 'outbox'));
    assert.deepEqual(outbox, [`${run.id}-on_failure-1.eml`]);
    const parsed = await simpleParser(await readFile(join(dir, 'outbox', outbox[0] ?? '')));
    assert.equal(parsed.subject, '[Pipewright] flaky-notify failed: PW_SQL_ERROR in step broken');
  });

  it('masks a secret in a webhook URL in the ledger and the log', async () => {
    hooks.plan.push({ status: 404, body: 'no such hook' });
    const { run, log } = await runPipeline({
      id: 'secret-url',
      on_failure: [{ webhook: { url: `${hooks.url}/services/\${env:HOOK_TOKEN}?key=\${env:HOOK_TOKEN}` } }],
      steps: FAILING_STEPS,
    });
    assert.equal(
      hooks.received[0]?.path,
      `/services/${HOOK_TOKEN}?key=${HOOK_TOKEN}`,
      'the receiver got the real URL',
    );
    const [record] = await store.listDeliveries({ runId: run.id });
    assert.equal(record?.target, `${hooks.url}/services/[redacted]`);
    assert.equal(record?.status, 'failed');
    assert.match(
      record?.error ?? '',
      /^PW_DELIVERY_REJECTED: Webhook .*\/services\/\[redacted\] refused the request: HTTP 404 Not Found: no such hook$/,
    );
    const everything = JSON.stringify({ record, log });
    assert.ok(!everything.includes(HOOK_TOKEN));
  });

  it('a custom subject is a template over run and error', async () => {
    await runPipeline({
      id: 'custom-subject',
      on_failure: [
        {
          email: {
            connection: 'mail',
            to: 'ops@example.com',
            subject: '{{ run.pipeline }} broke at {{ error.step }} ({{ error.code }})',
          },
        },
      ],
      steps: FAILING_STEPS,
    });
    assert.equal(smtp.received[0]?.parsed.subject, 'custom-subject broke at broken (PW_SQL_ERROR)');
  });

  it('a cancelled run sends no failure notification', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const { run } = await runPipeline(
      {
        id: 'cancelled',
        on_failure: [{ webhook: { url: `${hooks.url}/cancel` } }],
        steps: [{ id: 'slow', uses: 'test.wait', with: { ms: 10_000 } }],
      },
      { signal: controller.signal },
    );
    assert.equal(run.status, 'cancelled');
    assert.equal(hooks.received.length, 0);
    assert.deepEqual(await store.listDeliveries({ runId: run.id }), []);
  });
});

describe('on_success and project defaults', () => {
  it('uses the project default on_success (outbox without a connection); a pipeline list replaces it', async () => {
    const defaults = project({
      notifications: {
        on_success: [{ email: { to: 'ops@example.com' } }],
        on_failure: [{ webhook: { url: `${hooks.url}/default` } }],
      },
    });
    const { run, dir } = await runPipeline(
      { id: 'fine', steps: [{ id: 'a', uses: 'sql', with: { query: 'SELECT 1 AS n' } }] },
      { project: defaults },
    );
    assert.equal(run.status, 'succeeded');
    const parsed = await simpleParser(await readFile(join(dir, 'outbox', `${run.id}-on_success-1.eml`)));
    assert.equal(parsed.subject, '[Pipewright] fine succeeded');
    assert.match(String(parsed.text), /^Pipeline fine succeeded\.\n/);
    assert.doesNotMatch(String(parsed.text), /Error:/);
    const [record] = await store.listDeliveries({ runId: run.id });
    assert.deepEqual([record?.event, record?.status], ['on_success', 'outbox']);

    // The pipeline's own (empty) on_failure replaces the project's.
    const failing = await runPipeline(
      { id: 'quiet', on_failure: [], steps: FAILING_STEPS },
      { project: defaults },
    );
    assert.equal(failing.run.status, 'failed');
    assert.equal(hooks.received.length, 0);
  });
});

describe('delivery steps in a run', () => {
  it('record their messages in the ledger with run, pipeline and step', async () => {
    const { run } = await runPipeline({
      id: 'deliver',
      steps: [
        {
          id: 'mail',
          uses: 'email',
          with: { to: 'ana@example.com', subject: 'Rows: {{ run.pipeline }}', text: 'hi' },
        },
        {
          id: 'hook',
          uses: 'webhook',
          with: { url: `${hooks.url}/step?sig=\${env:HOOK_TOKEN}`, text: 'done' },
        },
      ],
    });
    assert.equal(run.status, 'succeeded', run.error?.message);
    const deliveries = (await store.listDeliveries({ runId: run.id })).sort((a, b) =>
      String(b.stepId).localeCompare(String(a.stepId)),
    );
    assert.deepEqual(
      deliveries.map((record) => [
        record.pipelineId,
        record.stepId,
        record.event,
        record.kind,
        record.target,
        record.subject,
        record.status,
      ]),
      [
        ['deliver', 'mail', 'step', 'email', 'ana@example.com', 'Rows: deliver', 'outbox'],
        ['deliver', 'hook', 'step', 'webhook', `${hooks.url}/step`, 'done', 'sent'],
      ],
    );
    assert.equal(deliveries[1]?.messageId, hooks.received[0]?.headers['x-pipewright-delivery']);
  });
});

describe('the dead-man notice (expect.success_within)', () => {
  it('goes through on_failure with the window and the last success, recorded without a run', async () => {
    const pipeline = pipelineSchema.parse({
      id: 'weekly',
      expect: { success_within: '8d' },
      on_failure: [{ webhook: { url: `${hooks.url}/overdue`, secret: SECRET } }],
      steps: [{ id: 'a', uses: 'sql', with: { query: 'SELECT 1' } }],
    });
    const lines: string[] = [];
    const outcomes = await sendOverdueNotifications({
      projectDir: root,
      project: project(),
      store,
      env: {},
      redactor: new Redactor(),
      log: (level, message) => lines.push(`${level} ${message}`),
      pipeline,
      window: '8d',
      lastSuccess: new Date('2026-11-10T07:00:00Z'),
      now: new Date('2026-11-23T08:00:00Z'),
    });
    assert.deepEqual(outcomes, [{ kind: 'webhook', target: `${hooks.url}/overdue`, status: 'sent' }]);
    const payload = hooks.received[0]?.json as Record<string, unknown>;
    assert.equal(hooks.received[0]?.signatureValid, true);
    assert.equal(payload['event'], 'pipeline.overdue');
    assert.deepEqual(payload['expect'], {
      success_within: '8d',
      last_success: '2026-11-10T07:00:00.000Z',
      checked_at: '2026-11-23T08:00:00.000Z',
    });
    assert.equal(payload['run'], null);
    assert.equal(payload['url'], 'https://pw.example.com/pipelines/weekly');
    assert.match(
      String(payload['text']),
      /^Pipeline weekly has had no successful run within 8d \(expect\.success_within\); the last one finished 2026-11-10 07:00:00 UTC\./,
    );
    const [record] = await store.listDeliveries({ pipelineId: 'weekly' });
    assert.deepEqual([record?.runId, record?.event, record?.status], [undefined, 'expect', 'sent']);
    assert.deepEqual(lines, [`info notification on_failure[0] (webhook) sent to ${hooks.url}/overdue`]);
  });

  it("is sent by the scheduler once per missed window, with the pipeline's on_failure", async () => {
    const spec = pipelineSchema.parse({
      id: 'monthly',
      expect: { success_within: '8d' },
      on_failure: [{ webhook: { url: `${hooks.url}/dead-man` } }],
      steps: [{ id: 'a', uses: 'sql', with: { query: 'SELECT 1' } }],
    });
    await store.savePipelineRevision({
      pipelineId: 'monthly',
      hash: definitionHash(spec),
      definition: spec,
      sourcePath: 'pipelines/monthly.yaml',
      at: new Date('2026-03-01T00:00:00Z'),
    });
    let now = new Date('2026-03-10T00:00:00Z');
    const scheduler = new Scheduler({
      store,
      projectTimezone: 'UTC',
      pipelineIds: () => ['monthly'],
      clock: () => now,
      onOverdue: (overdue) =>
        sendOverdueNotifications({
          projectDir: root,
          project: project(),
          store,
          env: {},
          redactor: new Redactor(),
          log: () => undefined,
          pipeline: overdue.spec,
          window: overdue.window,
          lastSuccess: overdue.lastSuccess,
          now: overdue.now,
        }),
    });
    await scheduler.tick();
    now = new Date('2026-03-10T06:00:00Z');
    await scheduler.tick();
    now = new Date('2026-03-18T06:00:00Z');
    await scheduler.tick();
    await scheduler.stop();
    const notices = hooks.received.filter((hook) => hook.path === '/dead-man');
    assert.equal(notices.length, 2, 'one per missed window, not one per tick');
    assert.deepEqual(
      notices.map((hook) => (hook.json as { expect: { checked_at: string } }).expect.checked_at),
      ['2026-03-10T00:00:00.000Z', '2026-03-18T06:00:00.000Z'],
    );
    const ledger = await store.listDeliveries({ pipelineId: 'monthly' });
    assert.deepEqual(
      ledger.map((record) => [record.event, record.status]),
      [
        ['expect', 'sent'],
        ['expect', 'sent'],
      ],
    );
  });
});

describe('runs executed by a worker', () => {
  it('send their notifications too (the project default on_failure)', async () => {
    const spec = pipelineSchema.parse({ id: 'queued-fail', steps: FAILING_STEPS });
    const { revision } = await store.savePipelineRevision({
      pipelineId: spec.id,
      hash: definitionHash(spec),
      definition: spec,
      sourcePath: 'pipelines/queued-fail.yaml',
      at: new Date(),
    });
    const dir = join(root, 'worker-project');
    await mkdir(dir, { recursive: true });
    const now = new Date();
    const queued = await store.enqueueRun({
      id: 'queued-fail-1',
      pipelineId: spec.id,
      revision: revision.revision,
      status: 'queued',
      trigger: 'api:ops',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });
    assert.ok(queued);
    const worker = new Worker({
      store,
      project: {
        dir,
        file: join(dir, 'pipewright.yaml'),
        spec: project({
          notifications: { on_failure: [{ webhook: { url: `${hooks.url}/worker`, secret: SECRET } }] },
        }),
        registry,
      },
      pollMs: 20,
      env: {},
      pipelineIds: () => [spec.id],
    });
    worker.start();
    try {
      const deadline = Date.now() + 20_000;
      while ((await store.listDeliveries({ runId: queued.id })).length === 0) {
        assert.ok(Date.now() < deadline, 'the notification was recorded within 20 s');
        await delay(50);
      }
    } finally {
      await worker.stop(0);
    }
    const finished = await store.getRun(queued.id);
    assert.equal(finished?.status, 'failed');
    assert.equal(finished?.error?.code, 'PW_SQL_ERROR');
    const hook = hooks.received.find((received) => received.path === '/worker');
    assert.equal(hook?.signatureValid, true);
    const payload = hook?.json as { event: string; run: { id: string; trigger: string } };
    assert.deepEqual(
      [payload.event, payload.run.id, payload.run.trigger],
      ['run.failed', queued.id, 'api:ops'],
    );
  });
});
