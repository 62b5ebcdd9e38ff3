/**
 * A worker process for run-queue.test.ts: opens its own connection to the store named on the command
 * line, says it is ready, waits for the go-ahead, then claims runs and finishes them until the queue is
 * empty, and writes the ids it claimed to a JSON file. Not part of Pipewright; compiled with the tests.
 *
 *   node queue-drain.fixture.js <store path or URL> <worker id> <result file> [claim loops]
 */
import { writeFileSync } from 'node:fs';
import { openStateStore } from './open-store.js';

const [location, workerId, resultFile, loopsArgument] = process.argv.slice(2);
if (location === undefined || workerId === undefined || resultFile === undefined) {
  console.error('usage: queue-drain.fixture.js <store> <worker id> <result file> [claim loops]');
  process.exit(2);
}
const loops = Number(loopsArgument ?? '1');
const send = (message: unknown): void => {
  process.send?.(message);
};

const store = await openStateStore(location, process.cwd());
const claimed: string[] = [];
try {
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  send({ ready: workerId });
  await go;
  const started = performance.now();
  const drain = async (): Promise<void> => {
    for (;;) {
      const run = await store.claimRun({ workerId, now: new Date(), leaseMs: 60_000 });
      if (run === undefined) return;
      claimed.push(run.id);
      // Executing a trivial run: record who ran it, then finish and drop the lease.
      await store.updateRun(run.id, { host: 'test', pid: process.pid });
      await store.updateRun(run.id, {
        status: 'succeeded',
        finishedAt: new Date(),
        leaseOwner: undefined,
        leaseExpiresAt: undefined,
      });
    }
  };
  await Promise.all(Array.from({ length: loops }, drain));
  const ms = performance.now() - started;
  writeFileSync(resultFile, JSON.stringify({ workerId, ids: claimed, ms }));
} finally {
  await store.close();
  process.disconnect?.();
}
