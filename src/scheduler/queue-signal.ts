/**
 * In `serve`, a run queued by the same process (by the scheduler, the API, a retry, an upstream
 * trigger, a watched folder) would wait for the in-process workers' next poll, up to `pollMs`. Wrapping the store lets
 * every write that makes a run queued tell them at once. Runs queued by other processes sharing the
 * store are still found by polling.
 */
import type { StateStore } from '../store/state-store.js';

export function signallingQueuedRuns(store: StateStore, onQueued: () => void): StateStore {
  const announce = <T>(result: T): T => {
    onQueued();
    return result;
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      switch (property) {
        case 'enqueueRun':
        case 'queueWatchedFileRun':
        case 'retryWatchedFileRun':
          return async (...args: unknown[]) => announce(await method.apply(target, args));
        case 'createRun':
        case 'updateRun':
          return async (...args: unknown[]) => {
            const result = await method.apply(target, args);
            const written = property === 'createRun' ? args[0] : args[1];
            if (isQueued(written)) onQueued();
            return result;
          };
        default:
          return method.bind(target);
      }
    },
  });
}

function isQueued(written: unknown): boolean {
  return (
    typeof written === 'object' && written !== null && 'status' in written && written.status === 'queued'
  );
}
