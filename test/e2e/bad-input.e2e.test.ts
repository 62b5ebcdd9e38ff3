/**
 * Bad input through the real CLI, each case in its own temp project: every one must end in a clear
 * error (file, line or field, a hint), the right exit code, a failed run record when a run started
 * (none when it could not start), no stack trace, and no output or temporary file left behind.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import {
  assertExit,
  assertNoPartialOutput,
  assertNoStackTrace,
  describeResult,
  duckQuery,
  listFiles,
  listRuns,
  makeProject,
  parquetColumns,
  removeDir,
  runCli,
  showRun,
  sqlString,
  writeFiles,
  type CliResult,
  type RunJson,
  type ShowJson,
} from './cli-harness.js';

const projects: string[] = [];

async function project(prefix: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = await makeProject(prefix, files);
  projects.push(dir);
  return dir;
}

/** A pipeline reading one file and writing it to out/result.parquet, with `read` extra options. */
function readWritePipeline(read: string, path = 'data/in.csv'): string {
  return `id: p
steps:
  - id: source
    uses: files.read
    with: { path: ${path}${read ? `, ${read}` : ''} }
  - id: export
    uses: files.write
    with: { input: source, path: out/result.parquet }
`;
}

const RAGGED = [
  'id,name,amount', // line 1
  '1,alpha,10.5', // line 2
  '2,beta', // line 3: a field short
  '3,gamma,30.25,extra', // line 4: a field too many
  '4,delta,not-a-number', // line 5: not a DOUBLE
  '5,epsilon,50', // line 6
  '',
].join('\n');

/** Validation failures: exit 2 from `validate`, and `run` refuses before recording anything. */
async function expectInvalid(dir: string, what: string): Promise<CliResult> {
  const result = await runCli(['validate'], { cwd: dir });
  assertExit(result, 2, `validate (${what})`);
  assertNoStackTrace(result, `validate (${what})`);
  assert.match(result.stdout, /^error\s+p \(\d+ problems?\)/m, describeResult(result));
  const run = await runCli(['run', 'p'], { cwd: dir });
  assertExit(run, 2, `run (${what})`);
  assertNoStackTrace(run, `run (${what})`);
  assert.deepEqual(await listRuns(dir), [], `${what}: no run is recorded for an invalid pipeline`);
  await assertNoPartialOutput(dir);
  return result;
}

/** Runtime failures: exit 1, one failed run with `code`, no output, no temp files, no stack. */
async function expectFailedRun(
  dir: string,
  code: string,
  what: string,
): Promise<{ result: CliResult; run: RunJson; details: ShowJson }> {
  const result = await runCli(['run', 'p'], { cwd: dir });
  assertExit(result, 1, what);
  assertNoStackTrace(result, what);
  assert.match(
    result.stderr,
    new RegExp(`error\\[${code}\\]`),
    `${what}: stderr names ${code}\n${describeResult(result)}`,
  );
  assert.match(result.stdout, /^Run \S+ failed in/m);
  const runs = await listRuns(dir);
  assert.equal(runs.length, 1, `${what}: one run recorded`);
  const run = runs[0] as RunJson;
  assert.equal(run.status, 'failed', `${what}: run status`);
  assert.equal(run.error?.code, code, `${what}: run error ${JSON.stringify(run.error)}`);
  assert.ok(run.finished_at, `${what}: the failed run has an end time`);
  const details = await showRun(dir, run.id);
  const failedStep = details.steps.find((step) => step.status === 'failed');
  assert.equal(failedStep?.error?.code, code, `${what}: the failed step attempt records ${code}`);
  await assertNoPartialOutput(dir);
  return { result, run, details };
}

async function readParquet(path: string): Promise<Record<string, unknown>[]> {
  return duckQuery(`SELECT * FROM read_parquet(${sqlString(path)})`);
}

