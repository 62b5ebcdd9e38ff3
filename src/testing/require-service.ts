/**
 * Integration tests need real servers and tools (PostgreSQL, MariaDB, sshd, Chromium). Outside CI a
 * missing one skips the test and says why; under CI (CI=true) it fails the test, so a suite can never
 * pass in CI by not running. A helper for tests, not part of the product.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

/** Skips (outside CI) or fails (CI=true) test `t` because `what` is unavailable for `reason`. */
export function skipOrFailInCI(t: TestContext, what: string, reason: string): void {
  if (process.env.CI === 'true') assert.fail(`${what} is required when CI=true: ${reason}`);
  console.log(`# skipping: ${what} is unavailable: ${reason}`);
  t.skip(reason);
}
