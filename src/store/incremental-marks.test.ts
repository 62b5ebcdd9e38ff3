/**
 * Contract tests of the incremental marks (migration 0006) over every adapter: a proposal counts only
 * once its run's marks are committed, a later proposal of the same run replaces an earlier one, and a
 * proposal whose base is no longer the committed mark is superseded instead of moving the mark back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StateStore } from './state-store.js';
import { ADAPTERS } from './test-adapters.js';

const T0 = new Date('2026-11-23T04:00:00.000Z');
const T1 = new Date('2026-11-23T05:00:00.000Z');

async function withRuns(store: StateStore, ids: readonly string[]): Promise<void> {
  await store.savePipelineRevision({
    pipelineId: 'sync',
    hash: 'h',
    definition: { id: 'sync' },
    sourcePath: 'pipelines/sync.yaml',
    at: T0,
  });
  for (const id of ids) {
    await store.createRun({
      id,
      pipelineId: 'sync',
      revision: 1,
      status: 'running',
      trigger: 'manual:cli',
      params: {},
      scheduledFor: T0,
      queuedAt: T0,
    });
  }
}

for (const adapter of ADAPTERS) {
  describe(`incremental marks: ${adapter.name}`, () => {
    test('a proposal becomes the mark only when its run commits; the last proposal of a run wins', async () => {
      const store = await adapter.open();
      try {
        await withRuns(store, ['r1', 'r2']);
        assert.equal(await store.getIncrementalMark('sync', 'orders'), undefined);
        await store.proposeIncrementalMark({
          runId: 'r1',
          pipelineId: 'sync',
          stepId: 'orders',
          base: undefined,
          value: '"a"',
          at: T0,
        });
        await store.proposeIncrementalMark({
          runId: 'r1',
          pipelineId: 'sync',
          stepId: 'orders',
          base: undefined,
          value: '"b"',
          at: T0,
        });
        assert.equal(
          await store.getIncrementalMark('sync', 'orders'),
          undefined,
          'not before the run commits',
        );
        assert.deepEqual(await store.commitIncrementalMarks('r1', T1), [
          { stepId: 'orders', status: 'committed', value: '"b"' },
        ]);
        assert.deepEqual(await store.getIncrementalMark('sync', 'orders'), {
          pipelineId: 'sync',
          stepId: 'orders',
          value: '"b"',
          runId: 'r1',
          updatedAt: T1,
        });
        assert.deepEqual(
          await store.commitIncrementalMarks('r1', T1),
          [],
          'proposals are gone once committed',
        );
        assert.deepEqual(
          await store.commitIncrementalMarks('r2', T1),
          [],
          'a run that proposed nothing commits nothing',
        );
      } finally {
        await store.close();
      }
    });

    test('a proposal based on a mark that moved since is superseded, never moving the mark back', async () => {
      const store = await adapter.open();
      try {
        await withRuns(store, ['r1', 'r2', 'r3']);
        await store.proposeIncrementalMark({
          runId: 'r1',
          pipelineId: 'sync',
          stepId: 'orders',
          base: undefined,
          value: '1',
          at: T0,
        });
        await store.commitIncrementalMarks('r1', T0);
        // r2 and r3 both start from mark 1; r3 succeeds first with 5, then r2 (resumed) with 3.
        await store.proposeIncrementalMark({
          runId: 'r2',
          pipelineId: 'sync',
          stepId: 'orders',
          base: '1',
          value: '3',
          at: T0,
        });
        await store.proposeIncrementalMark({
          runId: 'r3',
          pipelineId: 'sync',
          stepId: 'orders',
          base: '1',
          value: '5',
          at: T0,
        });
        assert.deepEqual(await store.commitIncrementalMarks('r3', T1), [
          { stepId: 'orders', status: 'committed', value: '5' },
        ]);
        assert.deepEqual(await store.commitIncrementalMarks('r2', T1), [
          { stepId: 'orders', status: 'superseded', value: '3' },
        ]);
        assert.equal((await store.getIncrementalMark('sync', 'orders'))?.value, '5');
        assert.equal((await store.getIncrementalMark('sync', 'orders'))?.runId, 'r3');
      } finally {
        await store.close();
      }
    });
  });
}
