/**
 * Upstream triggers (`after:`) against a real SQLite store: unknown ids and cycles are refused when
 * definitions are synced, and a successful run executed by a real worker queues (and the worker runs)
 * every pipeline listing it in `after`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { projectSchema } from '../core/spec/project-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import { loadProject, type Project } from '../project/load-project.js';
import { StepRegistry } from '../steps/registry.js';
import { sqlStep } from '../steps/transform/sql.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { StateStore } from '../store/state-store.js';
import { checkAfter, DefinitionSync } from './definitions.js';
import { Worker } from './worker.js';

let root: string;
let counter = 0;
const opened: StateStore[] = [];
const workers: Worker[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-upstream-'));
});
after(async () => {
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

const file = (id: string, extra = '') =>
  `id: ${id}\n${extra}steps:\n  - id: q\n    uses: sql\n    with: { query: "SELECT 1 AS one" }\n`;

describe('after: checks across pipelines', () => {
  it('reports unknown ids and cycles, self-references included', () => {
    const problems = checkAfter(
      ['a', 'b', 'c', 'd', 'e'],
      [
        { id: 'a', after: [] },
        { id: 'b', after: ['a', 'ghost'] },
        { id: 'c', after: ['d'] },
        { id: 'd', after: ['c'] },
        { id: 'e', after: ['e'] },
      ],
    );
    assert.deepEqual([...problems.keys()].sort(), ['b', 'c', 'd', 'e']);
    assert.match(problems.get('b') ?? '', /no pipeline 'ghost'/);
    assert.match(problems.get('c') ?? '', /PW_SPEC_CYCLE .*c → d → c/);
    assert.match(problems.get('e') ?? '', /e → e/);
  });

  it('a sync refuses a file naming an unknown pipeline, and its last valid revision keeps running', async () => {
    counter += 1;
    const dir = join(root, `project-${counter}`);
    await mkdir(join(dir, 'pipelines'), { recursive: true });
    await writeFile(join(dir, 'pipewright.yaml'), 'name: test\ntimezone: UTC\nstate: .pipewright/state.db\n');
    await writeFile(join(dir, 'pipelines', 'a.yaml'), file('a'));
    await writeFile(join(dir, 'pipelines', 'b.yaml'), file('b', 'after: [a]\n'));
    const store = await freshStore();
    const lines: string[] = [];
    const sync = new DefinitionSync({
      project: await loadProject(dir),
      store,
      log: (level, message) => lines.push(`${level} ${message}`),
    });
    assert.deepEqual((await sync.sync()).stored.sort(), ['a', 'b']);

    await writeFile(join(dir, 'pipelines', 'b.yaml'), file('b', 'after: [a, ghost]\n'));
    assert.deepEqual((await sync.sync()).stored, []);
    const state = await store.getPipelineState('b');
    assert.match(
      state?.invalidReason ?? '',
      /^pipelines\/b\.yaml PW_SPEC_INVALID after: no pipeline 'ghost'/,
    );
    assert.ok(
      lines.some((line) => /^warn b: .*ghost.*; revision 1 keeps running$/.test(line)),
      lines.join('\n'),
    );
    assert.deepEqual(sync.scheduledIds().sort(), ['a', 'b']);

    await writeFile(join(dir, 'pipelines', 'a.yaml'), file('a', 'after: [b]\n'));
    await writeFile(join(dir, 'pipelines', 'b.yaml'), file('b', 'after: [a]\n'));
    await sync.sync();
    assert.match((await store.getPipelineState('a'))?.invalidReason ?? '', /PW_SPEC_CYCLE/);
    assert.match((await store.getPipelineState('b'))?.invalidReason ?? '', /PW_SPEC_CYCLE/);
  });
});

describe('after: triggers', () => {
  it('a successful run queues every downstream pipeline, and the worker runs them', async () => {
    const store = await freshStore();
    const specs = [
      pipelineSchema.parse({
        id: 'up',
        steps: [{ id: 'q', uses: 'sql', with: { query: 'SELECT 1 AS one' } }],
      }),
      pipelineSchema.parse({
        id: 'down',
        after: ['up'],
        params: { region: { default: 'north' } },
        steps: [{ id: 'q', uses: 'sql', with: { query: 'SELECT 2 AS two' } }],
      }),
      pipelineSchema.parse({
        id: 'unrelated',
        steps: [{ id: 'q', uses: 'sql', with: { query: 'SELECT 3 AS three' } }],
      }),
    ];
    for (const spec of specs) {
      await store.savePipelineRevision({
        pipelineId: spec.id,
        hash: definitionHash(spec),
        definition: spec,
        sourcePath: `pipelines/${spec.id}.yaml`,
        at: new Date(),
      });
    }
    const dir = join(root, `worker-project-${counter}`);
    await mkdir(dir, { recursive: true });
    const project: Project = {
      dir,
      file: join(dir, 'pipewright.yaml'),
      spec: projectSchema.parse({ duckdb: { memory_limit: '256MB', threads: 1 } }),
      registry: new StepRegistry([sqlStep]),
    };
    const scheduledFor = new Date('2026-03-02T06:00:00Z');
    const upstream = await store.enqueueRun({
      id: 'up-1',
      pipelineId: 'up',
      revision: 1,
      status: 'queued',
      trigger: 'schedule',
      params: {},
      scheduledFor,
      queuedAt: new Date(),
    });
    assert.ok(upstream);
    const lines: string[] = [];
    const worker = new Worker({
      store,
      project,
      pollMs: 20,
      leaseMs: 3_000,
      env: {},
      pipelineIds: () => ['up', 'down', 'unrelated'],
      log: (level, message) => lines.push(`${level} ${message}`),
    });
    workers.push(worker);
    worker.start();
    const deadline = Date.now() + 15_000;
    let downstreamDone = false;
    while (!downstreamDone) {
      if (Date.now() > deadline) assert.fail(`timed out; log:\n${lines.join('\n')}`);
      await delay(20);
      const runs = await store.listRuns({ pipelineId: 'down' });
      downstreamDone = runs.length === 1 && runs[0]?.status === 'succeeded';
    }
    await worker.stop();
    const [down] = await store.listRuns({ pipelineId: 'down' });
    assert.equal(down?.trigger, 'after:up:up-1');
    assert.deepEqual(down?.params, { region: 'north' });
    assert.equal(down?.scheduledFor.toISOString(), scheduledFor.toISOString());
    assert.equal(await store.countRuns({ pipelineId: 'unrelated' }), 0);
    assert.ok(
      lines.some((line) => line.includes('down: queued run')),
      lines.join('\n'),
    );
  });
});
