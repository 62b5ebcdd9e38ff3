/** Backoff arithmetic with an injected random source, and the abortable sleep between attempts. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { PwError } from '../core/errors/pw-error.js';
import type { RetryPolicy } from '../core/spec/pipeline-schema.js';
import { backoffDelay, sleep } from './retry.js';

const policy = (overrides: Partial<RetryPolicy>): RetryPolicy => ({
  attempts: 5,
  backoff: 'exponential',
  delay: '1s',
  ...overrides,
});
const low = () => 0;
const high = () => 1;

describe('backoffDelay', () => {
  it('waits the same delay before every retry with fixed backoff, whatever the random source says', () => {
    const fixed = policy({ backoff: 'fixed', delay: '2s' });
    for (const next of [2, 3, 4, 10]) {
      assert.equal(backoffDelay(fixed, next, low), 2000);
      assert.equal(backoffDelay(fixed, next, high), 2000);
    }
  });

  it('caps a fixed delay at max_delay', () => {
    assert.equal(backoffDelay(policy({ backoff: 'fixed', delay: '2m', max_delay: '30s' }), 2), 30_000);
  });

  it('doubles the exponential ceiling per attempt, with jitter between half the ceiling and the ceiling', () => {
    const exponential = policy({ delay: '1s' });
    const expected: [next: number, ceiling: number][] = [
      [2, 1000],
      [3, 2000],
      [4, 4000],
      [5, 8000],
    ];
    for (const [next, ceiling] of expected) {
      assert.equal(backoffDelay(exponential, next, low), ceiling / 2, `attempt ${next}, random 0`);
      assert.equal(backoffDelay(exponential, next, high), ceiling, `attempt ${next}, random 1`);
      assert.equal(
        backoffDelay(exponential, next, () => 0.5),
        (ceiling * 3) / 4,
        `attempt ${next}, random 0.5`,
      );
    }
  });

  it('never goes below half the base delay nor above the cap with the real random source', () => {
    const exponential = policy({ delay: '100ms', max_delay: '1s' });
    for (let next = 2; next < 30; next += 1) {
      const delay = backoffDelay(exponential, next);
      assert.ok(delay >= 50 && delay <= 1000, `attempt ${next}: ${delay}`);
    }
  });

  it('caps the exponential ceiling at max_delay, and at ten minutes by default', () => {
    const capped = policy({ delay: '1s', max_delay: '5s' });
    assert.equal(backoffDelay(capped, 5, high), 5000);
    assert.equal(backoffDelay(capped, 5, low), 2500);
    assert.equal(backoffDelay(capped, 40, high), 5000);
    const uncapped = policy({ delay: '1m' });
    assert.equal(backoffDelay(uncapped, 20, high), 600_000);
    assert.equal(backoffDelay(uncapped, 20, low), 300_000);
  });
});

describe('sleep', () => {
  it('resolves after the delay and leaves no listener on the signal', async () => {
    const controller = new AbortController();
    const started = performance.now();
    await sleep(20, controller.signal);
    // Timers may fire a hair early; 15 ms is far from both 0 and flakiness.
    assert.ok(performance.now() - started >= 15);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('rejects with the abort reason as soon as the signal aborts, long before the delay', async () => {
    const controller = new AbortController();
    const reason = new PwError('PW_CANCELLED', 'stop');
    const started = performance.now();
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(sleep(30_000, controller.signal), (error) => error === reason);
    assert.ok(performance.now() - started < 5000, 'sleep kept waiting after the abort');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new PwError('PW_RUN_TIMEOUT', 'too late'));
    await assert.rejects(sleep(30_000, controller.signal), { code: 'PW_RUN_TIMEOUT' });
  });

  it('keeps waiting for delays longer than a timer can hold (~24.8 days) instead of firing at once', async () => {
    const controller = new AbortController();
    let settled: 'resolved' | 'rejected' | undefined;
    sleep(2 ** 31 + 1000, controller.signal).then(
      () => (settled = 'resolved'),
      () => (settled = 'rejected'),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, undefined, 'a 25-day sleep ended after a few milliseconds');
    controller.abort(new PwError('PW_CANCELLED', 'stop'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, 'rejected');
  });
});
