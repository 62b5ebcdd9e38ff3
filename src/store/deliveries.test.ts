/**
 * The deliveries part of the state-store contract (migration 0005), over every adapter of
 * test-adapters.ts: what recordDelivery stores comes back from listDeliveries unchanged, newest first,
 * filtered by run or pipeline and limited; rows without a run (dead-man notices) and without a step
 * (notifications) are allowed; it survives reopening the store.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { NewDelivery, StateStore } from './state-store.js';
import { ADAPTERS, type AdapterFactory } from './test-adapters.js';

const T0 = new Date('2026-11-23T08:00:00.000Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

async function saveRun(store: StateStore, id: string, pipelineId: string): Promise<void> {
  await store.savePipelineRevision({
    pipelineId,
    hash: 'h1',
    definition: { id: pipelineId },
    sourcePath: 'p',
    at: T0,
  });
  await store.createRun({
    id,
    pipelineId,
    revision: 1,
    status: 'running',
    trigger: 'manual:cli',
    params: {},
    scheduledFor: T0,
    queuedAt: T0,
  });
}

function deliveriesContract(adapter: AdapterFactory): void {
  describe(`deliveries contract: ${adapter.name}`, () => {
    let store: StateStore;
    beforeEach(async () => {
      store = await adapter.open();
      await saveRun(store, 'run-1', 'weekly');
      await saveRun(store, 'run-2', 'weekly');
      await saveRun(store, 'run-3', 'daily');
    });
    const closeAfter = async (body: () => Promise<void>): Promise<void> => {
      try {
        await body();
      } finally {
        await store.close();
      }
    };

    test('records every field and lists newest first, by run, by pipeline, with a limit', () =>
      closeAfter(async () => {
        const sent: NewDelivery = {
          runId: 'run-1',
          pipelineId: 'weekly',
          stepId: 'mail',
          event: 'step',
          kind: 'email',
          target: 'ana@example.com, bo@example.com',
          subject: 'Weekly report',
          messageId: '<abc.pipewright@example.com>',
          status: 'sent',
          attempts: 2,
          createdAt: at(1),
        };
        const stored = await store.recordDelivery(sent);
        assert.equal(typeof stored.id, 'number');
        assert.deepEqual(stored, { ...sent, id: stored.id });

        const failed = await store.recordDelivery({
          runId: 'run-1',
          pipelineId: 'weekly',
          event: 'on_failure',
          kind: 'webhook',
          target: 'https://hooks.example.com/services/[redacted]',
          status: 'failed',
          attempts: 3,
          error:
            'PW_DELIVERY_UNAVAILABLE: Webhook https://hooks.example.com/services/[redacted] answered HTTP 503',
          createdAt: at(2),
        });
        const overdue = await store.recordDelivery({
          pipelineId: 'daily',
          event: 'expect',
          kind: 'email',
          target: 'ops@example.com',
          subject: '[Pipewright] daily: no successful run within 2d',
          status: 'outbox',
          attempts: 1,
          createdAt: at(3),
        });
        await store.recordDelivery({ ...sent, runId: 'run-2', createdAt: at(4) });

        const forRun = await store.listDeliveries({ runId: 'run-1' });
        assert.deepEqual(forRun, [failed, stored]);
        assert.equal(failed.stepId, undefined);
        assert.equal(failed.subject, undefined);
        assert.equal(overdue.runId, undefined);

        assert.deepEqual(
          (await store.listDeliveries({ pipelineId: 'weekly' })).map((record) => [
            record.runId,
            record.event,
          ]),
          [
            ['run-2', 'step'],
            ['run-1', 'on_failure'],
            ['run-1', 'step'],
          ],
        );
        assert.deepEqual(await store.listDeliveries({ pipelineId: 'daily' }), [overdue]);
        assert.deepEqual(
          (await store.listDeliveries({ limit: 2 })).map((record) => record.createdAt),
          [at(4), at(3)],
        );
        assert.equal((await store.listDeliveries()).length, 4);
        assert.deepEqual(await store.listDeliveries({ runId: 'run-3' }), []);
      }));

    test('deliveries survive reopening the store', async () => {
      await store.recordDelivery({
        runId: 'run-3',
        pipelineId: 'daily',
        stepId: 'notify',
        event: 'step',
        kind: 'webhook',
        target: 'http://127.0.0.1:9/hook',
        messageId: '0b7c2c58-5a55-4f38-9f4b-8d3c3f1d2a10',
        status: 'sent',
        attempts: 1,
        createdAt: at(5),
      });
      await store.close();
      store = await adapter.reopen();
      await closeAfter(async () => {
        const [record] = await store.listDeliveries({ runId: 'run-3' });
        assert.equal(record?.messageId, '0b7c2c58-5a55-4f38-9f4b-8d3c3f1d2a10');
        assert.equal(record?.createdAt.toISOString(), at(5).toISOString());
      });
    });
  });
}

for (const adapter of ADAPTERS) deliveriesContract(adapter);
