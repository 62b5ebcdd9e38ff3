/**
 * The scheduler loop against a real SQLite store in a temporary folder, with an injected clock:
 * normal operation, downtime under each catch-up policy, paused pipelines, an invalid edit that
 * leaves the previous revision running, racing schedulers, and lost leases.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import { loadProject } from '../project/load-project.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { RunRecord, StateStore } from '../store/state-store.js';
import { DefinitionSync } from './definitions.js';
import { Scheduler, type SchedulerOptions } from './scheduler-loop.js';

let root: string;
let counter = 0;
const opened: StateStore[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-scheduler-'));
});
after(async () => {
  for (const store of opened) await store.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

async function freshStore(): Promise<{ store: StateStore; path: string }> {
  counter += 1;
  const path = join(root, `case-${counter}`, 'state.db');
  const store = await openSqliteStore(path);
  opened.push(store);
  return { store, path };
}

async function openAgain(path: string): Promise<StateStore> {
  const store = await openSqliteStore(path);
  opened.push(store);
  return store;
}

/** A settable clock. */
function clockAt(iso: string): { now: () => Date; set: (iso: string) => void } {
  let current = new Date(iso);
  return { now: () => new Date(current), set: (next) => (current = new Date(next)) };
}

function definition(
  id: string,
  schedule: Record<string, unknown> | undefined,
  extra: Record<string, unknown> = {},
) {
  return pipelineSchema.parse({
    id,
    ...(schedule ? { schedule } : {}),
    steps: [{ id: 'q', uses: 'sql', with: { query: 'SELECT 1 AS one' } }],
    ...extra,
  });
}

async function savePipeline(store: StateStore, spec: ReturnType<typeof definition>, at: string) {
  return store.savePipelineRevision({
    pipelineId: spec.id,
    hash: definitionHash(spec),
    definition: spec,
    sourcePath: `pipelines/${spec.id}.yaml`,
    at: new Date(at),
  });
}

function scheduler(
  store: StateStore,
  ids: string[],
  clock: () => Date,
  lines: string[] = [],
  extra: Partial<SchedulerOptions> = {},
) {
  return new Scheduler({
    store,
    projectTimezone: 'UTC',
    pipelineIds: () => ids,
    clock,
    log: (level, message) => lines.push(`${level} ${message}`),
    ...extra,
  });
}

async function scheduledSlots(store: StateStore, pipelineId: string): Promise<string[]> {
  const runs = await store.listRuns({ pipelineId, limit: 10_000 });
  return runs
    .filter((run) => run.trigger === 'schedule')
    .map((run) => run.scheduledFor.toISOString())
    .sort();
}

const slots = (runs: readonly RunRecord[]) => runs.map((run) => run.scheduledFor.toISOString()).sort();

