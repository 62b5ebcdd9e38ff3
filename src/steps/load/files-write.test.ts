/** Tests for `files.write`: every format written and read back, permissions, and atomic failure. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError as pw } from '../../testing/assertions.js';
import { quoteLiteral } from '../../core/sql-identifiers.js';
import { filesReadStep } from '../extract/files-read.js';
import { filesWriteStep as filesWrite } from './files-write.js';

let harness: StepHarness;

function at(path: string): string {
  return join(harness.projectDir, path);
}

const EXPECTED = [
  { id: 1, name: 'Müller, Anna', amount: '10.50', day: '2024-01-02', seen: '2024-01-02 08:30:00', ok: true },
  { id: 2, name: 'say "hi"', amount: '-3.25', day: '2024-02-29', seen: '2024-02-29 23:59:59', ok: false },
  { id: 3, name: null, amount: null, day: null, seen: null, ok: null },
];

/** Reads a written file back with DuckDB, with values as text so every format compares alike. */
async function readBack(sql: string): Promise<unknown[]> {
  return harness.query(
    `SELECT CAST(id AS INTEGER) AS id, name, CAST(CAST(amount AS DECIMAL(10,2)) AS VARCHAR) AS amount,
            CAST(CAST(day AS DATE) AS VARCHAR) AS day, CAST(CAST(seen AS TIMESTAMP) AS VARCHAR) AS seen, CAST(ok AS BOOLEAN) AS ok
       FROM ${sql} ORDER BY id`,
  );
}

before(async () => {
  harness = await createStepHarness();
  await harness.query(`CREATE TABLE sales AS SELECT * FROM (VALUES
      (2, 'say "hi"', -3.25::DECIMAL(10,2), DATE '2024-02-29', TIMESTAMP '2024-02-29 23:59:59', false, ['b']),
      (1, 'Müller, Anna', 10.5::DECIMAL(10,2), DATE '2024-01-02', TIMESTAMP '2024-01-02 08:30:00', true, ['a', 'c']),
      (3, NULL, NULL, NULL, NULL, NULL, NULL)
    ) AS t(id, name, amount, day, seen, ok, tags)`);
});
after(async () => {
  await harness.close();
});

