/**
 * Tests for `files.read` on legacy .xls workbooks, converted by the real LibreOffice (Debian's
 * `libreoffice-calc-nogui`). The .xls fixtures are made once per file from .xlsx written with exceljs,
 * so the .xls and the .xlsx hold the same cells and must read the same. soffice starts a few times
 * here (about a second each), never per assertion.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError as pw } from '../../testing/assertions.js';
import { skipOrFailInCI } from '../../testing/require-service.js';
import { sofficeForTests, toLegacyXls, writeWorkbook } from '../../testing/workbook-fixtures.js';
import { filesReadStep as filesRead } from './files-read.js';
import { findSoffice } from './soffice.js';

let harness: StepHarness;
let missing: string | undefined;

/** Skips (outside CI) or fails (CI=true) when there is no soffice; true when the test may go on. */
function needsSoffice(t: TestContext): boolean {
  if (missing === undefined) return true;
  skipOrFailInCI(t, 'soffice (libreoffice-calc-nogui)', missing);
  return false;
}

const workspace = (): string => join(harness.projectDir, '.pipewright', 'runs', 'test-run');

/** The private conversion folders left in the run's workspace (there should be none). */
async function leftovers(): Promise<string[]> {
  const names = await readdir(workspace()).catch(() => [] as string[]);
  return names.filter((name) => name.startsWith('.soffice-'));
}

const SALES = [
  ['id', 'name', 'day', 'amount', 'note'],
  {
    cells: [1, 'Müller, "Max"\nline 2', new Date(Date.UTC(2024, 0, 15, 10, 30)), 1234.5, null],
    formats: { 3: 'yyyy-mm-dd hh:mm' },
  },
  { cells: [2, 'plain', new Date(Date.UTC(2024, 1, 1)), 0.1, 'x'], formats: { 3: 'yyyy-mm-dd' } },
  [3, null, null, 1e-7, null],
];

before(async () => {
  harness = await createStepHarness();
  const found = await sofficeForTests();
  missing = found.missing;
  const books = join(harness.projectDir, 'books');
  await writeWorkbook(join(books, 'sales.xlsx'), {
    'Sales, 2024': SALES,
    Flags: [['Flags of the week'], ['key', 'flag', 'weight'], ['a', true, 2], ['b', false, 3.5]],
  });
  await writeWorkbook(join(books, 'second.xlsx'), { Sales: SALES });
  if (found.soffice !== undefined) {
    await toLegacyXls(found.soffice, [join(books, 'sales.xlsx'), join(books, 'second.xlsx')]);
  }
});
after(async () => {
  await harness.close();
});

