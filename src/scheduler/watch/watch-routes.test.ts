/**
 * Watch routes in pipewright.yaml: the schema, a folder watched twice (refused when the project loads,
 * with file:line), and the routing table resolved against pipelines — unknown pipeline, params checked
 * like a manual run's, a pipeline trigger on a routed folder — plus first-match-wins and the files
 * that match no route.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SpecError } from '../../core/errors/pw-error.js';
import { pipelineSchema } from '../../core/spec/pipeline-schema.js';
import { projectSchema } from '../../core/spec/project-schema.js';
import { loadProject } from '../../project/load-project.js';
import { resolveWatchRoutes, routeFor, unmatchedFiles } from './watch-routes.js';

const scratch = mkdtemp(join(tmpdir(), 'pw-watch-routes-'));
after(async () => rm(await scratch, { recursive: true, force: true }));

const importFile = pipelineSchema.parse({
  id: 'import-file',
  params: {
    table: { type: 'string', required: true },
    sheet: { type: 'string', default: 'Sheet1' },
    header_row: { type: 'integer', default: 1 },
  },
  steps: [{ id: 's', uses: 'sql', with: { query: 'select 1' } }],
});
const watcher = pipelineSchema.parse({
  id: 'watcher',
  triggers: [{ watch: { dir: './incoming/', pattern: '\\.txt$' } }],
  steps: [{ id: 's', uses: 'sql', with: { query: 'select 1' } }],
});

/** A project file, loaded for real so that problems point at its lines. */
async function project(yaml: string) {
  const dir = await mkdtemp(join(await scratch, 'project-'));
  await writeFile(join(dir, 'pipewright.yaml'), yaml);
  return loadProject(dir);
}

