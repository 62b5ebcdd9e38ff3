/**
 * The one mapping from outcomes to exit codes: 0 success, 1 a run failed (or was cancelled), 2 the
 * input or usage was invalid so nothing ran, 3 an operational or internal fault outside a run.
 */
import type { PwError } from '../core/errors/pw-error.js';

export const EXIT = { ok: 0, runFailed: 1, invalid: 2, fault: 3 } as const;

/** For errors raised before or outside a run. */
export function exitCodeFor(error: PwError): number {
  return error.kind === 'user' ? EXIT.invalid : EXIT.fault;
}
