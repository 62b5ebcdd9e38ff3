/**
 * The DAG runner alone: order, the concurrency bound, stopping after a failure or an abort, and
 * skipping nodes a resumed run already finished. Nodes are controlled by hand-resolved promises, so
 * every assertion is about what started when, never about how long something took.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { runDag, type DagNode } from './dag-runner.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const node = (id: string, ...dependsOn: string[]): DagNode => ({ id, dependsOn });
const neverAborted = () => new AbortController().signal;

/** Waits until `condition` holds, checking after each macrotask; fails instead of hanging. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i += 1) {
    if (condition()) return;
    await delay(1);
  }
  assert.fail(`timed out waiting until ${what}`);
}

describe('runDag', () => {
  it('starts a node only after every node it depends on has succeeded', async () => {
    const events: string[] = [];
    const outcome = await runDag({
      // Listed out of order on purpose: the runner must go by dependencies, not by position.
      nodes: [node('d', 'b', 'c'), node('b', 'a'), node('c', 'a'), node('a')],
      concurrency: 4,
      signal: neverAborted(),
      execute: async (id) => {
        events.push(`start ${id}`);
        await delay(id === 'b' ? 15 : 1);
        events.push(`end ${id}`);
      },
    });
    for (const [child, parents] of [
      ['b', ['a']],
      ['c', ['a']],
      ['d', ['b', 'c']],
    ] as const) {
      for (const parent of parents) {
        assert.ok(
          events.indexOf(`end ${parent}`) < events.indexOf(`start ${child}`),
          `${child} started before ${parent} finished: ${events.join(', ')}`,
        );
      }
    }
    // b and c share a parent and nothing else: they run side by side.
    assert.ok(events.indexOf('start c') < events.indexOf('end b'), events.join(', '));
    assert.deepEqual([...outcome.succeeded].sort(), ['a', 'b', 'c', 'd']);
    assert.deepEqual(outcome.failed, []);
    assert.deepEqual(outcome.notRun, []);
  });

  it('never runs more nodes at once than the concurrency bound, and uses all of it', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const nodes = Array.from({ length: 12 }, (_, i) => node(`n${i}`));
    const outcome = await runDag({
      nodes,
      concurrency: 3,
      signal: neverAborted(),
      execute: async (id) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await delay(1 + (Number(id.slice(1)) % 4));
        inFlight -= 1;
      },
    });
    assert.equal(maxInFlight, 3);
    assert.equal(outcome.succeeded.length, 12);
  });

  it('starts nothing new after a failure, lets running nodes finish, and lists the rest as not run', async () => {
    const gates = new Map(['a', 'b', 'c', 'd'].map((id) => [id, deferred()]));
    const started: string[] = [];
    const finished: string[] = [];
    const boom = new Error('a broke');
    const running = runDag({
      nodes: [node('a'), node('b'), node('c'), node('d', 'a')],
      concurrency: 2,
      signal: neverAborted(),
      execute: async (id) => {
        started.push(id);
        await gates.get(id)!.promise;
        finished.push(id);
      },
    });
    await until(() => started.length === 2, 'a and b run');
    assert.deepEqual(started, ['a', 'b']);
    gates.get('a')!.reject(boom);
    await delay(5);
    // c had a free slot after a failed, but the run is stopping; b is still running and not cut off.
    assert.deepEqual(started, ['a', 'b']);
    gates.get('b')!.resolve();
    const outcome = await running;
    assert.deepEqual(started, ['a', 'b']);
    assert.deepEqual(finished, ['b']);
    assert.deepEqual(outcome.succeeded, ['b']);
    assert.deepEqual(outcome.failed, [{ id: 'a', error: boom }]);
    assert.deepEqual(outcome.notRun, ['c', 'd']);
  });

  it('starts no new node once the signal aborts, but waits for the running one', async () => {
    const controller = new AbortController();
    const gate = deferred();
    const started: string[] = [];
    const running = runDag({
      nodes: [node('a'), node('b', 'a'), node('c')],
      concurrency: 1,
      signal: controller.signal,
      execute: async (id) => {
        started.push(id);
        if (id === 'a') await gate.promise;
      },
    });
    await until(() => started.length === 1, 'a runs');
    controller.abort();
    gate.resolve();
    const outcome = await running;
    assert.deepEqual(started, ['a']);
    assert.deepEqual(outcome.succeeded, ['a']);
    assert.deepEqual(outcome.notRun, ['b', 'c']);
  });

  it('starts nothing at all when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const started: string[] = [];
    const outcome = await runDag({
      nodes: [node('a'), node('b')],
      concurrency: 2,
      signal: controller.signal,
      execute: async (id) => {
        started.push(id);
      },
    });
    assert.deepEqual(started, []);
    assert.deepEqual(outcome, { succeeded: [], failed: [], notRun: ['a', 'b'] });
  });

  it('skips nodes already done and runs their dependents', async () => {
    const started: string[] = [];
    const outcome = await runDag({
      nodes: [node('a'), node('b', 'a'), node('c', 'b')],
      concurrency: 2,
      signal: neverAborted(),
      alreadyDone: new Set(['a']),
      execute: async (id) => {
        started.push(id);
      },
    });
    assert.deepEqual(started, ['b', 'c']);
    assert.deepEqual(outcome.succeeded, ['b', 'c']);
    assert.deepEqual(outcome.notRun, []);
  });

  it('reports a node whose dependency can never succeed as not run instead of waiting forever', async () => {
    const outcome = await runDag({
      nodes: [node('a'), node('b', 'missing')],
      concurrency: 2,
      signal: neverAborted(),
      execute: async () => undefined,
    });
    assert.deepEqual(outcome, { succeeded: ['a'], failed: [], notRun: ['b'] });
  });
});
