/**
 * The state store as a running run sees it: when the store cannot be reached (a PostgreSQL server
 * restarting, a network blip), a run's bookkeeping waits for it to come back instead of failing work
 * that is going fine. Every call that fails with PW_STORE_UNREACHABLE is repeated with backoff until it
 * succeeds or `maxWaitMs` has passed since the first failure; other errors pass through at once.
 *
 * This is safe because what a run writes is idempotent when repeated: updates set the same values,
 * a step attempt's start ignores a row already inserted, and reads have no effect. Log lines do not
 * come through here: the run log writes them to its fallback file instead of waiting.
 */
import { PwError } from '../core/errors/pw-error.js';
import type { StateStore } from '../store/state-store.js';

export interface PatienceOptions {
  /** Longest wait for one call (default 10 minutes); then the last error is thrown. */
  maxWaitMs?: number;
  /** First delay between attempts (default 250 ms), doubled up to `maxDelayMs` (default 5 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Told once per outage when it starts and when the store answers again. */
  onOutage?: (
    event: { state: 'waiting'; operation: string; error: PwError } | { state: 'back'; waitedMs: number },
  ) => void;
}

export const DEFAULT_STORE_PATIENCE_MS = 10 * 60_000;

export function patientStore(store: StateStore, options: PatienceOptions = {}): StateStore {
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_STORE_PATIENCE_MS;
  const initialDelayMs = options.initialDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  let outageStartedAt: number | undefined;

  const patiently = async (operation: string, call: () => Promise<unknown>): Promise<unknown> => {
    let firstFailureAt: number | undefined;
    for (let failures = 0; ; failures += 1) {
      try {
        const result = await call();
        if (outageStartedAt !== undefined) {
          options.onOutage?.({ state: 'back', waitedMs: Date.now() - outageStartedAt });
          outageStartedAt = undefined;
        }
        return result;
      } catch (error) {
        if (!(error instanceof PwError) || error.code !== 'PW_STORE_UNREACHABLE') throw error;
        const now = Date.now();
        firstFailureAt ??= now;
        if (outageStartedAt === undefined) {
          outageStartedAt = now;
          options.onOutage?.({ state: 'waiting', operation, error });
        }
        if (now - firstFailureAt >= maxWaitMs) throw error;
        const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** failures);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };

  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'close' || property === 'migrate') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => patiently(String(property), () => method.apply(target, args));
    },
  });
}
