/**
 * `max_active_runs` and `overlap` against a real SQLite store: the scheduler skips slots with
 * `overlap: skip` (injected clock), the limits are read from the latest revisions, and a worker with
 * free slots leaves a pipeline at its limit queued.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { defineStep } from '../core/step.js';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { projectSchema } from '../core/spec/project-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import type { Project } from '../project/load-project.js';
import { StepRegistry } from '../steps/registry.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { StateStore } from '../store/state-store.js';
import { PipelineSettings } from './pipeline-settings.js';
import { Scheduler } from './scheduler-loop.js';
import { Worker } from './worker.js';

const release = new Map<string, () => void>();
const gateStep = defineStep({
  type: 'test.gate',
  kind: 'custom',
  description: 'Waits until the test releases the run.',
  config: z.strictObject({}),
  producesDataset: false,
  async run(ctx) {
    await new Promise<void>((resolve) => release.set(ctx.run.id, resolve));
    return { rows: 0 };
  },
});

let root: string;
let counter = 0;
const opened: StateStore[] = [];
const workers: Worker[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-overlap-'));
});
after(async () => {
  for (const resolve of release.values()) resolve();
  await Promise.all(workers.map((worker) => worker.stop(0)));
  for (const store of opened) await store.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

async function freshStore(): Promise<StateStore> {
  counter += 1;
  const store = await openSqliteStore(join(root, `case-${counter}`, 'state.db'));
  opened.push(store);
  return store;
}

async function save(store: StateStore, raw: Record<string, unknown>, at = '2026-03-02T09:00:00Z') {
  const spec = pipelineSchema.parse({ steps: [{ id: 'q', uses: 'test.gate' }], ...raw });
  await store.savePipelineRevision({
    pipelineId: spec.id,
    hash: definitionHash(spec),
    definition: spec,
    sourcePath: `pipelines/${spec.id}.yaml`,
    at: new Date(at),
  });
}

function clockAt(iso: string): { now: () => Date; set: (iso: string) => void } {
  let current = new Date(iso);
  return { now: () => new Date(current), set: (next) => (current = new Date(next)) };
}

describe('overlap', () => {
  it('with overlap: skip, a slot is not queued while max_active_runs runs are active, and not later either', async () => {
    const store = await freshStore();
    await save(store, {
      id: 'hourly',
      schedule: { cron: '0 * * * *', catchup: 'latest' },
      max_active_runs: 1,
      overlap: 'skip',
    });
    const clock = clockAt('2026-03-02T10:00:00Z');
    const lines: string[] = [];
    const scheduler = new Scheduler({
      store,
      projectTimezone: 'UTC',
      pipelineIds: () => ['hourly'],
      clock: clock.now,
      log: (level, message) => lines.push(`${level} ${message}`),
    });
    const first = await scheduler.tick();
    assert.equal(first.queued.length, 1);

    clock.set('2026-03-02T11:00:00Z');
    const second = await scheduler.tick();
    assert.equal(second.queued.length, 0);
    assert.deepEqual(
      second.overlapSkipped.map((entry) => entry.slot.toISOString()),
      ['2026-03-02T11:00:00.000Z'],
    );
    assert.ok(
      lines.some((line) => line.startsWith('warn hourly: slot 2026-03-02T11:00:00.000Z skipped')),
      lines.join('\n'),
    );

    // The first run ends; the skipped slot is not caught up, the next one is queued.
    await store.updateRun(first.queued[0]?.id as string, { status: 'succeeded', finishedAt: clock.now() });
    clock.set('2026-03-02T11:00:30Z');
    assert.equal((await scheduler.tick()).queued.length, 0);
    clock.set('2026-03-02T12:00:00Z');
    const third = await scheduler.tick();
    assert.deepEqual(
      third.queued.map((run) => run.scheduledFor.toISOString()),
      ['2026-03-02T12:00:00.000Z'],
    );
  });

  it('with overlap: queue (the default), every slot is queued and waits its turn', async () => {
    const store = await freshStore();
    await save(store, { id: 'hourly', schedule: { cron: '0 * * * *' }, max_active_runs: 1 });
    const clock = clockAt('2026-03-02T10:00:00Z');
    const scheduler = new Scheduler({
      store,
      projectTimezone: 'UTC',
      pipelineIds: () => ['hourly'],
      clock: clock.now,
    });
    await scheduler.tick();
    clock.set('2026-03-02T11:00:00Z');
    const second = await scheduler.tick();
    assert.equal(second.queued.length, 1);
    assert.equal(second.overlapSkipped.length, 0);
    assert.equal(await store.countRuns({ pipelineId: 'hourly', status: 'queued' }), 2);
  });

  it('reads the limits from the latest revisions', async () => {
    const store = await freshStore();
    await save(store, { id: 'a', max_active_runs: 2 });
    await save(store, { id: 'b' });
    const limits = new PipelineSettings(store, () => ['a', 'b', 'missing'], 0);
    assert.deepEqual(await limits.current(), { a: 2 });
    await save(store, { id: 'a', max_active_runs: 3 });
    await save(store, { id: 'b', max_active_runs: 1 });
    assert.deepEqual(await limits.current(), { a: 3, b: 1 });
  });

  it('a worker with free slots leaves a pipeline at max_active_runs queued', async () => {
    const store = await freshStore();
    await save(store, { id: 'limited', max_active_runs: 1 });
    const dir = join(root, `project-${counter}`);
    await mkdir(dir, { recursive: true });
    const project: Project = {
      dir,
      file: join(dir, 'pipewright.yaml'),
      spec: projectSchema.parse({ duckdb: { memory_limit: '256MB', threads: 1 } }),
      registry: new StepRegistry([gateStep]),
    };
    const now = new Date();
    for (const id of ['lim-1', 'lim-2']) {
      await store.enqueueRun({
        id,
        pipelineId: 'limited',
        revision: 1,
        status: 'queued',
        trigger: 'manual:test',
        params: {},
        scheduledFor: now,
        queuedAt: now,
      });
    }
    const worker = new Worker({
      store,
      project,
      concurrency: 2,
      pollMs: 20,
      leaseMs: 3_000,
      env: {},
      pipelineIds: () => ['limited'],
    });
    workers.push(worker);
    worker.start();
    const until = async (what: string, condition: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!condition()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await delay(20);
      }
    };
    await until('the first run to start', () => release.has('lim-1'));
    await delay(400);
    assert.equal((await store.getRun('lim-2'))?.status, 'queued', 'the second run waits for the first');
    assert.equal(worker.running, 1);
    release.get('lim-1')?.();
    await until('the second run to start', () => release.has('lim-2'));
    release.get('lim-2')?.();
    await worker.stop();
    assert.equal((await store.getRun('lim-1'))?.status, 'succeeded');
    assert.equal((await store.getRun('lim-2'))?.status, 'succeeded');
  });
});
