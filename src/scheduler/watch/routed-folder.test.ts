/**
 * A routed folder for real: a project whose pipewright.yaml routes file names to two pipelines with
 * params (`table`, `sheet`) that their `sql.load` and `files.read` steps read as templates, the
 * service's folder watcher (createFolderWatcher over a definitions sync) and a worker executing the
 * runs into a SQLite target, on each state store. Every file is loaded exactly once into the table its
 * route names, also across a restart and when the same content arrives again; a file no route takes
 * stays in the folder and is logged once. Broken routes hold their files (no falling through to the
 * next route), and a pipeline trigger on a routed folder is ignored.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import ExcelJS from 'exceljs';
import { createFolderWatcher, serviceSettings } from '../../cli/service-process.js';
import { loadProject } from '../../project/load-project.js';
import type { StateStore } from '../../store/state-store.js';
import { ADAPTERS } from '../../store/test-adapters.js';
import { pipelineSchema } from '../../core/spec/pipeline-schema.js';
import { projectSchema } from '../../core/spec/project-schema.js';
import { DefinitionSync } from '../definitions.js';
import { Worker } from '../worker.js';
import { FolderWatcher } from './folder-watcher.js';

const roots: string[] = [];
after(async () => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

const PROJECT = `
duckdb: { memory_limit: 256MB, threads: 1 }
connections:
  target: { type: sqlite, path: target.db }
watch:
  - dir: incoming
    stable_for: 1s
    routes:
      - { pattern: '^orders_.*\\.csv$', pipeline: import-csv, params: { table: orders } }
      - { pattern: '^returns_.*\\.csv$', pipeline: import-csv, params: { table: returns } }
      - { pattern: '^stock_.*\\.xlsx$', pipeline: import-xlsx, params: { table: stock, sheet: Daily } }
`;

const IMPORT_CSV = `
id: import-csv
params:
  table: { type: string, required: true }
steps:
  - id: rows
    uses: files.read
    with: { path: '{{ trigger.file }}' }
  - id: load
    uses: sql.load
    with: { connection: target, input: rows, table: '{{ params.table }}', create_if_missing: true }
`;

const IMPORT_XLSX = `
id: import-xlsx
params:
  table: { type: string, required: true }
  sheet: { type: string, required: true }
steps:
  - id: rows
    uses: files.read
    with: { path: '{{ trigger.file }}', sheet: '{{ params.sheet }}' }
  - id: load
    uses: sql.load
    with: { connection: target, input: rows, table: '{{ params.table }}', create_if_missing: true }
`;

async function workbook(path: string): Promise<void> {
  const book = new ExcelJS.Workbook();
  book.addWorksheet('Summary').addRows([['note'], ['not this sheet']]);
  const daily = book.addWorksheet('Daily');
  daily.addRows([
    ['sku', 'qty'],
    ['a', 1],
    ['b', 2],
    ['c', 3],
    ['d', 4],
  ]);
  await book.xlsx.writeFile(path);
}

async function old(path: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(50);
  }
}

function rowCounts(projectDir: string): Record<string, number> {
  const db = new Database(join(projectDir, 'target.db'), { readonly: true });
  try {
    const tables = db.prepare("select name from sqlite_master where type = 'table' order by name").all() as {
      name: string;
    }[];
    return Object.fromEntries(
      tables.map(({ name }) => [
        name,
        (db.prepare(`select count(*) as n from "${name}"`).get() as { n: number }).n,
      ]),
    );
  } finally {
    db.close();
  }
}

for (const adapter of ADAPTERS) {
  describe(`routed folder: ${adapter.name}`, () => {
    test('two patterns to two pipelines with params load each file once into its table', async () => {
      const root = await mkdtemp(join(tmpdir(), 'pw-routed-'));
      roots.push(root);
      await mkdir(join(root, 'pipelines'));
      await mkdir(join(root, 'incoming'));
      await writeFile(join(root, 'pipewright.yaml'), PROJECT);
      await writeFile(join(root, 'pipelines', 'import-csv.yaml'), IMPORT_CSV);
      await writeFile(join(root, 'pipelines', 'import-xlsx.yaml'), IMPORT_XLSX);
      const incoming = join(root, 'incoming');
      await writeFile(join(incoming, 'orders_1.csv'), 'id,amount\n1,2.5\n2,3.5\n3,4.5\n');
      await writeFile(join(incoming, 'orders_2.csv'), 'id,amount\n4,1.0\n5,2.0\n');
      // The same bytes as orders_1.csv, for another table: not a duplicate.
      await writeFile(join(incoming, 'returns_1.csv'), 'id,amount\n1,2.5\n2,3.5\n3,4.5\n');
      await workbook(join(incoming, 'stock_1.xlsx'));
      await writeFile(join(incoming, 'notes.txt'), 'no route takes me');
      for (const name of await readdir(incoming)) await old(join(incoming, name));

      const store: StateStore = await adapter.open();
      const project = await loadProject(root);
      const lines: string[] = [];
      const log = (level: string, message: string) => lines.push(`${level} ${message}`);
      const definitions = new DefinitionSync({ project, store });
      const session = { project, store, settings: serviceSettings({}), storeLabel: adapter.name };
      // One run at a time: two loads into one SQLite file at once would meet SQLITE_BUSY.
      const worker = new Worker({ store, project, concurrency: 1, pollMs: 50, leaseMs: 10_000, env: {} });
      try {
        await definitions.sync();
        const watcher = createFolderWatcher(session, definitions, log);
        await watcher.scan(); // first sight
        await watcher.scan(); // arrived: claimed, moved, queued
        const queued = await store.listRuns({});
        assert.equal(queued.length, 4, lines.join('\n'));
        const byTrigger = Object.fromEntries(
          queued.map((run) => [run.trigger, { pipeline: run.pipelineId, params: run.params }]),
        );
        assert.deepEqual(byTrigger, {
          'watch:orders_1.csv': { pipeline: 'import-csv', params: { table: 'orders' } },
          'watch:orders_2.csv': { pipeline: 'import-csv', params: { table: 'orders' } },
          'watch:returns_1.csv': { pipeline: 'import-csv', params: { table: 'returns' } },
          'watch:stock_1.xlsx': { pipeline: 'import-xlsx', params: { table: 'stock', sheet: 'Daily' } },
        });
        for (const run of queued) {
          const name = run.trigger.slice('watch:'.length);
          assert.equal(run.triggerData?.file, join(incoming, 'processing', name));
        }

        worker.start();
        await until('the four runs to end', async () =>
          (await store.listRuns({})).every((run) => run.status !== 'queued' && run.status !== 'running'),
        );
        const ended = await store.listRuns({});
        assert.deepEqual(
          ended.filter((run) => run.status !== 'succeeded').map((run) => [run.trigger, run.error?.message]),
          [],
        );
        await watcher.scan(); // files the outcomes
        assert.deepEqual(rowCounts(root), { orders: 5, returns: 3, stock: 4 });
        const day = new Date().toISOString().slice(0, 10).split('-');
        assert.deepEqual((await readdir(join(incoming, 'processed', ...day))).sort(), [
          'orders_1.csv',
          'orders_2.csv',
          'returns_1.csv',
          'stock_1.xlsx',
        ]);
        assert.deepEqual(await readdir(join(incoming, 'processing')), []);
        const states = (await store.listWatchedFiles({ dir: incoming })).map((entry) => entry.state);
        assert.deepEqual(states, ['succeeded', 'succeeded', 'succeeded', 'succeeded']);

        // A restarted service finds nothing to do; the same content again is a duplicate.
        await writeFile(join(incoming, 'orders_9.csv'), 'id,amount\n4,1.0\n5,2.0\n');
        await old(join(incoming, 'orders_9.csv'));
        const restarted = createFolderWatcher(session, definitions, log);
        await restarted.scan();
        await restarted.scan();
        await restarted.scan();
        assert.equal((await store.listRuns({})).length, 4, 'no run was added');
        assert.ok(existsSync(join(incoming, 'duplicates', 'orders_9.csv')));
        assert.deepEqual(rowCounts(root), { orders: 5, returns: 3, stock: 4 });

        // The file no route takes stayed, and each watcher logged it once.
        assert.ok(existsSync(join(incoming, 'notes.txt')));
        const unmatched = lines.filter((line) => line.includes('notes.txt'));
        assert.equal(unmatched.length, 2, lines.join('\n'));
        assert.match(unmatched[0] ?? '', /^warn .*notes\.txt matches no route of pipewright\.yaml watch:/);
      } finally {
        await worker.stop(0);
        definitions.stop();
        await store.close();
      }
    });

    test('a broken route holds its files; a pipeline trigger on a routed folder is ignored', async () => {
      const root = await mkdtemp(join(tmpdir(), 'pw-routed-broken-'));
      roots.push(root);
      const incoming = join(root, 'incoming');
      await mkdir(incoming);
      const steps = [{ id: 's', uses: 'sql', with: { query: 'select 1' } }];
      const load = pipelineSchema.parse({
        id: 'load',
        params: { table: { type: 'string', required: true } },
        steps,
      });
      const own = pipelineSchema.parse({
        id: 'own',
        triggers: [{ watch: { dir: 'incoming', pattern: '.*' } }],
        steps,
      });
      const routes = projectSchema.parse({
        watch: [
          {
            dir: 'incoming',
            routes: [
              { pattern: '^orders_', pipeline: 'load' }, // no table: broken
              { pattern: '^missing_', pipeline: 'nope', params: {} },
              { pattern: '.*', pipeline: 'load', params: { table: 'misc' } },
            ],
          },
        ],
      }).watch;
      const store: StateStore = await adapter.open();
      try {
        for (const spec of [load, own]) {
          await store.savePipelineRevision({
            pipelineId: spec.id,
            hash: spec.id,
            definition: spec,
            sourcePath: `pipelines/${spec.id}.yaml`,
            at: new Date(),
          });
        }
        for (const name of ['orders_1.csv', 'missing_1.csv', 'other.csv']) {
          await writeFile(join(incoming, name), name);
          await old(join(incoming, name));
        }
        const lines: string[] = [];
        const watcher = new FolderWatcher({
          store,
          projectDir: root,
          timezone: 'UTC',
          pipelines: () => [
            { id: 'load', revision: 1, spec: load },
            { id: 'own', revision: 1, spec: own },
          ],
          routes,
          log: (level, message) => lines.push(`${level} ${message}`),
        });
        await watcher.scan();
        await watcher.scan();
        await watcher.scan();
        const runs = await store.listRuns({});
        assert.deepEqual(
          runs.map((run) => [run.pipelineId, run.trigger, run.params]),
          [['load', 'watch:other.csv', { table: 'misc' }]],
        );
        assert.deepEqual((await readdir(incoming)).sort(), ['missing_1.csv', 'orders_1.csv', 'processing']);
        const errors = lines.filter((line) => line.startsWith('error '));
        assert.equal(errors.length, 3, lines.join('\n'));
        assert.ok(
          errors.some((line) =>
            /watch\[0\]\.routes\[0\] gives pipeline 'load' invalid params: table: required/.test(line),
          ),
        );
        assert.ok(
          errors.some((line) =>
            /watch\[0\]\.routes\[1\] routes to pipeline 'nope', which does not exist; files it takes wait/.test(
              line,
            ),
          ),
        );
        assert.ok(
          errors.some((line) => /own: its watch trigger on incoming \(triggers\[0\]\) is ignored/.test(line)),
        );
      } finally {
        await store.close();
      }
    });
  });
}