describe('scheduler loop', () => {
  it('queues each due slot once, with the latest revision, the parameter defaults and trigger schedule', async () => {
    const { store } = await freshStore();
    const spec = definition(
      'hourly',
      { cron: '0 * * * *', catchup: 'none' },
      { params: { low: { type: 'number', default: 25 } } },
    );
    await savePipeline(store, spec, '2026-03-02T09:30:00Z');
    const clock = clockAt('2026-03-02T09:30:00Z');
    const loop = scheduler(store, ['hourly'], clock.now);

    const first = await loop.tick();
    assert.deepEqual(first.queued, [], 'nothing is due between creation and the next slot');
    assert.equal(first.next?.toISOString(), '2026-03-02T10:00:00.000Z');

    clock.set('2026-03-02T10:00:00.200Z');
    const due = await loop.tick();
    assert.deepEqual(slots(due.queued), ['2026-03-02T10:00:00.000Z']);
    const [run] = due.queued;
    assert.equal(run?.status, 'queued');
    assert.equal(run?.trigger, 'schedule');
    assert.equal(run?.revision, 1);
    assert.deepEqual(run?.params, { low: 25 });

    clock.set('2026-03-02T10:00:10Z');
    assert.deepEqual((await loop.tick()).queued, [], 'a slot is queued once');
    assert.deepEqual(await scheduledSlots(store, 'hourly'), ['2026-03-02T10:00:00.000Z']);
  });

  it('after three days of downtime: none skips the missed slots, latest queues the newest, all queues up to max_catchup', async () => {
    const { store } = await freshStore();
    const created = '2026-03-02T09:30:00Z';
    await savePipeline(store, definition('p-none', { cron: '0 * * * *', catchup: 'none' }), created);
    await savePipeline(store, definition('p-latest', { cron: '0 * * * *', catchup: 'latest' }), created);
    await savePipeline(
      store,
      definition('p-all', { cron: '0 * * * *', catchup: 'all', max_catchup: 5 }),
      created,
    );
    const ids = ['p-none', 'p-latest', 'p-all'];
    const clock = clockAt('2026-03-02T10:00:01Z');
    const lines: string[] = [];
    const before = scheduler(store, ids, clock.now, lines);
    await before.tick();
    for (const id of ids)
      assert.ok((await scheduledSlots(store, id)).includes('2026-03-02T10:00:00.000Z'), id);

    // The process is down from 10:00 until three days later at 10:30 (half an hour past a slot); a new
    // scheduler instance starts with only the store to go on.
    clock.set('2026-03-05T10:30:00Z');
    const afterRestart = scheduler(store, ids, clock.now, lines);
    const result = await afterRestart.tick();
    const byPipeline = (id: string) => slots(result.queued.filter((run) => run.pipelineId === id));
    assert.deepEqual(byPipeline('p-none'), [], 'none: a slot 30 min late is past its grace');
    assert.deepEqual(byPipeline('p-latest'), ['2026-03-05T10:00:00.000Z']);
    assert.deepEqual(byPipeline('p-all'), [
      '2026-03-05T06:00:00.000Z',
      '2026-03-05T07:00:00.000Z',
      '2026-03-05T08:00:00.000Z',
      '2026-03-05T09:00:00.000Z',
      '2026-03-05T10:00:00.000Z',
    ]);
    assert.ok(
      lines.some((line) => /^warn p-none: 72 missed slots not queued \(catchup: none\)/.test(line)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) => /^warn p-latest: 71 missed slots not queued \(catchup: latest\)/.test(line)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) =>
        /^warn p-all: 67 missed slots not queued \(catchup: all, max_catchup 5\)/.test(line),
      ),
      lines.join('\n'),
    );

    // The drop is reported once, not on every tick while nothing new is due.
    const warnings = lines.length;
    clock.set('2026-03-05T10:30:15Z');
    await afterRestart.tick();
    assert.equal(lines.length, warnings, lines.slice(warnings).join('\n'));

    // Back to normal: the next slot is queued by every policy.
    clock.set('2026-03-05T11:00:00.100Z');
    const next = await afterRestart.tick();
    assert.deepEqual(
      next.queued.map((run) => `${run.pipelineId} ${run.scheduledFor.toISOString()}`).sort(),
      ids.map((id) => `${id} 2026-03-05T11:00:00.000Z`).sort(),
    );
  });

  it('none still queues a slot that is due within the grace window after a restart', async () => {
    const { store } = await freshStore();
    await savePipeline(
      store,
      definition('p', { cron: '0 8 * * *', catchup: 'none' }),
      '2026-03-01T00:00:00Z',
    );
    const clock = clockAt('2026-03-04T08:00:20Z');
    const result = await scheduler(store, ['p'], clock.now).tick();
    assert.deepEqual(slots(result.queued), ['2026-03-04T08:00:00.000Z']);
  });

  it('latest runs a new pipeline once at start-up with its most recent slot, as the demo does', async () => {
    const { store } = await freshStore();
    await savePipeline(
      store,
      definition('weekly', { cron: '0 8 * * 1', timezone: 'Europe/Berlin', catchup: 'latest' }),
      '2026-03-04T12:00:00Z',
    );
    const clock = clockAt('2026-03-04T12:00:05Z');
    const result = await scheduler(store, ['weekly'], clock.now).tick();
    // Monday 2026-03-02 08:00 in Berlin (CET, UTC+1).
    assert.deepEqual(slots(result.queued), ['2026-03-02T07:00:00.000Z']);
  });

  it('a paused pipeline queues nothing; resumed, its missed slots follow its catch-up policy', async () => {
    const { store } = await freshStore();
    await savePipeline(
      store,
      definition('p', { cron: '*/10 * * * *', catchup: 'latest' }),
      '2026-03-02T09:55:00Z',
    );
    await store.setPipelinePaused('p', true);
    const clock = clockAt('2026-03-02T10:00:01Z');
    const loop = scheduler(store, ['p'], clock.now);
    for (const at of ['2026-03-02T10:00:01Z', '2026-03-02T10:10:01Z', '2026-03-02T10:20:01Z']) {
      clock.set(at);
      assert.deepEqual((await loop.tick()).queued, [], at);
    }
    assert.equal(await store.countRuns({ pipelineId: 'p' }), 0);

    await store.setPipelinePaused('p', false);
    clock.set('2026-03-02T10:25:00Z');
    assert.deepEqual(slots((await loop.tick()).queued), ['2026-03-02T10:20:00.000Z']);
  });

  it('pipelines without a schedule, without a revision or not listed are left alone', async () => {
    const { store } = await freshStore();
    await savePipeline(store, definition('manual', undefined), '2026-03-01T00:00:00Z');
    await savePipeline(store, definition('unlisted', { cron: '* * * * *' }), '2026-03-01T00:00:00Z');
    const clock = clockAt('2026-03-02T10:00:01Z');
    const result = await scheduler(store, ['manual', 'missing'], clock.now).tick();
    assert.deepEqual(result.queued, []);
    assert.equal(await store.countRuns(), 0);
  });

  it('a pipeline whose scheduled runs lack a required parameter is reported once and queues nothing', async () => {
    const { store } = await freshStore();
    const spec = definition(
      'needs-param',
      { cron: '* * * * *', catchup: 'latest' },
      { params: { site: { type: 'string', required: true } } },
    );
    await savePipeline(store, spec, '2026-03-02T09:00:00Z');
    const clock = clockAt('2026-03-02T10:00:01Z');
    const lines: string[] = [];
    const loop = scheduler(store, ['needs-param'], clock.now, lines);
    await loop.tick();
    clock.set('2026-03-02T10:01:01Z');
    await loop.tick();
    assert.equal(await store.countRuns(), 0);
    assert.equal(
      lines.filter((line) => line.includes('cannot queue scheduled runs')).length,
      1,
      lines.join('\n'),
    );
  });

  it('two schedulers ticking at once (separate connections) queue each slot exactly once', async () => {
    const { store, path } = await freshStore();
    const other = await openAgain(path);
    await savePipeline(
      store,
      definition('race-all', { cron: '*/5 * * * *', catchup: 'all', max_catchup: 50 }),
      '2026-03-02T00:00:00Z',
    );
    await savePipeline(
      store,
      definition('race-latest', { cron: '* * * * *', catchup: 'latest' }),
      '2026-03-02T00:00:00Z',
    );
    const ids = ['race-all', 'race-latest'];
    const clock = clockAt('2026-03-02T00:00:00Z');
    const a = scheduler(store, ids, clock.now);
    const b = scheduler(other, ids, clock.now);
    let queuedByTicks = 0;
    for (const at of [
      '2026-03-02T00:00:30Z',
      '2026-03-02T03:00:00Z',
      '2026-03-02T03:00:00.500Z',
      '2026-03-02T03:05:02Z',
      '2026-03-02T09:00:00Z',
    ]) {
      clock.set(at);
      const results = await Promise.all([a.tick(), b.tick(), a.tick()]);
      // a.tick() twice at once shares one pass: count each pass once.
      queuedByTicks += results[0].queued.length + results[1].queued.length;
    }
    for (const id of ids) {
      const found = await scheduledSlots(store, id);
      assert.equal(new Set(found).size, found.length, `${id}: a slot was queued twice: ${found.join(', ')}`);
    }
    assert.equal(
      await store.countRuns(),
      queuedByTicks,
      'every queued run was reported by exactly one scheduler',
    );
    const all = await scheduledSlots(store, 'race-all');
    assert.equal(all.at(-1), '2026-03-02T09:00:00.000Z');
    assert.ok(all.length > 50, `race-all queued ${all.length} slots`);
  });

  it('returns runs whose worker lost its lease to the queue, and fails them after the last attempt', async () => {
    const { store } = await freshStore();
    await savePipeline(store, definition('p', undefined), '2026-03-02T00:00:00Z');
    const clock = clockAt('2026-03-02T10:00:00Z');
    await store.enqueueRun({
      id: 'run-lost-1',
      pipelineId: 'p',
      revision: 1,
      status: 'queued',
      trigger: 'manual:test',
      params: {},
      scheduledFor: clock.now(),
      queuedAt: clock.now(),
    });
    const lines: string[] = [];
    const loop = scheduler(store, ['p'], clock.now, lines, { maxRunAttempts: 2 });
    const claimed = await store.claimRun({ workerId: 'w1', now: clock.now(), leaseMs: 1_000 });
    assert.equal(claimed?.id, 'run-lost-1');
    clock.set('2026-03-02T10:00:00.500Z');
    assert.deepEqual((await loop.tick()).requeued, [], 'the lease has not expired yet');

    clock.set('2026-03-02T10:00:02Z');
    const first = await loop.tick();
    assert.deepEqual(
      first.requeued.map((run) => [run.id, run.status, run.attempt]),
      [['run-lost-1', 'queued', 2]],
    );
    assert.ok(
      lines.some((line) => line.includes('requeued as attempt 2')),
      lines.join('\n'),
    );

    await store.claimRun({ workerId: 'w2', now: clock.now(), leaseMs: 1_000 });
    clock.set('2026-03-02T10:00:04Z');
    const second = await loop.tick();
    assert.deepEqual(
      second.failed.map((run) => [run.id, run.status, run.error?.code]),
      [['run-lost-1', 'failed', 'PW_PROCESS_LOST']],
    );
  });
});

