/** Tests for `files.read` on JSON, NDJSON and Parquet files, with real files and a real DuckDB. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { rejectsWith as rejectsOf, asPwError as pw } from '../../testing/assertions.js';
import { quoteLiteral } from '../../core/sql-identifiers.js';
import { filesReadStep as filesRead } from './files-read.js';

let harness: StepHarness;

before(async () => {
  harness = await createStepHarness();
});
after(async () => {
  await harness.close();
});

const put = (path: string, content: string | Buffer) => harness.writeFile(path, content);

const types = (table: string) => harness.columnTypes(table);

describe('files.read json, ndjson and parquet', () => {
  it('reads a JSON array with a cast and a source column', async () => {
    await put(
      'api/orders.json',
      JSON.stringify([
        { id: 1, total: '12.50', at: '2024-05-01' },
        { id: 2, total: '7', at: '2024-05-02' },
      ]),
    );
    const result = await harness.runStep(
      filesRead,
      { path: 'api/orders.json', columns: { total: 'DECIMAL(10,2)' }, source_column: 'source_file' },
      { stepId: 'orders' },
    );
    assert.equal(result.rows, 2);
    assert.deepEqual(await types('orders'), {
      id: 'BIGINT',
      total: 'DECIMAL(10,2)',
      at: 'DATE',
      source_file: 'VARCHAR',
    });
    assert.deepEqual(
      await harness.query('SELECT id, CAST(total AS VARCHAR) AS total, source_file FROM orders ORDER BY id'),
      [
        { id: 1, total: '12.50', source_file: 'api/orders.json' },
        { id: 2, total: '7.00', source_file: 'api/orders.json' },
      ],
    );
  });

  it('names the line of a syntax error in a JSON document', async () => {
    await put('api/broken.json', '[\n  {"id": 1},\n  {"id": 2, "name": }\n]\n');
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.equal(failure.message, "api/broken.json:3:21: malformed JSON: expected a value, found '}'");
        assert.deepEqual(failure.location, { file: 'api/broken.json', line: 3, column: 21 });
      },
      harness.runStep(filesRead, { path: 'api/broken.json' }, { stepId: 'broken_json' }),
    );
  });

  it('reads NDJSON, and on_error: skip drops exactly the malformed lines', async () => {
    await put(
      'logs/app.ndjson',
      '{"level":"info","ms":12}\n{"level":"warn",}\n{}\n{"level":"error","ms":40}\n',
    );
    await put(
      'logs/broken.ndjson',
      '{"level":"info","ms":12}\n{"level":"warn","ms":}\n{"level":"error","ms":40}\n',
    );
    const ok = await harness.runStep(filesRead, { path: 'logs/app.ndjson' }, { stepId: 'app_log' });
    assert.equal(ok.rows, 4);
    assert.deepEqual(await harness.query('SELECT level, ms FROM app_log'), [
      { level: 'info', ms: 12 },
      { level: 'warn', ms: null },
      { level: null, ms: null },
      { level: 'error', ms: 40 },
    ]);
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.match(failure.message, /^logs\/broken\.ndjson:2: malformed JSON/);
        assert.deepEqual(failure.location, { file: 'logs/broken.ndjson', line: 2 });
      },
      harness.runStep(filesRead, { path: 'logs/broken.ndjson' }, { stepId: 'broken_log' }),
    );
    const skipped = await harness.runStep(
      filesRead,
      { path: 'logs/broken.ndjson', on_error: 'skip' },
      { stepId: 'broken_skip' },
    );
    assert.equal(skipped.rows, 2);
    assert.equal(skipped.outputs?.rejected_rows, 1);
    assert.deepEqual(await harness.query('SELECT level, ms FROM broken_skip'), [
      { level: 'info', ms: 12 },
      { level: 'error', ms: 40 },
    ]);
  });

  it('round-trips Parquet with its types intact', async () => {
    const path = join(harness.projectDir, 'lake', 'readings.parquet');
    await mkdir(dirname(path), { recursive: true });
    await harness.query(
      `COPY (SELECT range::INTEGER AS sensor, (range * 1.5)::DOUBLE AS reading, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (range) HOUR AS taken_at
             FROM range(3000)) TO ${quoteLiteral(path)} (FORMAT parquet)`,
    );
    const result = await harness.runStep(
      filesRead,
      { path: 'lake/*.parquet', source_column: 'src' },
      { stepId: 'readings' },
    );
    assert.equal(result.rows, 3000);
    assert.deepEqual(await types('readings'), {
      sensor: 'INTEGER',
      reading: 'DOUBLE',
      taken_at: 'TIMESTAMP',
      src: 'VARCHAR',
    });
    assert.deepEqual(
      await harness.query(
        'SELECT sum(sensor) AS s, sum(reading) AS r, CAST(max(taken_at) AS VARCHAR) AS last, min(src) AS src FROM readings',
      ),
      [{ s: 4498500, r: 6747750, last: '2024-05-04 23:00:00', src: 'lake/readings.parquet' }],
    );
  });

  it('says plainly when a .parquet file is not Parquet', async () => {
    await put('lake2/fake.parquet', 'id,name\n1,a\n');
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.equal(failure.message, 'lake2/fake.parquet: not a Parquet file');
      },
      harness.runStep(filesRead, { path: 'lake2/fake.parquet' }, { stepId: 'fake' }),
    );
  });

  it('materialize: view reads the files when later steps query them, copying nothing', async () => {
    await put('view/a.ndjson', '{"id": 1, "v": 1.5}\n{"id": 2, "v": 2.5}\n');
    const result = await harness.runStep(
      filesRead,
      { path: 'view/a.ndjson', materialize: 'view' },
      { stepId: 'docs_view' },
    );
    assert.equal(result.rows, undefined, 'a view is not counted');
    const kinds = await harness.query<{ n: number }>(
      "SELECT count(*) AS n FROM duckdb_views() WHERE view_name = 'docs_view'",
    );
    assert.equal(kinds[0]?.n, 1);
    assert.deepEqual(await harness.query('SELECT id, v FROM docs_view ORDER BY id'), [
      { id: 1, v: 1.5 },
      { id: 2, v: 2.5 },
    ]);
    // The view reads the file at query time: a changed file shows through.
    await put('view/a.ndjson', '{"id": 3, "v": 0.5}\n');
    assert.deepEqual(await harness.query('SELECT id FROM docs_view'), [{ id: 3 }]);
    // Replacing the view with a table (materialize: table) works in place.
    const copied = await harness.runStep(filesRead, { path: 'view/a.ndjson' }, { stepId: 'docs_view' });
    assert.equal(copied.rows, 1);
  });

  it('materialize: view is refused by validation with on_error other than fail, and for xlsx', () => {
    const skip = filesRead.config.safeParse({ path: 'b.ndjson', materialize: 'view', on_error: 'skip' });
    assert.equal(skip.success, false);
    assert.match(JSON.stringify(skip.error?.issues), /materialize: view needs on_error: fail/);
    const xlsx = filesRead.config.safeParse({ path: 'b.xlsx', materialize: 'view' });
    assert.equal(xlsx.success, false);
    assert.match(JSON.stringify(xlsx.error?.issues), /not available for xlsx/);
  });
});
