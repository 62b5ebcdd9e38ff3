/** Assertions shared by tests of steps and the engine. */
import assert from 'node:assert/strict';
import { PwError } from '../core/errors/pw-error.js';

/** Narrows to PwError, failing the test with what was thrown instead. */
export function asPwError(error: unknown): PwError {
  assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
  return error;
}

/** Expects the promise to reject and hands the error to `check` for assertions. */
export async function rejectsWith(check: (error: unknown) => void, promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error) => {
    check(error);
    return true;
  });
}
