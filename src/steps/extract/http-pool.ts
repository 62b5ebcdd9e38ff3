/**
 * Pacing and parallelism for `http.fetch`: a rate limiter shared by every request of a step, and a
 * pool of workers whose results are handed on in item order whatever order they finish in.
 */
import { sleep } from '../../engine/retry.js';

/** Waits so that calls start at most `perSecond` per second in total; undefined without a limit. */
export function rateLimiter(
  perSecond: number | undefined,
  signal: AbortSignal,
): (() => Promise<void>) | undefined {
  if (perSecond === undefined) return undefined;
  const gap = 1000 / perSecond;
  let next = 0;
  return async () => {
    const now = Date.now();
    const at = Math.max(now, next);
    next = at + gap;
    if (at > now) await sleep(at - now, signal);
  };
}

/** Runs `work` for every index with `concurrency` workers, handing results on in index order. */
export async function inOrder<T>(
  count: number,
  concurrency: number,
  work: (index: number) => Promise<T>,
  emit: (result: T) => Promise<void>,
): Promise<void> {
  const done = new Map<number, T>();
  let nextToStart = 0;
  let nextToEmit = 0;
  let failure: unknown;
  let emitting = Promise.resolve();
  const flush = (): void => {
    emitting = emitting.then(async () => {
      while (done.has(nextToEmit)) {
        const result = done.get(nextToEmit) as T;
        done.delete(nextToEmit);
        nextToEmit += 1;
        await emit(result);
      }
    });
  };
  const worker = async (): Promise<void> => {
    while (failure === undefined && nextToStart < count) {
      const index = nextToStart;
      nextToStart += 1;
      try {
        done.set(index, await work(index));
        flush();
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => worker()));
  await emitting;
  if (failure !== undefined) throw failure;
}