describe('watch routes in pipewright.yaml', () => {
  it('defaults stable_for, poll and params, and refuses a bad pattern or an empty table', () => {
    const spec = projectSchema.parse({
      watch: [{ dir: 'incoming', routes: [{ pattern: '^a', pipeline: 'import-file' }] }],
    });
    assert.deepEqual(spec.watch[0], {
      dir: 'incoming',
      stable_for: '5s',
      poll: '1s',
      routes: [{ pattern: '^a', pipeline: 'import-file', params: {} }],
    });
    const bad = projectSchema.safeParse({
      watch: [
        { dir: 'x', routes: [{ pattern: '([', pipeline: 'p' }] },
        { dir: 'y', routes: [] },
      ],
    });
    assert.equal(bad.success, false);
    const paths = bad.error?.issues.map((issue) => issue.path.join('.')).sort();
    assert.deepEqual(paths, ['watch.0.routes.0.pattern', 'watch.1.routes']);
  });

  it('refuses two entries for one folder when the project loads, naming both lines', async () => {
    const error = await project(
      [
        'watch:',
        '  - dir: incoming',
        '    routes: [{ pattern: a, pipeline: p }]',
        '  - dir: ./incoming/',
        '    routes: [{ pattern: b, pipeline: q }]',
        '',
      ].join('\n'),
    ).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof SpecError);
    const [issue] = error.issues;
    assert.equal(issue?.path, 'watch[1].dir');
    assert.deepEqual(issue.location, { file: 'pipewright.yaml', line: 4, column: 10 });
    assert.match(
      issue.message,
      /watch\[1\] watches \.\/incoming\/, which watch\[0\] \(line 2\) already watches/,
    );
    assert.match(issue.hint ?? '', /Move its routes into watch\[0\]\.routes/);
  });

  it('resolves routes in order with params converted to the declared types', async () => {
    const loaded = await project(
      [
        'watch:',
        '  - dir: incoming',
        '    stable_for: 2s',
        '    routes:',
        "      - { pattern: '^orders_.*\\.csv$', pipeline: import-file, params: { table: orders } }",
        "      - { pattern: '^stock_.*\\.xlsx?$', pipeline: import-file, params: { table: stock, sheet: Daily, header_row: '3' } }",
        "      - { pattern: '\\.csv$', pipeline: import-file, params: { table: other } }",
        '',
      ].join('\n'),
    );
    const table = resolveWatchRoutes(
      { projectDir: loaded.dir, folders: loaded.spec.watch, locate: loaded.locate },
      [{ id: 'import-file', file: 'pipelines/import-file.yaml', spec: importFile }],
    );
    assert.deepEqual(table.issues, []);
    assert.deepEqual(
      table.routes.map((route) => [route.name, route.params, route.stableForMs, route.problem]),
      [
        ['watch[0].routes[0]', { table: 'orders', sheet: 'Sheet1', header_row: 1 }, 2000, undefined],
        ['watch[0].routes[1]', { table: 'stock', sheet: 'Daily', header_row: 3 }, 2000, undefined],
        ['watch[0].routes[2]', { table: 'other', sheet: 'Sheet1', header_row: 1 }, 2000, undefined],
      ],
    );
    assert.deepEqual([...table.dirs], [join(loaded.dir, 'incoming')]);
    // First match wins: orders_1.csv matches routes 0 and 2.
    assert.equal(routeFor(table.routes, 'orders_1.csv')?.name, 'watch[0].routes[0]');
    assert.equal(routeFor(table.routes, 'stock_1.xls')?.name, 'watch[0].routes[1]');
    assert.equal(routeFor(table.routes, 'misc.csv')?.name, 'watch[0].routes[2]');
    assert.equal(routeFor(table.routes, 'notes.txt'), undefined);
  });

  it('reports an unknown pipeline, bad params and a pipeline trigger on a routed folder with file:line', async () => {
    const loaded = await project(
      [
        'watch:',
        '  - dir: incoming',
        '    routes:',
        '      - pattern: ^a',
        '        pipeline: import-fil',
        '      - pattern: ^b',
        '        pipeline: import-file',
        '        params: { tabel: orders, header_row: two }',
        '      - pattern: ^c',
        '        pipeline: broken',
        '',
      ].join('\n'),
    );
    const table = resolveWatchRoutes(
      { projectDir: loaded.dir, folders: loaded.spec.watch, locate: loaded.locate },
      [
        { id: 'import-file', file: 'pipelines/import-file.yaml', spec: importFile },
        { id: 'watcher', file: 'pipelines/watcher.yaml', spec: watcher },
        { id: 'broken', file: 'pipelines/broken.yaml' },
      ],
    );
    assert.deepEqual(
      table.issues.map((issue) => [issue.code, issue.path, issue.location.line]),
      [
        ['PW_SPEC_INVALID', 'watch[0].dir', 2],
        ['PW_PIPELINE_NOT_FOUND', 'watch[0].routes[0].pipeline', 5],
        ['PW_PARAM_INVALID', 'watch[0].routes[1].params.tabel', 8],
      ],
    );
    const [trigger, unknown, params] = table.issues;
    assert.match(trigger?.message ?? '', /also watched by pipelines\/watcher\.yaml \(triggers\[0\]\.watch\)/);
    assert.match(trigger?.hint ?? '', /pattern: '\\\.txt\$', pipeline: watcher/);
    assert.equal(unknown?.hint, "did you mean 'import-file'?");
    assert.match(params?.message ?? '', /tabel: not a parameter of this pipeline/);
    assert.match(params?.message ?? '', /header_row: expected a number, found 'two'/);
    assert.match(params?.message ?? '', /table: required, but no value was given/);
    // Each broken route carries a one-line reason; its files wait. An invalid pipeline file is its own
    // problem (reported with that file), so the route only says so.
    assert.deepEqual(
      table.routes.map((route) => route.params),
      [undefined, undefined, undefined],
    );
    assert.match(
      table.routes[0]?.problem ?? '',
      /^pipewright\.yaml:5:19 PW_PIPELINE_NOT_FOUND watch\[0\]\.routes\[0\]/,
    );
    assert.match(table.routes[2]?.problem ?? '', /pipeline 'broken' is invalid/);
  });

  it('lists the files of routed folders that match no route, newest first', async () => {
    const dir = await mkdtemp(join(await scratch, 'unmatched-'));
    await mkdir(join(dir, 'incoming', 'processing'), { recursive: true });
    const folders = projectSchema.parse({
      watch: [{ dir: 'incoming', routes: [{ pattern: '\\.csv$', pipeline: 'p' }] }],
    }).watch;
    for (const name of ['a.csv', 'old.txt', 'new.pdf', '.hidden', 'upload.part']) {
      await writeFile(join(dir, 'incoming', name), 'x');
    }
    await utimes(join(dir, 'incoming', 'old.txt'), new Date('2026-01-01'), new Date('2026-01-01'));
    const found = await unmatchedFiles(dir, folders, 10);
    assert.deepEqual(
      found.map((file) => [file.name, file.table, file.dir]),
      [
        ['new.pdf', 'watch[0]', join(dir, 'incoming')],
        ['old.txt', 'watch[0]', join(dir, 'incoming')],
      ],
    );
    assert.equal((await unmatchedFiles(dir, folders, 1)).length, 1);
    assert.deepEqual(await unmatchedFiles(join(dir, 'nowhere'), folders, 10), []);
  });
});
