/**
 * The `webhook` step against a local HTTP server that verifies signatures (webhook-test-server.ts):
 * Slack-compatible and generic JSON payloads, the HMAC-SHA256 scheme, 500 then 200, Retry-After,
 * a 4xx that fails at once, a receiver that does not answer in time, and what the ledger keeps.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError, rejectsWith } from '../../testing/assertions.js';
import { webhookStep } from './webhook.js';
import { retryAfter, signWebhook } from './webhook-send.js';
import { startTestWebhookServer, verifySignature, type TestWebhookServer } from './webhook-test-server.js';

const SECRET = 'whsec-test-8f14e45fceea167a';

let server: TestWebhookServer;
let harness: StepHarness;

before(async () => {
  server = await startTestWebhookServer(SECRET);
  harness = await createStepHarness();
});
after(async () => {
  await server.close();
  await harness.close();
});
beforeEach(() => {
  server.received.length = 0;
  server.plan.length = 0;
});

describe('webhook', () => {
  it('posts a Slack-compatible payload, signed, and records it', async () => {
    const result = await harness.runStep(
      webhookStep,
      {
        url: `${server.url}/hooks/report?token=abc123`,
        text: 'Weekly report is *ready*',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'Max 22.25 °C' } }],
        secret: SECRET,
        headers: { 'X-Team': 'data' },
      },
      { stepId: 'notify' },
    );
    assert.equal(server.received.length, 1);
    const [hook] = server.received;
    assert.equal(hook?.path, '/hooks/report?token=abc123');
    assert.deepEqual(hook?.json, {
      text: 'Weekly report is *ready*',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'Max 22.25 °C' } }],
    });
    assert.equal(hook?.signatureValid, true);
    assert.equal(hook?.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(hook?.headers['x-team'], 'data');
    const deliveryId = String(hook?.headers['x-pipewright-delivery']);
    assert.match(deliveryId, /^[0-9a-f-]{36}$/);
    // The documented scheme, computed independently of the server's check.
    assert.equal(
      hook?.headers['x-pipewright-signature'],
      signWebhook(SECRET, String(hook?.headers['x-pipewright-timestamp']), hook?.body ?? ''),
    );
    assert.deepEqual(result.outputs, {
      status: 'sent',
      http_status: 200,
      delivery_id: deliveryId,
      attempts: 1,
    });
    assert.deepEqual(harness.deliveries.at(-1), {
      kind: 'webhook',
      target: `${server.url}/hooks/report`,
      subject: 'Weekly report is *ready*',
      messageId: deliveryId,
      status: 'sent',
      attempts: 1,
    });
  });

  it('retries a 500 and succeeds on the 200 that follows, signing each attempt with one delivery id', async () => {
    server.plan.push({ status: 500, body: 'database is restarting' });
    const result = await harness.runStep(
      webhookStep,
      {
        url: `${server.url}/generic`,
        body: { event: 'report.ready', rows: 24, ok: true },
        secret: SECRET,
        retry_delay: '50ms',
      },
      { stepId: 'hook_500' },
    );
    assert.equal(server.received.length, 2);
    assert.deepEqual(
      server.received.map((hook) => hook.signatureValid),
      [true, true],
    );
    assert.deepEqual(server.received[1]?.json, { event: 'report.ready', rows: 24, ok: true });
    assert.equal(
      server.received[0]?.headers['x-pipewright-delivery'],
      server.received[1]?.headers['x-pipewright-delivery'],
    );
    assert.equal(result.outputs?.['attempts'], 2);
    const warning = harness.logs.find((entry) => entry.stepId === 'hook_500' && entry.level === 'warn');
    assert.match(
      warning?.message ?? '',
      new RegExp(
        `^Webhook ${server.url}/generic answered HTTP 500 Internal Server Error: database is restarting; attempt 2 of 3 in \\d+ ms$`,
      ),
    );
    assert.deepEqual([harness.deliveries.at(-1)?.status, harness.deliveries.at(-1)?.attempts], ['sent', 2]);
  });

  it('honours Retry-After on 429', async () => {
    server.plan.push({ status: 429, headers: { 'retry-after': '1' } });
    await harness.runStep(
      webhookStep,
      { url: server.url, text: 'hi', retry_delay: '10ms' },
      { stepId: 'hook_429' },
    );
    assert.equal(server.received.length, 2);
    const gap = (server.received[1]?.at ?? 0) - (server.received[0]?.at ?? 0);
    assert.ok(gap >= 950, `waited ${gap} ms, at least the 1 s of Retry-After`);
  });

  it('fails at once on a 4xx, without retrying', async () => {
    server.plan.push({ status: 403, body: 'invalid signature' });
    await rejectsWith(
      (thrown) => {
        const error = asPwError(thrown);
        assert.equal(error.code, 'PW_DELIVERY_REJECTED');
        assert.equal(
          error.message,
          `Webhook ${server.url}/x refused the request: HTTP 403 Forbidden: invalid signature`,
        );
        assert.match(error.hint ?? '', /secret or token/);
      },
      harness.runStep(
        webhookStep,
        { url: `${server.url}/x`, text: 'hi', retry_delay: '10ms' },
        { stepId: 'hook_403' },
      ),
    );
    assert.equal(server.received.length, 1);
    assert.deepEqual([harness.deliveries.at(-1)?.status, harness.deliveries.at(-1)?.attempts], ['failed', 1]);
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    server.plan.push({ status: 200, delayMs: 2_000 }, { status: 200, delayMs: 2_000 });
    await rejectsWith(
      (thrown) => {
        const error = asPwError(thrown);
        assert.equal(error.code, 'PW_DELIVERY_UNAVAILABLE');
        assert.equal(error.kind, 'operational');
        assert.equal(
          error.message,
          `Webhook ${server.url}/slow did not answer within 200 ms (after 2 attempts)`,
        );
      },
      harness.runStep(
        webhookStep,
        { url: `${server.url}/slow`, text: 'hi', timeout: '200ms', attempts: 2, retry_delay: '10ms' },
        { stepId: 'hook_slow' },
      ),
    );
    assert.equal(harness.deliveries.at(-1)?.attempts, 2);
  });

  it('refuses a body that is not JSON, and a format without its fields', async () => {
    await rejectsWith(
      (thrown) => {
        const error = asPwError(thrown);
        assert.equal(error.code, 'PW_SPEC_TYPE');
        assert.match(error.message, /^with\.body is not valid JSON after templates were rendered/);
      },
      harness.runStep(webhookStep, { url: server.url, body: '{"rows": 24,' }, { stepId: 'hook_bad' }),
    );
    assert.equal(server.received.length, 0);
    assert.throws(
      () => webhookStep.config.parse({ url: server.url, format: 'json', text: 'x' }),
      /format json needs a body/,
    );
  });
});

describe('the signature scheme', () => {
  it('is HMAC-SHA256 over "<timestamp>.<body>", and a receiver refuses a changed body or an old timestamp', () => {
    const body = '{"text":"hi"}';
    const signature = signWebhook('s3cret', 1_700_000_000, body);
    // `printf '1700000000.{"text":"hi"}' | openssl dgst -sha256 -hmac s3cret`
    assert.equal(signature, 'sha256=a4abab2c9ec335a751cf8c3848e413a84a4e0eef17a9660d993911fafacadb66');
    const headers = { 'x-pipewright-timestamp': '1700000000', 'x-pipewright-signature': signature };
    assert.equal(verifySignature('s3cret', headers, body, 1_700_000_100), true);
    assert.equal(verifySignature('s3cret', headers, `${body} `, 1_700_000_100), false);
    assert.equal(verifySignature('s3cret', headers, body, 1_700_000_000 + 600), false);
    assert.equal(verifySignature('other', headers, body, 1_700_000_100), false);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = new Date('2026-11-23T08:00:00Z');
    assert.equal(retryAfter('7', now), 7000);
    assert.equal(retryAfter('Mon, 23 Nov 2026 08:00:30 GMT', now), 30_000);
    assert.equal(retryAfter('soon', now), undefined);
    assert.equal(retryAfter(null, now), undefined);
  });
});
