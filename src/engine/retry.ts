/** Backoff between step attempts: fixed or exponential with full jitter, capped. */
import { parseDuration } from '../core/duration.js';
import type { RetryPolicy } from '../core/spec/pipeline-schema.js';

const DEFAULT_MAX_DELAY_MS = 10 * 60_000;

/** Delay before attempt `nextAttempt` (2 = the first retry). Jitter spreads retries of many runs apart. */
export function backoffDelay(
  policy: RetryPolicy,
  nextAttempt: number,
  random: () => number = Math.random,
): number {
  const base = parseDuration(policy.delay) ?? 10_000;
  const cap =
    policy.max_delay === undefined
      ? DEFAULT_MAX_DELAY_MS
      : (parseDuration(policy.max_delay) ?? DEFAULT_MAX_DELAY_MS);
  if (policy.backoff === 'fixed') return Math.min(base, cap);
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, nextAttempt - 2));
  // Half fixed, half random: never retries instantly, yet attempts from many runs do not align.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** setTimeout fires at once for longer delays, so a long wait is chained from timers of at most this. */
const MAX_TIMER_MS = 2_147_483_647;

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    let timer: NodeJS.Timeout;
    const wait = (remaining: number) => {
      timer = setTimeout(
        () => {
          if (remaining > MAX_TIMER_MS) {
            wait(remaining - MAX_TIMER_MS);
            return;
          }
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.min(remaining, MAX_TIMER_MS),
      );
    };
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    wait(ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
