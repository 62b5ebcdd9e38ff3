import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StateStore } from '../store/state-store.js';
import { signallingQueuedRuns } from './queue-signal.js';

/** Only the methods the wrapper treats differently, recording what reached the store. */
function recordingStore(calls: string[]): StateStore {
  const store = {
    label: 'fake',
    enqueueRun: async () => {
      calls.push('enqueueRun');
      return undefined;
    },
    createRun: async (run: { status: string }) => {
      calls.push(`createRun ${run.status}`);
      return run;
    },
    updateRun: async (id: string, patch: { status?: string }) => {
      calls.push(`updateRun ${id} ${patch.status ?? '-'}`);
    },
    queueWatchedFileRun: async () => {
      calls.push('queueWatchedFileRun');
    },
    retryWatchedFileRun: async () => {
      calls.push('retryWatchedFileRun');
      return true;
    },
    getRun: async function (this: unknown) {
      calls.push(this === store ? 'getRun on the store' : 'getRun elsewhere');
      return undefined;
    },
  };
  return store as unknown as StateStore;
}

describe('signallingQueuedRuns', () => {
  it('signals after every write that leaves a run queued, and only then', async () => {
    const calls: string[] = [];
    const signalled = signallingQueuedRuns(recordingStore(calls), () => calls.push('signal'));
    await signalled.enqueueRun({} as Parameters<StateStore['enqueueRun']>[0]);
    await signalled.createRun({ status: 'running' } as Parameters<StateStore['createRun']>[0]);
    await signalled.createRun({ status: 'queued' } as Parameters<StateStore['createRun']>[0]);
    await signalled.updateRun('a', { status: 'succeeded' });
    await signalled.updateRun('b', { status: 'queued' });
    await signalled.updateRun('c', {});
    await signalled.getRun('d');
    await signalled.queueWatchedFileRun('entry', {} as Parameters<StateStore['queueWatchedFileRun']>[1]);
    assert.equal(await signalled.retryWatchedFileRun('entry', 'run', { status: 'queued' }), true);
    assert.deepEqual(calls, [
      'enqueueRun',
      'signal',
      'createRun running',
      'createRun queued',
      'signal',
      'updateRun a succeeded',
      'updateRun b queued',
      'signal',
      'updateRun c -',
      'getRun on the store',
      'queueWatchedFileRun',
      'signal',
      'retryWatchedFileRun',
      'signal',
    ]);
    assert.equal((signalled as unknown as { label: string }).label, 'fake');
  });
});
