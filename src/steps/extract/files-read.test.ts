/** Tests for `files.read` on CSV and TSV files (and input errors), with real files and a real DuckDB. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
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

describe('files.read csv and tsv', () => {
  it('reads a CSV with a header, detected types and a type override', async () => {
    const content = 'id,name,amount,day\n1,Anna,10.5,2024-01-02\n2,Bob,20,2024-01-03\n';
    await put('data/sales.csv', content);
    const result = await harness.runStep(
      filesRead,
      { path: 'data/sales.csv', columns: { id: 'INTEGER' } },
      { stepId: 'sales' },
    );
    assert.equal(result.rows, 2);
    assert.equal(result.bytes, Buffer.byteLength(content));
    assert.deepEqual(result.outputs, { files: ['data/sales.csv'], rejected_rows: 0 });
    assert.deepEqual(await types('sales'), { id: 'INTEGER', name: 'VARCHAR', amount: 'DOUBLE', day: 'DATE' });
    const rows = await harness.query(
      'SELECT id, name, amount, CAST(day AS VARCHAR) AS day FROM sales ORDER BY id',
    );
    assert.deepEqual(rows, [
      { id: 1, name: 'Anna', amount: 10.5, day: '2024-01-02' },
      { id: 2, name: 'Bob', amount: 20, day: '2024-01-03' },
    ]);
  });

  it('reads a TSV with CRLF line ends and a quoted field', async () => {
    await put('data/people.tsv', 'id\tname\tcity\r\n1\t"Smith, Anna"\tBerlin\r\n2\tBob\t"New\tYork"\r\n');
    const result = await harness.runStep(filesRead, { path: 'data/people.tsv' }, { stepId: 'people' });
    assert.equal(result.rows, 2);
    const rows = await harness.query('SELECT * FROM people ORDER BY id');
    assert.deepEqual(rows, [
      { id: 1, name: 'Smith, Anna', city: 'Berlin' },
      { id: 2, name: 'Bob', city: 'New\tYork' },
    ]);
  });

  it('reads every file matching a glob into one dataset with a source column', async () => {
    await put('in/2024-03.csv', 'day,value\n2024-03-01,3\n');
    await put('in/2024-01.csv', 'day,value\n2024-01-01,1\n2024-01-02,11\n');
    await put('in/2024-02.csv', 'day,value\n2024-02-01,2.5\n');
    await put('in/readme.txt', 'not data');
    const result = await harness.runStep(
      filesRead,
      { path: 'in/*.csv', source_column: 'source_file' },
      { stepId: 'monthly' },
    );
    assert.equal(result.rows, 4);
    assert.deepEqual(result.outputs?.files, ['in/2024-01.csv', 'in/2024-02.csv', 'in/2024-03.csv']);
    // 2.5 in the second file widens the column for all of them.
    assert.equal((await types('monthly')).value, 'DOUBLE');
    const rows = await harness.query('SELECT CAST(day AS VARCHAR) AS day, value, source_file FROM monthly');
    assert.deepEqual(rows, [
      { day: '2024-01-01', value: 1, source_file: 'in/2024-01.csv' },
      { day: '2024-01-02', value: 11, source_file: 'in/2024-01.csv' },
      { day: '2024-02-01', value: 2.5, source_file: 'in/2024-02.csv' },
      { day: '2024-03-01', value: 3, source_file: 'in/2024-03.csv' },
    ]);
  });

  it('refuses files whose headers differ, naming the odd one out', async () => {
    await put('mixed/a.csv', 'id,name\n1,a\n');
    await put('mixed/b.csv', 'name,id\nb,2\n');
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.match(failure.message, /^mixed\/b\.csv: its columns differ from those of mixed\/a\.csv/);
        assert.equal(failure.expected, 'id, name');
        assert.equal(failure.found, 'name, id');
      },
      harness.runStep(filesRead, { path: 'mixed/*.csv' }, { stepId: 'mixed' }),
    );
  });

  it('drops a UTF-8 byte order mark instead of gluing it to the first column name', async () => {
    await put('data/bom.csv', '\ufeffid,name\n1,a\n');
    await harness.runStep(filesRead, { path: 'data/bom.csv' }, { stepId: 'bom' });
    assert.deepEqual(Object.keys(await types('bom')), ['id', 'name']);
    assert.deepEqual(await harness.query('SELECT id FROM bom'), [{ id: 1 }]);
  });

  it('reads Latin-1 text with encoding: latin-1, and says so when it is missing', async () => {
    await put('data/latin.csv', Buffer.from('name;city\nM\xfcller;K\xf6ln\n', 'latin1'));
    await harness.runStep(
      filesRead,
      { path: 'data/latin.csv', delimiter: ';', encoding: 'latin-1' },
      { stepId: 'latin' },
    );
    assert.deepEqual(await harness.query('SELECT * FROM latin'), [{ name: 'Müller', city: 'Köln' }]);
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.match(failure.message, /^data\/latin\.csv:\d+: /);
        assert.match(failure.hint ?? '', /encoding: latin-1/);
      },
      harness.runStep(filesRead, { path: 'data/latin.csv', delimiter: ';' }, { stepId: 'latin_utf8' }),
    );
  });

  it('reads UTF-16 text with encoding: utf-16', async () => {
    const text = 'name,city\nMüller,Köln\n';
    await put('data/wide.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    await harness.runStep(filesRead, { path: 'data/wide.csv', encoding: 'utf-16' }, { stepId: 'wide' });
    assert.deepEqual(await harness.query('SELECT * FROM wide'), [{ name: 'Müller', city: 'Köln' }]);
  });

  it('honours skip, null_values and date_format', async () => {
    await put('data/export.csv', 'Exported by ERP\n\nday;amount\n15.01.2024;-\n16.01.2024;7\n');
    await harness.runStep(
      filesRead,
      { path: 'data/export.csv', delimiter: ';', skip: 2, null_values: ['-'], date_format: '%d.%m.%Y' },
      { stepId: 'export' },
    );
    assert.deepEqual(await types('export'), { day: 'DATE', amount: 'BIGINT' });
    assert.deepEqual(await harness.query('SELECT CAST(day AS VARCHAR) AS day, amount FROM export'), [
      { day: '2024-01-15', amount: null },
      { day: '2024-01-16', amount: 7 },
    ]);
  });
});

describe('files.read bad rows', () => {
  const bad = 'id,name,amount\n1,a,10\n2,b\n3,c,30,extra\n4,d,xx\n5,e,50\n';
  before(async () => {
    await put('data/bad.csv', bad);
  });

  it('on_error: fail names the file and line, without DuckDB boilerplate', async () => {
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.equal(failure.message, 'data/bad.csv:3: Expected Number of Columns: 3 Found: 2');
        assert.deepEqual(failure.location, { file: 'data/bad.csv', line: 3 });
        assert.equal(failure.found, '2,b');
        assert.doesNotMatch(failure.message, /Possible fixes|file =|strict_mode/);
      },
      harness.runStep(
        filesRead,
        { path: 'data/bad.csv', columns: { amount: 'INTEGER' } },
        { stepId: 'bad_fail' },
      ),
    );
    assert.equal(
      await harness
        .query("SELECT * FROM duckdb_tables() WHERE table_name LIKE '%bad_fail%'")
        .then((rows) => rows.length),
      0,
    );
  });

  it('on_error: skip keeps the good rows and counts the others', async () => {
    const result = await harness.runStep(
      filesRead,
      { path: 'data/bad.csv', columns: { amount: 'INTEGER' }, on_error: 'skip' },
      { stepId: 'bad_skip' },
    );
    assert.equal(result.rows, 2);
    assert.equal(result.outputs?.rejected_rows, 3);
    assert.deepEqual(await harness.query('SELECT id, name, amount FROM bad_skip ORDER BY id'), [
      { id: 1, name: 'a', amount: 10 },
      { id: 5, name: 'e', amount: 50 },
    ]);
    const warning = harness.logs.find((entry) => entry.stepId === 'bad_skip' && entry.level === 'warn');
    assert.match(warning?.message ?? '', /^3 bad row\(s\) skipped/);
    assert.equal(
      harness.artifacts.some((artifact) => artifact.name === 'bad_skip.rejects.csv'),
      false,
    );
  });

  it('on_error: quarantine writes the bad rows with line numbers and reasons to an artifact', async () => {
    const result = await harness.runStep(
      filesRead,
      { path: 'data/bad.csv', columns: { amount: 'INTEGER' }, on_error: 'quarantine' },
      { stepId: 'bad_quarantine' },
    );
    assert.equal(result.rows, 2);
    assert.equal(result.outputs?.rejected_rows, 3);
    const artifact = harness.artifacts.find((entry) => entry.name === 'bad_quarantine.rejects.csv');
    assert.ok(artifact, 'the rejects artifact is registered');
    assert.equal(
      artifact.path,
      join(
        harness.projectDir,
        '.pipewright',
        'artifacts',
        'test-run',
        'bad_quarantine',
        'bad_quarantine.rejects.csv',
      ),
    );
    const rejects = await harness.query<{
      file: string;
      line: number;
      error_type: string;
      error_message: string;
      original: string;
    }>(
      `SELECT file, line, error_type, error_message, original FROM read_csv(${quoteLiteral(artifact.path)}, header = true) ORDER BY line`,
    );
    assert.deepEqual(
      rejects.map((row) => [row.file, row.line, row.error_type, row.original]),
      [
        ['data/bad.csv', 3, 'MISSING COLUMNS', '2,b'],
        ['data/bad.csv', 4, 'TOO MANY COLUMNS', '3,c,30,extra'],
        ['data/bad.csv', 5, 'CAST', '4,d,xx'],
      ],
    );
    assert.match(rejects[2]?.error_message ?? '', /Could not convert string "xx" to 'INTEGER'/);
  });

  it('a value that does not fit an override type fails with its line', async () => {
    await put('data/dates.csv', 'id,day\n1,2024-01-01\n2,soon\n');
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.match(failure.message, /^data\/dates\.csv:3: Error when converting column "day"/);
        assert.match(failure.hint ?? '', /columns/);
      },
      harness.runStep(filesRead, { path: 'data/dates.csv', columns: { day: 'DATE' } }, { stepId: 'dates' }),
    );
  });

  it('rejects an unknown type name and an override for a column that does not exist', async () => {
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_SPEC_TYPE');
        assert.equal(failure.path, 'with.columns.id');
        assert.match(failure.message, /'INTEGR' is not a DuckDB type/);
      },
      harness.runStep(
        filesRead,
        { path: 'data/sales.csv', columns: { id: 'INTEGR' } },
        { stepId: 'bad_type' },
      ),
    );
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_SPEC_TYPE');
        assert.match(failure.message, /'amout' not found in data\/sales\.csv/);
        assert.equal(failure.expected, 'one of the columns in the input: id, name, amount, day');
      },
      harness.runStep(
        filesRead,
        { path: 'data/sales.csv', columns: { amout: 'DOUBLE' } },
        { stepId: 'bad_column' },
      ),
    );
  });

  it('keeps the previous dataset when a later read fails', async () => {
    await put('data/good.csv', 'id\n1\n2\n');
    await harness.runStep(filesRead, { path: 'data/good.csv' }, { stepId: 'kept' });
    await assert.rejects(harness.runStep(filesRead, { path: 'data/bad.csv' }, { stepId: 'kept' }));
    assert.deepEqual(await harness.query('SELECT id FROM kept ORDER BY id'), [{ id: 1 }, { id: 2 }]);
  });
});

describe('files.read missing and empty input', () => {
  it('names the glob and the folder searched when nothing matches', async () => {
    await put('landing/other.txt', 'x');
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_NOT_FOUND');
        assert.equal(failure.message, "No file matches 'landing/*.csv' (searched in landing)");
        assert.match(failure.hint ?? '', /contains: other\.txt/);
      },
      harness.runStep(filesRead, { path: 'landing/*.csv' }, { stepId: 'missing_glob' }),
    );
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_NOT_FOUND');
        assert.equal(failure.message, "Input file 'nowhere/x.csv' does not exist (looked in nowhere)");
        assert.match(failure.hint ?? '', /does not exist/);
      },
      harness.runStep(filesRead, { path: 'nowhere/x.csv' }, { stepId: 'missing_file' }),
    );
  });

  it('fails on a file with a header but no rows unless allow_empty is set', async () => {
    await put('data/header-only.csv', 'id,name\n');
    await rejectsOf(
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_EMPTY');
        assert.equal(failure.message, 'data/header-only.csv holds no rows');
      },
      harness.runStep(filesRead, { path: 'data/header-only.csv' }, { stepId: 'empty' }),
    );
    const result = await harness.runStep(
      filesRead,
      { path: 'data/header-only.csv', allow_empty: true },
      { stepId: 'empty_ok' },
    );
    assert.equal(result.rows, 0);
    assert.deepEqual(Object.keys(await types('empty_ok')), ['id', 'name']);
  });

  it('treats zero-byte files as empty and can build the declared columns', async () => {
    await put('data/zero.csv', '');
    await rejectsOf(
      (error) => assert.equal(pw(error).code, 'PW_INPUT_EMPTY'),
      harness.runStep(filesRead, { path: 'data/zero.csv' }, { stepId: 'zero' }),
    );
    const result = await harness.runStep(
      filesRead,
      { path: 'data/zero.csv', allow_empty: true, columns: { id: 'BIGINT' }, source_column: 'src' },
      { stepId: 'zero_ok' },
    );
    assert.equal(result.rows, 0);
    assert.deepEqual(await types('zero_ok'), { id: 'BIGINT', src: 'VARCHAR' });
  });

  it('rejects options that do not belong to the format before reading anything', () => {
    assert.throws(
      () => filesRead.config.parse({ path: 'data/sales.csv', sheet: 'Data' }),
      /'sheet' applies to xlsx and xls files only/,
    );
    assert.throws(
      () => filesRead.config.parse({ path: 'a.parquet', on_error: 'skip' }),
      /on_error: skip is not available for parquet/,
    );
    assert.throws(() => filesRead.config.parse({ path: 'a.csv', delimter: ';' }), /delimter/);
  });
});
