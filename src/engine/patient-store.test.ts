import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PwError } from '../core/errors/pw-error.js';
import type { StateStore } from '../store/state-store.js';
import { patientStore } from './patient-store.js';

const unreachable = () => new PwError('PW_STORE_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:5432');

/** A store whose countRuns fails `failures` times with `error`, then answers 7. */
function flakyStore(failures: number, error: () => Error): { store: StateStore; calls: () => number } {
  let calls = 0;
  const store = {
    countRuns: () => {
      calls += 1;
      return calls <= failures ? Promise.reject(error()) : Promise.resolve(7);
    },
    close: () => Promise.reject(unreachable()),
  } as unknown as StateStore;
  return { store, calls: () => calls };
}

describe('patientStore', () => {
  it('repeats a call while the store is unreachable and reports the outage once, then its end', async () => {
    const { store, calls } = flakyStore(3, unreachable);
    const events: string[] = [];
    const patient = patientStore(store, {
      initialDelayMs: 1,
      onOutage: (event) => events.push(event.state === 'waiting' ? `waiting ${event.operation}` : 'back'),
    });
    assert.equal(await patient.countRuns(), 7);
    assert.equal(calls(), 4);
    assert.deepEqual(events, ['waiting countRuns', 'back']);
  });

  it('passes other errors through at once', async () => {
    const { store, calls } = flakyStore(1, () => new PwError('PW_STORE', 'disk full'));
    await assert.rejects(patientStore(store, { initialDelayMs: 1 }).countRuns(), /disk full/);
    assert.equal(calls(), 1);
  });

  it('gives up with the last error after maxWaitMs', async () => {
    const { store, calls } = flakyStore(Number.POSITIVE_INFINITY, unreachable);
    const started = Date.now();
    await assert.rejects(
      patientStore(store, { initialDelayMs: 5, maxDelayMs: 5, maxWaitMs: 60 }).countRuns(),
      (error: unknown) => error instanceof PwError && error.code === 'PW_STORE_UNREACHABLE',
    );
    assert.ok(Date.now() - started >= 60);
    assert.ok(calls() >= 2, `${calls()} calls`);
  });

  it('does not wait on close', async () => {
    const { store } = flakyStore(0, unreachable);
    await assert.rejects(patientStore(store, { initialDelayMs: 1 }).close(), /ECONNREFUSED/);
  });
});