describe('files.write formats', () => {
  it('writes CSV that DuckDB reads back to the same values, and registers it', async () => {
    const result = await harness.runStep(
      filesWrite,
      { input: 'sales', path: 'out/sales.csv', order_by: ['id'] },
      { stepId: 'export' },
    );
    assert.equal(result.rows, 3);
    assert.equal(result.bytes, (await stat(at('out/sales.csv'))).size);
    assert.deepEqual(result.outputs, {
      path: 'out/sales.csv',
      absolute_path: at('out/sales.csv'),
      format: 'csv',
    });
    const text = await readFile(at('out/sales.csv'), 'utf8');
    assert.equal(text.split('\n')[0], 'id,name,amount,day,seen,ok,tags');
    assert.equal(text.split('\n')[2], '2,"say ""hi""",-3.25,2024-02-29,2024-02-29 23:59:59,false,[b]');
    assert.deepEqual(await readBack(`read_csv(${quoteLiteral(at('out/sales.csv'))})`), EXPECTED);
    const artifact = harness.artifacts.find((entry) => entry.path === at('out/sales.csv'));
    assert.deepEqual(artifact && { name: artifact.name, contentType: artifact.contentType }, {
      name: 'sales.csv',
      contentType: 'text/csv',
    });
  });

  it('writes TSV without a header in the requested order, and gzips a .gz path', async () => {
    await harness.runStep(
      filesWrite,
      { input: 'sales', path: 'out/sales.tsv', header: false, order_by: ['amount desc', 'id'] },
      { stepId: 'tsv' },
    );
    const lines = (await readFile(at('out/sales.tsv'), 'utf8')).trimEnd().split('\n');
    assert.deepEqual(
      lines.map((line) => line.split('\t')[0]),
      ['1', '2', '3'],
    );
    assert.equal(lines[0]?.split('\t').length, 7);

    await harness.runStep(filesWrite, { input: 'sales', path: 'out/sales.csv.gz' }, { stepId: 'gz' });
    const bytes = await readFile(at('out/sales.csv.gz'));
    assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]);
    assert.deepEqual(await readBack(`read_csv(${quoteLiteral(at('out/sales.csv.gz'))})`), EXPECTED);
  });

  it('writes Parquet with zstd by default, keeping column types', async () => {
    await harness.runStep(filesWrite, { input: 'sales', path: 'out/sales.parquet' }, { stepId: 'pq' });
    const path = quoteLiteral(at('out/sales.parquet'));
    assert.deepEqual(await readBack(`read_parquet(${path})`), EXPECTED);
    const described = await harness.query<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM read_parquet(${path})`,
    );
    assert.deepEqual(
      described.map((row) => row.column_type),
      ['INTEGER', 'VARCHAR', 'DECIMAL(10,2)', 'DATE', 'TIMESTAMP', 'BOOLEAN', 'VARCHAR[]'],
    );
    const codecs = await harness.query(`SELECT DISTINCT compression FROM parquet_metadata(${path})`);
    assert.deepEqual(codecs, [{ compression: 'ZSTD' }]);
    await harness.runStep(
      filesWrite,
      { input: 'sales', path: 'out/snappy.parquet', compression: 'snappy' },
      { stepId: 'pq2' },
    );
    assert.deepEqual(
      await harness.query(
        `SELECT DISTINCT compression FROM parquet_metadata(${quoteLiteral(at('out/snappy.parquet'))})`,
      ),
      [{ compression: 'SNAPPY' }],
    );
  });

  it('writes JSON as one array and NDJSON as one object per line', async () => {
    await harness.runStep(
      filesWrite,
      { input: 'sales', path: 'out/sales.json', order_by: ['id'] },
      { stepId: 'json' },
    );
    const document = JSON.parse(await readFile(at('out/sales.json'), 'utf8')) as Record<string, unknown>[];
    assert.ok(Array.isArray(document));
    assert.deepEqual(document[1], {
      id: 2,
      name: 'say "hi"',
      amount: -3.25,
      day: '2024-02-29',
      seen: '2024-02-29 23:59:59',
      ok: false,
      tags: ['b'],
    });
    assert.deepEqual(
      await readBack(`read_json(${quoteLiteral(at('out/sales.json'))}, format = 'array')`),
      EXPECTED,
    );

    await harness.runStep(
      filesWrite,
      { input: 'sales', path: 'out/sales.ndjson', order_by: ['id'] },
      { stepId: 'ndjson' },
    );
    const lines = (await readFile(at('out/sales.ndjson'), 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[0] ?? ''), {
      id: 1,
      name: 'Müller, Anna',
      amount: 10.5,
      day: '2024-01-02',
      seen: '2024-01-02 08:30:00',
      ok: true,
      tags: ['a', 'c'],
    });
    assert.deepEqual(
      await readBack(`read_json(${quoteLiteral(at('out/sales.ndjson'))}, format = 'newline_delimited')`),
      EXPECTED,
    );
  });

  it('writes XLSX with a header row and real date cells', async () => {
    const result = await harness.runStep(
      filesWrite,
      { input: 'sales', path: 'out/sales.xlsx', order_by: ['id'] },
      { stepId: 'xlsx' },
    );
    assert.equal(result.rows, 3);
    // Read back through files.read, i.e. into DuckDB, where the cell types decide the column types.
    await harness.runStep(
      filesReadStep,
      { path: 'out/sales.xlsx', allow_empty: false },
      { stepId: 'xlsx_back' },
    );
    const described = await harness.query<{ column_name: string; column_type: string }>('DESCRIBE xlsx_back');
    assert.deepEqual(Object.fromEntries(described.map((row) => [row.column_name, row.column_type])), {
      id: 'BIGINT',
      name: 'VARCHAR',
      amount: 'DOUBLE',
      day: 'TIMESTAMP',
      seen: 'TIMESTAMP',
      ok: 'BOOLEAN',
      tags: 'VARCHAR',
    });
    assert.deepEqual(await readBack('xlsx_back'), EXPECTED);
    assert.deepEqual(await harness.query('SELECT tags FROM xlsx_back ORDER BY id'), [
      { tags: '[a, c]' },
      { tags: '[b]' },
      { tags: null },
    ]);

    const reader = new ExcelJS.stream.xlsx.WorkbookReader(at('out/sales.xlsx'), {
      styles: 'cache',
      sharedStrings: 'cache',
    });
    const seen: {
      sheet: string;
      header: ExcelJS.CellValue[];
      bold: boolean | undefined;
      day: ExcelJS.CellValue;
      dayFormat: string;
    }[] = [];
    for await (const sheet of reader) {
      for await (const row of sheet) {
        if (row.number === 1) {
          seen.push({
            sheet: (sheet as unknown as { name: string }).name,
            header: (row.values as ExcelJS.CellValue[]).slice(1),
            bold: row.getCell(1).font?.bold,
            day: null,
            dayFormat: '',
          });
        }
        if (row.number === 2 && seen[0])
          Object.assign(seen[0], { day: row.getCell(4).value, dayFormat: row.getCell(4).numFmt });
      }
    }
    assert.deepEqual(seen, [
      {
        sheet: 'sales',
        header: ['id', 'name', 'amount', 'day', 'seen', 'ok', 'tags'],
        bold: true,
        day: new Date(Date.UTC(2024, 0, 2)),
        dayFormat: 'yyyy-mm-dd',
      },
    ]);
  });
});

describe('files.write safety', () => {
  it('applies the requested file mode, given as a string or as an unquoted YAML number', async () => {
    await harness.runStep(
      filesWrite,
      { input: 'sales', path: 'out/private.csv', mode: '0660' },
      { stepId: 'mode' },
    );
    assert.equal((await stat(at('out/private.csv'))).mode & 0o777, 0o660);
    await harness.runStep(
      filesWrite,
      { input: 'sales', path: 'out/private.parquet', mode: 640 },
      { stepId: 'mode2' },
    );
    assert.equal((await stat(at('out/private.parquet'))).mode & 0o777, 0o640);
    assert.throws(
      () => filesWrite.config.parse({ input: 'sales', path: 'x.csv', mode: '0999' }),
      /chmod notation/,
    );
    assert.throws(
      () => filesWrite.config.parse({ input: 'sales', path: 'x.csv', mode: '4755' }),
      /chmod notation/,
    );
  });

  it('with if_exists: fail refuses to replace a file and leaves it as it was', async () => {
    await mkdir(at('keep'), { recursive: true });
    await writeFile(at('keep/report.csv'), 'previous\n');
    await assert.rejects(
      harness.runStep(
        filesWrite,
        { input: 'sales', path: 'keep/report.csv', if_exists: 'fail' },
        { stepId: 'nope' },
      ),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_OUTPUT_EXISTS');
        assert.equal(failure.message, 'Cannot write keep/report.csv: the file already exists');
        return true;
      },
    );
    assert.equal(await readFile(at('keep/report.csv'), 'utf8'), 'previous\n');
  });

  it('names the datasets there are when the input is unknown, writing nothing', async () => {
    await assert.rejects(
      harness.runStep(filesWrite, { input: 'sale', path: 'keep/report.csv' }, { stepId: 'typo' }),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_DATASET_UNKNOWN');
        assert.match(failure.hint ?? '', /Datasets so far: .*\bsales\b/);
        assert.doesNotMatch(failure.hint ?? '', /__pw_/);
        return true;
      },
    );
    assert.deepEqual(await readdir(at('keep')), ['report.csv']);
    assert.equal(await readFile(at('keep/report.csv'), 'utf8'), 'previous\n');
  });

  it('refuses to write over a folder and leaves no temporary file', async () => {
    await mkdir(at('keep/folder.csv'), { recursive: true });
    await assert.rejects(
      harness.runStep(filesWrite, { input: 'sales', path: 'keep/folder.csv' }, { stepId: 'folder' }),
      (error) => {
        assert.equal(pw(error).code, 'PW_OUTPUT_EXISTS');
        return true;
      },
    );
    assert.deepEqual((await readdir(at('keep'))).sort(), ['folder.csv', 'report.csv']);
  });

  it('a write that fails midway leaves the previous file untouched and no temporary file behind', async () => {
    await harness.query('CREATE TABLE big AS SELECT range AS n FROM range(10000)');
    const controller = new AbortController();
    controller.abort();
    await writeFile(at('keep/report.xlsx'), 'old workbook');
    await assert.rejects(
      harness.runStep(
        filesWrite,
        { input: 'big', path: 'keep/report.xlsx' },
        { stepId: 'aborted2', signal: controller.signal },
      ),
      (error) => pw(error).code === 'PW_CANCELLED',
    );
    assert.equal(await readFile(at('keep/report.xlsx'), 'utf8'), 'old workbook');
    assert.deepEqual((await readdir(at('keep'))).sort(), ['folder.csv', 'report.csv', 'report.xlsx']);
  });

  it('checks options against the format and order_by against the columns', async () => {
    assert.throws(
      () => filesWrite.config.parse({ input: 'sales', path: 'a.xlsx', compression: 'gzip' }),
      /compression does not apply to xlsx/,
    );
    assert.throws(
      () => filesWrite.config.parse({ input: 'sales', path: 'a.csv', compression: 'zstd' }),
      /allowed: none, gzip/,
    );
    assert.throws(
      () => filesWrite.config.parse({ input: 'sales', path: 'a.parquet', delimiter: ';' }),
      /'delimiter' applies to csv and tsv only/,
    );
    assert.deepEqual(
      filesWrite.inputs?.(filesWrite.config.parse({ input: 'sales', path: 'a.csv' }), ['sales']),
      ['sales'],
    );
    await assert.rejects(
      harness.runStep(
        filesWrite,
        { input: 'sales', path: 'out/x.csv', order_by: ['amont desc'] },
        { stepId: 'order' },
      ),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_SPEC_TYPE');
        assert.equal(failure.message, "order_by: dataset 'sales' has no column 'amont'");
        return true;
      },
    );
  });
});