describe('definitions in the store', () => {
  async function project(files: Record<string, string>): Promise<string> {
    counter += 1;
    const dir = join(root, `project-${counter}`);
    await mkdir(join(dir, 'pipelines'), { recursive: true });
    await writeFile(join(dir, 'pipewright.yaml'), 'name: test\ntimezone: UTC\nstate: .pipewright/state.db\n');
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'pipelines', name), text);
    return dir;
  }

  const hourly = (cron: string) =>
    `id: p\nschedule: { cron: "${cron}", catchup: latest }\nsteps:\n  - id: q\n    uses: sql\n    with: { query: "SELECT 1 AS one" }\n`;

  it('an invalid edit is reported with a one-line reason and the previous revision keeps being scheduled', async () => {
    const dir = await project({ 'p.yaml': hourly('0 * * * *') });
    const loaded = await loadProject(dir);
    const { store } = await freshStore();
    const clock = clockAt('2026-03-02T09:30:00Z');
    const lines: string[] = [];
    const sync = new DefinitionSync({
      project: loaded,
      store,
      clock: clock.now,
      log: (level, message) => lines.push(`${level} ${message}`),
    });
    const first = await sync.sync();
    assert.deepEqual(first.stored, ['p']);
    assert.equal((await store.latestPipelineRevision('p'))?.revision, 1);

    // An unchanged file (even reformatted) stores nothing new.
    await writeFile(join(dir, 'pipelines', 'p.yaml'), `# a comment\n${hourly('0 * * * *')}`);
    assert.deepEqual((await sync.sync()).stored, []);

    await writeFile(join(dir, 'pipelines', 'p.yaml'), hourly('0 25 * * *'));
    clock.set('2026-03-02T09:40:00Z');
    const broken = await sync.sync();
    assert.deepEqual(broken.stored, []);
    const state = await store.getPipelineState('p');
    assert.equal(state?.invalidSince?.toISOString(), '2026-03-02T09:40:00.000Z');
    assert.match(state?.invalidReason ?? '', /^pipelines\/p\.yaml:2:\d+ PW_SPEC_CRON /);
    assert.doesNotMatch(state?.invalidReason ?? '', /\n/);
    assert.ok(
      lines.some((line) => /^warn p: .*PW_SPEC_CRON.*; revision 1 keeps running$/.test(line)),
      lines.join('\n'),
    );
    assert.equal((await store.latestPipelineRevision('p'))?.revision, 1);
    assert.deepEqual(sync.scheduledIds(), ['p']);

    clock.set('2026-03-02T10:00:01Z');
    const result = await scheduler(store, sync.scheduledIds(), clock.now).tick();
    assert.deepEqual(
      result.queued.map((run) => [run.scheduledFor.toISOString(), run.revision]),
      [['2026-03-02T10:00:00.000Z', 1]],
    );

    // Fixed with a new schedule: revision 2, the mark cleared, and the scheduler follows the new cron.
    await writeFile(join(dir, 'pipelines', 'p.yaml'), hourly('30 * * * *'));
    clock.set('2026-03-02T10:10:00Z');
    assert.deepEqual((await sync.sync()).stored, ['p']);
    assert.equal((await store.latestPipelineRevision('p'))?.revision, 2);
    assert.equal((await store.getPipelineState('p'))?.invalidSince, undefined);
    clock.set('2026-03-02T10:30:01Z');
    const loop = scheduler(store, sync.scheduledIds(), clock.now);
    assert.deepEqual(
      (await loop.tick()).queued.map((run) => [run.scheduledFor.toISOString(), run.revision]),
      [['2026-03-02T10:30:00.000Z', 2]],
    );
  });

  it('a pipeline that was never valid is marked invalid and not scheduled; a removed file is no longer listed', async () => {
    const dir = await project({ 'bad.yaml': 'id: bad\nsteps: []\n', 'p.yaml': hourly('0 * * * *') });
    const { store } = await freshStore();
    const sync = new DefinitionSync({ project: await loadProject(dir), store });
    const result = await sync.sync();
    assert.deepEqual(
      result.pipelines.map((pipeline) => [
        pipeline.id,
        pipeline.revision ?? null,
        pipeline.invalidReason !== undefined,
      ]),
      [
        ['bad', null, true],
        ['p', 1, false],
      ],
    );
    assert.ok((await store.getPipelineState('bad'))?.invalidReason);
    assert.deepEqual(sync.scheduledIds(), ['p']);

    await rm(join(dir, 'pipelines', 'p.yaml'));
    await sync.sync();
    assert.deepEqual(sync.scheduledIds(), []);
  });

  it('re-syncs by itself when a file in the pipelines folder changes', async () => {
    const dir = await project({ 'p.yaml': hourly('0 * * * *') });
    const { store } = await freshStore();
    const sync = new DefinitionSync({ project: await loadProject(dir), store, debounceMs: 50, rescanMs: 0 });
    await sync.start();
    try {
      await writeFile(join(dir, 'pipelines', 'p.yaml'), hourly('15 * * * *'));
      await writeFile(join(dir, 'pipelines', 'q.yaml'), hourly('0 * * * *').replace('id: p', 'id: q'));
      const deadline = Date.now() + 5_000;
      while (
        Date.now() < deadline &&
        ((await store.latestPipelineRevision('p'))?.revision !== 2 ||
          !(await store.latestPipelineRevision('q')))
      ) {
        await new Promise((done) => setTimeout(done, 50));
      }
      assert.equal((await store.latestPipelineRevision('p'))?.revision, 2, 'the edit was stored');
      assert.equal((await store.latestPipelineRevision('q'))?.revision, 1, 'the new file was stored');
    } finally {
      sync.stop();
      await sync.idle();
    }
  });
});