describe('files.read xls', () => {
  it('reads the same rows and types from an .xls as from the .xlsx it was made from', async (t) => {
    if (!needsSoffice(t)) return;
    const fromXls = await harness.runStep(
      filesRead,
      { path: 'books/sales.xls', source_column: 'src' },
      { stepId: 'sales_xls' },
    );
    await harness.runStep(filesRead, { path: 'books/sales.xlsx' }, { stepId: 'sales_xlsx' });
    assert.equal(fromXls.rows, 3);
    const types = {
      id: 'BIGINT',
      name: 'VARCHAR',
      day: 'TIMESTAMP',
      amount: 'DOUBLE',
      note: 'VARCHAR',
    };
    assert.deepEqual(await harness.columnTypes('sales_xls'), { ...types, src: 'VARCHAR' });
    assert.deepEqual(await harness.columnTypes('sales_xlsx'), types);
    const select = (table: string) =>
      harness.query(`SELECT id, name, CAST(day AS VARCHAR) AS day, amount, note FROM ${table} ORDER BY id`);
    const rows = await select('sales_xls');
    assert.deepEqual(rows, await select('sales_xlsx'));
    assert.deepEqual(rows, [
      { id: 1, name: 'Müller, "Max"\nline 2', day: '2024-01-15 10:30:00', amount: 1234.5, note: null },
      { id: 2, name: 'plain', day: '2024-02-01 00:00:00', amount: 0.1, note: 'x' },
      { id: 3, name: null, day: null, amount: 1e-7, note: null },
    ]);
    // Messages and source_column name the .xls, never the converted copy.
    assert.deepEqual(await harness.query('SELECT DISTINCT src FROM sales_xls'), [{ src: 'books/sales.xls' }]);
    assert.deepEqual(fromXls.outputs?.files, ['books/sales.xls']);
    assert.deepEqual(await leftovers(), []);
  });

  it('chooses sheets by name or position, with header_row and columns as for xlsx', async (t) => {
    if (!needsSoffice(t)) return;
    const byName = await harness.runStep(
      filesRead,
      { path: 'books/sales.xls', sheet: 'flags', header_row: 2, columns: { weight: 'DECIMAL(6,2)' } },
      { stepId: 'flags' },
    );
    assert.equal(byName.rows, 2);
    assert.deepEqual(await harness.columnTypes('flags'), {
      key: 'VARCHAR',
      flag: 'BOOLEAN',
      weight: 'DECIMAL(6,2)',
    });
    assert.deepEqual(await harness.query('SELECT key, flag, CAST(weight AS VARCHAR) AS w FROM flags'), [
      { key: 'a', flag: true, w: '2.00' },
      { key: 'b', flag: false, w: '3.50' },
    ]);
    await harness.runStep(
      filesRead,
      { path: 'books/sales.xls', sheet: 2, range: 'A2:B4' },
      { stepId: 'second' },
    );
    assert.deepEqual(await harness.query('SELECT * FROM second'), [
      { key: 'a', flag: true },
      { key: 'b', flag: false },
    ]);
    await assert.rejects(
      harness.runStep(filesRead, { path: 'books/sales.xls', sheet: 'Summary' }, { stepId: 'no_sheet' }),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_NOT_FOUND');
        assert.equal(failure.message, "books/sales.xls: sheet 'Summary' not found");
        assert.equal(failure.found, "sheets 'Sales, 2024', 'Flags'");
        return true;
      },
    );
    assert.deepEqual(await leftovers(), []);
  });

  it('two conversions at once both succeed, each with its own LibreOffice profile', async (t) => {
    if (!needsSoffice(t)) return;
    const [one, two] = await Promise.all([
      harness.runStep(filesRead, { path: 'books/sales.xls' }, { stepId: 'at_once_1' }),
      harness.runStep(filesRead, { path: 'books/second.xls', source_column: 'src' }, { stepId: 'at_once_2' }),
    ]);
    assert.equal(one.rows, 3);
    assert.equal(two.rows, 3);
    assert.deepEqual(await harness.query('SELECT DISTINCT src FROM at_once_2'), [
      { src: 'books/second.xls' },
    ]);
    assert.deepEqual(await leftovers(), []);
  });

  it('a file LibreOffice cannot read as a workbook fails with PW_INPUT_MALFORMED naming it', async (t) => {
    if (!needsSoffice(t)) return;
    const noise = Buffer.alloc(4096);
    for (let at = 0; at < noise.length; at += 1) noise[at] = (at * 7919 + 13) % 251;
    await writeFile(join(harness.projectDir, 'books', 'broken.xls'), noise);
    await assert.rejects(
      harness.runStep(filesRead, { path: 'books/broken.xls' }, { stepId: 'broken' }),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.match(failure.message, /^books\/broken\.xls: LibreOffice cannot read it as an Excel workbook/);
        assert.deepEqual(failure.location, { file: 'books/broken.xls' });
        assert.match(failure.hint ?? '', /HTML or CSV/);
        return true;
      },
    );
    assert.deepEqual(await leftovers(), []);
  });

  it('a missing soffice fails with PW_SOFFICE_MISSING naming the Debian package', async () => {
    // Needs no LibreOffice: the configured path is checked before anything is started.
    await assert.rejects(
      harness.runStep(
        filesRead,
        { path: 'books/sales.xls', soffice_path: 'no/such/soffice' },
        { stepId: 'no_soffice' },
      ),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_SOFFICE_MISSING');
        assert.equal(failure.path, 'with.soffice_path');
        assert.match(
          failure.message,
          /^Cannot read books\/sales\.xls: soffice_path names .*\/no\/such\/soffice/,
        );
        assert.match(failure.hint ?? '', /apt-get install libreoffice-calc-nogui/);
        return true;
      },
    );
    await assert.rejects(
      findSoffice(undefined, { PIPEWRIGHT_SOFFICE: '/opt/nothing/soffice' }, 'books/a.xls'),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_SOFFICE_MISSING');
        assert.match(failure.message, /PIPEWRIGHT_SOFFICE names \/opt\/nothing\/soffice/);
        return true;
      },
    );
  });

  it('takes the format from .xls and refuses options that do not belong to it', () => {
    assert.equal(filesRead.config.safeParse({ path: 'in/*.xls', sheet: 'Data' }).success, true);
    assert.throws(
      () => filesRead.config.parse({ path: 'a.csv', soffice_path: '/usr/bin/soffice' }),
      /'soffice_path' applies to xls files only, not csv/,
    );
    assert.throws(
      () => filesRead.config.parse({ path: 'a.xls', materialize: 'view' }),
      /materialize: view is not available for xls/,
    );
  });
});