describe('bad input', { timeout: 300_000, concurrency: 4 }, () => {
  after(async () => {
    for (const dir of projects) await removeDir(dir);
  });

  it('watch routes: an unknown pipeline and bad params are reported at pipewright.yaml:line', async () => {
    const dir = await project('routes', {
      'pipewright.yaml': [
        'watch:',
        '  - dir: incoming',
        '    routes:',
        "      - { pattern: '^orders_', pipeline: import-fil, params: { table: orders } }",
        "      - { pattern: '^stock_', pipeline: import-file, params: { tables: stock } }",
        '',
      ].join('\n'),
      'pipelines/import-file.yaml': `id: import-file
params:
  table: { type: string, required: true }
steps:
  - id: rows
    uses: files.read
    with: { path: '{{ trigger.file }}' }
`,
    });
    const result = await runCli(['validate'], { cwd: dir });
    assertExit(result, 2, 'validate (watch routes)');
    assertNoStackTrace(result, 'validate (watch routes)');
    assert.match(result.stdout, /^error\s+pipewright\.yaml \(2 problems\)/m);
    assert.match(result.stdout, /^ok\s+import-file/m);
    assert.match(
      result.stderr,
      /error\[PW_PIPELINE_NOT_FOUND\]: watch\[0\]\.routes\[0\] routes to pipeline 'import-fil'/,
    );
    assert.match(result.stderr, /--> pipewright\.yaml:4:\d+ \(watch\[0\]\.routes\[0\]\.pipeline\)/);
    assert.match(result.stderr, /hint: did you mean 'import-file'\?/);
    assert.match(
      result.stderr,
      /error\[PW_PARAM_INVALID\]: watch\[0\]\.routes\[1\] gives pipeline 'import-file' invalid params: tables: not a parameter/,
    );
    assert.match(result.stderr, /--> pipewright\.yaml:5:\d+ \(watch\[0\]\.routes\[1\]\.params\.tables\)/);
    const json = await runCli(['validate', '--json'], { cwd: dir });
    assertExit(json, 2, 'validate --json (watch routes)');
    const payload = JSON.parse(json.stdout) as {
      ok: boolean;
      project: { ok: boolean; issues: { code: string }[] };
    };
    assert.equal(payload.ok, false);
    assert.deepEqual(
      payload.project.issues.map((issue) => issue.code),
      ['PW_PIPELINE_NOT_FOUND', 'PW_PARAM_INVALID'],
    );
  });

  it('malformed YAML: exit 2 with file:line:column', async () => {
    const dir = await project('yaml', {
      'pipelines/p.yaml':
        'id: p\nsteps:\n  - id: source\n    uses: files.read\n    with: { path: data/in.csv\n  - id: other\n    uses: sql\n',
      'data/in.csv': 'a\n1\n',
    });
    const result = await expectInvalid(dir, 'malformed YAML');
    assert.match(result.stderr, /error\[PW_YAML_SYNTAX\]/);
    assert.match(result.stderr, /--> pipelines\/p\.yaml:\d+:\d+/, result.stderr);
    const tabs = await project('yaml-tabs', { 'pipelines/p.yaml': 'id: p\nsteps:\n\t- id: a\n' });
    const tabResult = await runCli(['validate'], { cwd: tabs });
    assertExit(tabResult, 2, 'validate (tab indentation)');
    assert.match(tabResult.stderr, /--> pipelines\/p\.yaml:3:\d+/, tabResult.stderr);
    assertNoStackTrace(tabResult, 'tab indentation');
  });

  it('unknown fields: every one reported at once, with location and did-you-mean', async () => {
    const dir = await project('unknown-field', {
      'pipelines/p.yaml': [
        'id: p', // 1
        'descripton: misspelt', // 2
        'steps:', // 3
        '  - id: source', // 4
        '    uses: files.read', // 5
        "    with: { path: data/in.csv, delimeter: ';' }", // 6
        '  - id: copy', // 7
        '    uses: sql', // 8
        '    need: [source]', // 9
        '    with: { query: SELECT * FROM source }', // 10
        '',
      ].join('\n'),
      'data/in.csv': 'a\n1\n',
    });
    const result = await expectInvalid(dir, 'unknown fields');
    assert.match(result.stdout, /p \(3 problems\)/);
    const blocks = result.stderr.split(/\n\n/);
    const blockFor = (pattern: RegExp) =>
      blocks.find((block) => pattern.test(block)) ??
      assert.fail(`no error block matching ${pattern}:\n${result.stderr}`);
    const top = blockFor(/descripton/);
    assert.match(top, /PW_SPEC_UNKNOWN_FIELD/);
    assert.match(top, /pipelines\/p\.yaml:2:1/);
    assert.match(top, /did you mean 'description'/i);
    const inWith = blockFor(/delimeter/);
    assert.match(inWith, /pipelines\/p\.yaml:6:\d+/);
    assert.match(inWith, /did you mean 'delimiter'/i);
    const need = blockFor(/'need'|\bneed\b/);
    assert.match(need, /pipelines\/p\.yaml:9:5/);
    assert.match(need, /did you mean 'needs'/i);
    assert.match(result.stderr, /3 problems found/);
  });

  it("unknown step type 'file.read': hint names files.read", async () => {
    const dir = await project('step-type', {
      'pipelines/p.yaml':
        'id: p\nsteps:\n  - id: source\n    uses: file.read\n    with: { path: data/in.csv }\n',
      'data/in.csv': 'a\n1\n',
    });
    const result = await expectInvalid(dir, 'unknown step type');
    assert.match(result.stderr, /error\[PW_SPEC_UNKNOWN_STEP_TYPE\]/);
    assert.match(result.stderr, /unknown step type 'file\.read'/i);
    assert.match(result.stderr, /pipelines\/p\.yaml:4:\d+/);
    assert.match(result.stderr, /did you mean 'files\.read'/i);
  });

  it('a cycle between steps', async () => {
    const dir = await project('cycle', {
      'pipelines/p.yaml': [
        'id: p',
        'steps:',
        '  - id: first',
        '    uses: sql',
        '    needs: [second]',
        '    with: { query: SELECT 1 AS x }',
        '  - id: second',
        '    uses: sql',
        '    with: { query: SELECT x FROM first }',
        '',
      ].join('\n'),
    });
    const result = await expectInvalid(dir, 'cycle');
    assert.match(result.stderr, /error\[PW_SPEC_CYCLE\]/);
    assert.match(result.stderr, /first/);
    assert.match(result.stderr, /second/);
    assert.match(result.stderr, /pipelines\/p\.yaml:\d+:\d+/);
  });

  it('a missing input file: failed run with PW_INPUT_NOT_FOUND, no output', async () => {
    const dir = await project('missing', { 'pipelines/p.yaml': readWritePipeline('', 'data/missing.csv') });
    const { result, run } = await expectFailedRun(dir, 'PW_INPUT_NOT_FOUND', 'missing input');
    assert.match(result.stderr, /data\/missing\.csv/);
    assert.equal(run.error?.step, 'source');
    assert.match(result.stderr, /step 'source'/);
  });

  it('an empty input file and a header-only file fail with PW_INPUT_EMPTY; allow_empty accepts them', async () => {
    const empty = await project('empty', { 'pipelines/p.yaml': readWritePipeline(''), 'data/in.csv': '' });
    const { result } = await expectFailedRun(empty, 'PW_INPUT_EMPTY', 'empty file');
    assert.match(result.stderr, /data\/in\.csv/);

    const headerOnly = await project('header-only', {
      'pipelines/p.yaml': readWritePipeline(''),
      'data/in.csv': 'id,name\n',
    });
    await expectFailedRun(headerOnly, 'PW_INPUT_EMPTY', 'header-only file');

    const allowed = await project('allow-empty', {
      'pipelines/p.yaml': readWritePipeline('allow_empty: true, columns: { id: BIGINT, name: VARCHAR }'),
      'data/in.csv': 'id,name\n',
    });
    const ok = await runCli(['run', 'p'], { cwd: allowed });
    assertExit(ok, 0, 'allow_empty: true');
    assert.deepEqual(await readParquet(join(allowed, 'out', 'result.parquet')), []);
    assert.deepEqual(
      (await parquetColumns(join(allowed, 'out', 'result.parquet'))).map((column) => column.name),
      ['id', 'name'],
    );
  });

  it('ragged and malformed CSV rows under on_error: fail names the file and line', async () => {
    const dir = await project('ragged-fail', {
      'pipelines/p.yaml': readWritePipeline(
        'on_error: fail, columns: { id: BIGINT, name: VARCHAR, amount: DOUBLE }',
      ),
      'data/in.csv': RAGGED,
    });
    const { result, run } = await expectFailedRun(dir, 'PW_INPUT_MALFORMED', 'ragged CSV, on_error fail');
    assert.match(result.stderr, /data\/in\.csv:3\b/, result.stderr);
    assert.match(run.error?.message ?? '', /data\/in\.csv:3\b/);
    assert.match(result.stderr, /on_error/, 'the hint points at on_error');
  });

  it('ragged and malformed CSV rows under on_error: skip are dropped and counted', async () => {
    const dir = await project('ragged-skip', {
      'pipelines/p.yaml': readWritePipeline(
        'on_error: skip, columns: { id: BIGINT, name: VARCHAR, amount: DOUBLE }',
      ),
      'data/in.csv': RAGGED,
    });
    const result = await runCli(['run', 'p'], { cwd: dir });
    assertExit(result, 0, 'ragged CSV, on_error skip');
    const rows = await readParquet(join(dir, 'out', 'result.parquet'));
    assert.deepEqual(rows, [
      { id: 1, name: 'alpha', amount: 10.5 },
      { id: 5, name: 'epsilon', amount: 50 },
    ]);
    const [run] = await listRuns(dir);
    const details = await showRun(dir, (run as RunJson).id);
    const source = details.steps.find((step) => step.step === 'source');
    assert.equal(source?.rows, 2);
    assert.equal(source?.outputs.rejected_rows, 3, JSON.stringify(source?.outputs));
    assert.deepEqual(
      details.artifacts.filter((artifact) => /rejects/.test(artifact.name)),
      [],
      'skip writes no rejects artifact',
    );
  });

  it('ragged and malformed CSV rows under on_error: quarantine go to a rejects artifact', async () => {
    const dir = await project('ragged-quarantine', {
      'pipelines/p.yaml': readWritePipeline(
        'on_error: quarantine, columns: { id: BIGINT, name: VARCHAR, amount: DOUBLE }',
      ),
      'data/in.csv': RAGGED,
    });
    const result = await runCli(['run', 'p'], { cwd: dir });
    assertExit(result, 0, 'ragged CSV, on_error quarantine');
    assert.match(result.stdout, /source: 3 rejected rows/);
    const rows = await readParquet(join(dir, 'out', 'result.parquet'));
    assert.deepEqual(
      rows.map((row) => row.id),
      [1, 5],
    );
    const [run] = await listRuns(dir);
    const details = await showRun(dir, (run as RunJson).id);
    assert.equal(details.steps.find((step) => step.step === 'source')?.outputs.rejected_rows, 3);
    const rejects = details.artifacts.find(
      (artifact) => artifact.step === 'source' && /rejects/.test(artifact.name),
    );
    assert.ok(rejects, `show --json lists a rejects artifact: ${JSON.stringify(details.artifacts)}`);
    assert.ok(rejects.bytes > 0);
    const text = await readFile(rejects.path, 'utf8');
    const lines = text.trim().split(/\r?\n/);
    assert.equal(lines.length, 1 + 3, `a header and one line per rejected row:\n${text}`);
    for (const [line, content] of [
      [3, '2,beta'],
      [4, '3,gamma,30.25,extra'],
      [5, 'not-a-number'],
    ] as const) {
      const row = lines.find((candidate) => candidate.includes(content));
      assert.ok(row, `rejects hold line ${line} (${content}):\n${text}`);
      assert.match(
        row,
        new RegExp(`(^|,)${line}(,|$)`),
        `the rejects row of ${content} carries line number ${line}: ${row}`,
      );
    }
  });

  it('a UTF-8 file with a byte order mark reads cleanly', async () => {
    const dir = await project('bom', {
      'pipelines/p.yaml': readWritePipeline(''),
      'data/in.csv': Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from('id,name\n1,Zoë\n2,Ådne\n', 'utf8'),
      ]),
    });
    const result = await runCli(['run', 'p'], { cwd: dir });
    assertExit(result, 0, 'BOM file');
    const path = join(dir, 'out', 'result.parquet');
    assert.deepEqual(
      (await parquetColumns(path)).map((column) => column.name),
      ['id', 'name'],
      'the BOM is not part of the first column name',
    );
    assert.deepEqual(await readParquet(path), [
      { id: 1, name: 'Zoë' },
      { id: 2, name: 'Ådne' },
    ]);
  });

  it('a Latin-1 file reads correctly with encoding: latin-1, and fails clearly without it', async () => {
    const latin1 = Buffer.from('id,city\n1,Zürich\n2,Besançon\n3,Ærøskøbing\n', 'latin1');
    assert.equal(latin1.includes(Buffer.from('ü', 'utf8')), false, 'the fixture really is Latin-1');
    const dir = await project('latin1', {
      'pipelines/p.yaml': readWritePipeline('encoding: latin-1'),
      'data/in.csv': latin1,
    });
    const result = await runCli(['run', 'p'], { cwd: dir });
    assertExit(result, 0, 'Latin-1 file with encoding: latin-1');
    assert.deepEqual(await readParquet(join(dir, 'out', 'result.parquet')), [
      { id: 1, city: 'Zürich' },
      { id: 2, city: 'Besançon' },
      { id: 3, city: 'Ærøskøbing' },
    ]);

    const wrong = await project('latin1-as-utf8', {
      'pipelines/p.yaml': readWritePipeline(''),
      'data/in.csv': latin1,
    });
    const { result: failed } = await expectFailedRun(
      wrong,
      'PW_INPUT_MALFORMED',
      'Latin-1 file read as UTF-8',
    );
    assert.match(failed.stderr, /data\/in\.csv/);
    assert.match(failed.stderr, /latin-1/, 'the hint names the encoding option');
  });

  it('an XLSX with a blank header cell: the column gets a name and a warning says which cell', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Data');
    sheet.addRow(['id', 'name', null, 'amount']);
    sheet.addRow([1, 'alpha', 'x', 10.5]);
    sheet.addRow([2, 'beta', 'y', 20]);
    const dir = await project('xlsx-blank-header', {
      'pipelines/p.yaml': readWritePipeline('', 'data/in.xlsx'),
      'data/in.xlsx': Buffer.from(await workbook.xlsx.writeBuffer()),
    });
    const result = await runCli(['run', 'p'], { cwd: dir });
    assertExit(result, 0, 'XLSX with a blank header cell');
    const warning = /data\/in\.xlsx sheet 'Data': header cell C1 is blank; the column is named column_3/;
    assert.match(result.stderr, warning, 'the run log warns about the blank header cell');
    const [run] = await listRuns(dir);
    const details = await showRun(dir, (run as RunJson).id);
    const logs = await runCli(['logs', (run as RunJson).id], { cwd: dir });
    assert.match(logs.stdout, warning, 'the warning is kept in the stored log');
    assert.equal(details.steps.find((step) => step.step === 'source')?.rows, 2);
    const path = join(dir, 'out', 'result.parquet');
    assert.deepEqual(
      (await parquetColumns(path)).map((column) => column.name),
      ['id', 'name', 'column_3', 'amount'],
    );
    assert.deepEqual(
      (await readParquet(path)).map((row) => [row.id, row.name, row.column_3, row.amount]),
      [
        [1, 'alpha', 'x', 10.5],
        [2, 'beta', 'y', 20],
      ],
    );
  });

  it('a template referencing an unknown variable: failed run, PW_TEMPLATE_UNKNOWN_VARIABLE, no output', async () => {
    const dir = await project('template', {
      'pipelines/p.yaml': [
        'id: p',
        'steps:',
        '  - id: source',
        '    uses: files.read',
        '    with: { path: data/in.csv }',
        '  - id: export',
        '    uses: files.write',
        '    with: { input: source, path: "out/result_{{ steps.source.outputs.no_such_output }}.parquet" }',
        '',
      ].join('\n'),
      'data/in.csv': 'id\n1\n',
    });
    const { result, run } = await expectFailedRun(
      dir,
      'PW_TEMPLATE_UNKNOWN_VARIABLE',
      'unknown template variable',
    );
    assert.match(result.stderr, /no_such_output/);
    assert.equal(run.error?.step, 'export');
  });

  it('a missing secret: exit 2 before anything runs, no run recorded', async () => {
    const dir = await project('secret', {
      'pipelines/p.yaml': [
        'id: p',
        'steps:',
        '  - id: source',
        '    uses: files.read',
        '    with: { path: data/in.csv }',
        '  - id: tagged',
        '    uses: sql',
        '    with: { query: "SELECT *, \'${env:PW_TEST_MISSING_SECRET}\' AS token FROM source" }',
        '  - id: export',
        '    uses: files.write',
        '    with: { input: tagged, path: out/result.parquet }',
        '',
      ].join('\n'),
      'data/in.csv': 'id\n1\n',
    });
    const validate = await runCli(['validate'], { cwd: dir, env: { PW_TEST_MISSING_SECRET: undefined } });
    assertExit(validate, 0, 'validate does not need secrets');
    const result = await runCli(['run', 'p'], { cwd: dir, env: { PW_TEST_MISSING_SECRET: undefined } });
    assertExit(result, 2, 'missing secret');
    assertNoStackTrace(result, 'missing secret');
    assert.match(result.stderr, /error\[PW_SECRET_MISSING\]/);
    assert.match(result.stderr, /PW_TEST_MISSING_SECRET/);
    assert.deepEqual(await listRuns(dir), [], 'no run is recorded when a secret is missing');
    await assertNoPartialOutput(dir);
  });

  it('a secret quoted back in an error message is redacted everywhere', async () => {
    const secret = 's3cr3t-e2e-token-4711';
    const dir = await project('secret-redacted', {
      'pipelines/p.yaml': [
        'id: p',
        'steps:',
        '  - id: token',
        '    uses: sql',
        '    with:',
        '      query: |',
        '        SELECT 1 AS one,',
        "               CAST('${env:PW_TEST_SECRET}' AS INTEGER) AS broken",
        '',
      ].join('\n'),
    });
    const env = { PW_TEST_SECRET: secret };
    for (const args of [
      ['run', 'p'],
      ['--verbose', 'run', 'p'],
    ]) {
      const result = await runCli(args, { cwd: dir, env });
      assertExit(result, 1, args.join(' '));
      assert.match(result.stderr, /error\[PW_SQL_ERROR\]/);
      assert.match(result.stderr, /\[redacted\]/, 'DuckDB quoted the value; it is masked');
      assert.ok(
        !`${result.stdout}${result.stderr}`.includes(secret),
        `${args.join(' ')} printed the secret:\n${result.stderr}`,
      );
    }
    const runs = await listRuns(dir);
    assert.equal(runs.length, 2);
    for (const run of runs) {
      const shown = await runCli(['show', run.id, '--json'], { cwd: dir });
      const logs = await runCli(['logs', run.id], { cwd: dir });
      assert.match(logs.stdout, /\[redacted\]/);
      for (const output of [shown.stdout, logs.stdout, JSON.stringify(run)])
        assert.ok(!output.includes(secret), output);
    }
    // Nor is it anywhere on disk: state store, logs, workspaces.
    for (const file of await listFiles(dir)) {
      const bytes = await readFile(join(dir, file));
      assert.ok(!bytes.includes(secret), `${file} holds the secret`);
    }
  });

  it('a SQL error names the step and shows DuckDB’s LINE n:', async () => {
    const dir = await project('sql', {
      'pipelines/p.yaml': [
        'id: p',
        'steps:',
        '  - id: source',
        '    uses: files.read',
        '    with: { path: data/in.csv }',
        '  - id: doubled',
        '    uses: sql',
        '    with:',
        '      query: |',
        '        SELECT id,',
        '               name,',
        '               amount_typo * 2 AS doubled',
        '        FROM source',
        '  - id: export',
        '    uses: files.write',
        '    with: { input: doubled, path: out/result.parquet }',
        '',
      ].join('\n'),
      'data/in.csv': 'id,name,amount\n1,a,2.5\n',
    });
    const { result, run, details } = await expectFailedRun(dir, 'PW_SQL_ERROR', 'SQL error');
    assert.match(result.stderr, /step 'doubled'/);
    assert.match(result.stderr, /amount_typo/);
    assert.match(result.stderr, /LINE 3:/, result.stderr);
    assert.equal(run.error?.step, 'doubled');
    assert.deepEqual(
      details.steps.map((step) => [step.step, step.status]),
      [
        ['source', 'succeeded'],
        ['doubled', 'failed'],
      ],
      'a user error is not retried and later steps never start',
    );

    // With --verbose the same failure also prints the stack, for bug reports.
    const verbose = await runCli(['--verbose', 'run', 'p'], { cwd: dir });
    assertExit(verbose, 1, 'SQL error with --verbose');
    assert.match(verbose.stderr, /^ {4}at /m, 'a stack trace with --verbose');
    await assertNoPartialOutput(dir);
  });

  it('a user-written step that throws: the hint blames the module, --verbose shows where', async () => {
    const dir = await project('user-step-throws', {
      'pipelines/p.yaml': [
        'id: p',
        'steps:',
        '  - id: seed',
        '    uses: sql',
        '    with: { query: SELECT 1 AS id }',
        '  - id: boom',
        '    uses: ./steps/boom.js',
        '    with: { input: seed }',
        '',
      ].join('\n'),
      'steps/boom.js': [
        'export default {',
        "  description: 'Always fails, as a buggy user step would.',",
        '  config: (z) => z.strictObject({ input: z.string() }),',
        '  inputs: (config) => [config.input],',
        '  async run() {',
        "    throw new Error('the remote API said no');",
        '  },',
        '};',
        '',
      ].join('\n'),
    });
    const { result } = await expectFailedRun(dir, 'PW_INTERNAL', 'a user-written step that throws');
    assert.match(result.stderr, /step 'boom' \(attempt 1\): the remote API said no/);
    assert.match(result.stderr, /hint: The user-written step module \.\/steps\/boom\.js threw this error/);
    assert.doesNotMatch(result.stderr, /bug in Pipewright/);
    const verbose = await runCli(['--verbose', 'run', 'p'], { cwd: dir });
    assertExit(verbose, 1, 'a user-written step that throws, --verbose');
    assert.match(verbose.stderr, /^ {4}at .*steps\/boom\.js:6:\d+/m, 'the stack points into the module');
  });

  it('a failing check: exit 1, PW_CHECK_FAILED, nothing exported', async () => {
    const dir = await project('check', {
      'pipelines/p.yaml': [
        'id: p',
        'steps:',
        '  - id: source',
        '    uses: files.read',
        '    with: { path: data/in.csv }',
        '  - id: quality',
        '    uses: check',
        '    with:',
        '      input: source',
        '      rules:',
        '        - not_null: [id, amount]',
        '        - range: { column: amount, min: 0, max: 100 }',
        '  - id: export',
        '    uses: files.write',
        '    needs: [quality]',
        '    with: { input: source, path: out/result.parquet }',
        '',
      ].join('\n'),
      'data/in.csv': 'id,amount\n1,10\n2,\n3,250\n4,20\n',
    });
    const { result, details } = await expectFailedRun(dir, 'PW_CHECK_FAILED', 'failing check');
    assert.match(result.stderr, /step 'quality'/);
    assert.match(result.stderr, /amount/);
    assert.deepEqual(
      details.steps.map((step) => step.step),
      ['source', 'quality'],
      'the export never ran',
    );
  });

  it('outputs of a failed run never appear, even when an earlier run wrote the same file', async () => {
    // A good run first, then the input turns bad: the earlier output must stay intact, not half-replaced.
    const dir = await project('keep-previous', {
      'pipelines/p.yaml': readWritePipeline('columns: { id: BIGINT, name: VARCHAR, amount: DOUBLE }'),
      'data/in.csv': 'id,name,amount\n1,a,1.5\n2,b,2.5\n',
    });
    assertExit(await runCli(['run', 'p'], { cwd: dir }), 0, 'first run');
    const before = await readParquet(join(dir, 'out', 'result.parquet'));
    await writeFiles(dir, { 'data/in.csv': RAGGED });
    const failed = await runCli(['run', 'p'], { cwd: dir });
    assertExit(failed, 1, 'second run with a ragged file');
    assert.deepEqual(await readParquet(join(dir, 'out', 'result.parquet')), before);
    assert.deepEqual(await listFiles(join(dir, 'out')), ['result.parquet']);
    assert.deepEqual(
      (await listFiles(dir)).filter((path) => path.endsWith('.tmp')),
      [],
    );
  });
});
