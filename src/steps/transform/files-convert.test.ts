/**
 * Tests for `files.convert`: workbooks written with exceljs, legacy .xls made from them by the real
 * LibreOffice (Debian's `libreoffice-calc-nogui`) once per file, and the CSV files checked byte for
 * byte, with their mode and group read back with stat.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import ExcelJS from 'exceljs';
import { join } from 'node:path';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError as pw } from '../../testing/assertions.js';
import { skipOrFailInCI } from '../../testing/require-service.js';
import { sofficeForTests, toLegacyXls, writeWorkbook } from '../../testing/workbook-fixtures.js';
import { handMadeWorkbook, zipBytes } from '../../testing/zip-fixtures.js';
import { filesConvertStep as filesConvert } from './files-convert.js';
import { parseGroupFile, resolveGroup } from './file-group.js';
import { csvField, isoDateText, plainNumber, SheetCsvWriter } from './sheet-csv.js';
import { sanitizeSheetName, sheetFileParts, workbookStem } from './sheet-file-names.js';

let harness: StepHarness;
let missing: string | undefined;

function needsSoffice(t: TestContext): boolean {
  if (missing === undefined) return true;
  skipOrFailInCI(t, 'soffice (libreoffice-calc-nogui)', missing);
  return false;
}

const at = (path: string): string => join(harness.projectDir, path);
const text = (path: string): Promise<string> => readFile(at(path), 'utf8');
const list = async (folder: string): Promise<string[]> => (await readdir(at(folder))).sort();

/** Conversion folders left in the run's workspace (there should be none). */
async function workspaceLeftovers(): Promise<string[]> {
  const names = await readdir(at('.pipewright/runs/test-run')).catch(() => [] as string[]);
  return names.filter((name) => name.startsWith('.convert-') || name.startsWith('.soffice-'));
}

const SALES_CSV =
  'id,name,day,amount,note\n' +
  '1,"Müller, ""Max""\nline 2",2024-01-15T10:30:00,1234.5,\n' +
  '2,plain,2024-02-01,0.1,x\n' +
  '3,,,0.0000001,\n';
const FLAGS_CSV = 'Flags of the week,,\nkey,flag,weight\na,true,2\nb,false,3.5\n';

/** A group of this machine other than the process's own, to see `group` applied. */
async function otherGroup(): Promise<{ name: string; gid: number }> {
  const groups = parseGroupFile(await readFile('/etc/group', 'utf8'));
  const own = process.getgid?.() ?? 0;
  const preferred = ['daemon', 'users', 'adm'].find((name) => groups.has(name) && groups.get(name) !== own);
  const [name, gid] = preferred
    ? [preferred, groups.get(preferred) ?? 0]
    : ([...groups].find(([, id]) => id !== own) ?? ['', 0]);
  assert.ok(name !== '', 'this machine has no group other than the process group');
  return { name, gid };
}

before(async () => {
  harness = await createStepHarness();
  const found = await sofficeForTests();
  missing = found.missing;
  await writeWorkbook(at('books/sales.xlsx'), {
    'Sales, 2024': [
      ['id', 'name', 'day', 'amount', 'note'],
      {
        cells: [1, 'Müller, "Max"\nline 2', new Date(Date.UTC(2024, 0, 15, 10, 30)), 1234.5, null],
        formats: { 3: 'yyyy-mm-dd hh:mm' },
      },
      { cells: [2, 'plain', new Date(Date.UTC(2024, 1, 1)), 0.1, 'x'], formats: { 3: 'yyyy-mm-dd' } },
      [3, null, null, 1e-7, null],
    ],
    Flags: [['Flags of the week'], ['key', 'flag', 'weight'], ['a', true, 2], ['b', false, 3.5]],
    Empty: [],
  });
  if (found.soffice !== undefined) await toLegacyXls(found.soffice, [at('books/sales.xlsx')]);
});
after(async () => {
  await harness.close();
});

describe('files.convert', () => {
  it('writes one CSV per sheet next to an .xlsx: RFC 4180 quoting, ISO dates, plain numbers', async () => {
    const result = await harness.runStep(filesConvert, { path: 'books/*.xlsx' }, { stepId: 'beside' });
    assert.deepEqual(await text('books/sales.Sales_2024.csv'), SALES_CSV);
    assert.equal(await text('books/sales.Flags.csv'), FLAGS_CSV);
    assert.equal(await text('books/sales.Empty.csv'), '');
    assert.equal(result.rows, 6);
    assert.deepEqual(result.outputs?.files, [
      'books/sales.Sales_2024.csv',
      'books/sales.Flags.csv',
      'books/sales.Empty.csv',
    ]);
    assert.deepEqual(result.outputs?.workbooks, ['books/sales.xlsx']);
    assert.deepEqual(
      harness.artifacts.filter((artifact) => artifact.stepId === 'beside').map((artifact) => artifact.name),
      ['sales.Sales_2024.csv', 'sales.Flags.csv', 'sales.Empty.csv'],
    );
    assert.equal(result.bytes, Buffer.byteLength(SALES_CSV) + Buffer.byteLength(FLAGS_CSV));
    assert.deepEqual(await workspaceLeftovers(), []);
  });

  it('converts an .xls into a folder with mode 0660 and a group, leaving no temporary file', async (t) => {
    if (!needsSoffice(t)) return;
    const group = await otherGroup();
    const result = await harness.runStep(
      filesConvert,
      { path: 'books/sales.xls', dir: 'out/csv', mode: '0660', group: group.name },
      { stepId: 'legacy' },
    );
    assert.deepEqual(await list('out/csv'), ['sales.Empty.csv', 'sales.Flags.csv', 'sales.Sales_2024.csv']);
    assert.equal(await text('out/csv/sales.Sales_2024.csv'), SALES_CSV);
    assert.equal(await text('out/csv/sales.Flags.csv'), FLAGS_CSV);
    for (const name of await list('out/csv')) {
      const info = await stat(at(`out/csv/${name}`));
      assert.equal(info.mode & 0o777, 0o660, name);
      assert.equal(info.gid, group.gid, name);
    }
    assert.equal(result.rows, 6);
    assert.deepEqual(await workspaceLeftovers(), []);
    assert.ok(
      !(await list('books')).some((name) => name.startsWith('.')),
      'no temporary file beside the workbook',
    );
  });

  it('converts the chosen sheets only; a sheet that is not there fails and writes nothing', async () => {
    const chosen = await harness.runStep(
      filesConvert,
      { path: 'books/sales.xlsx', dir: 'out/chosen', sheets: ['flags', 1] },
      { stepId: 'chosen' },
    );
    assert.deepEqual(chosen.outputs?.files, [
      'out/chosen/sales.Sales_2024.csv',
      'out/chosen/sales.Flags.csv',
    ]);
    assert.deepEqual(await list('out/chosen'), ['sales.Flags.csv', 'sales.Sales_2024.csv']);

    await assert.rejects(
      harness.runStep(
        filesConvert,
        { path: 'books/sales.xlsx', dir: 'out/none', sheets: ['Flags', 'Summary'] },
        { stepId: 'no_sheet' },
      ),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_NOT_FOUND');
        assert.equal(failure.message, "books/sales.xlsx: sheet 'Summary' not found");
        assert.equal(failure.path, 'with.sheets[1]');
        assert.equal(failure.found, "sheets 'Sales, 2024', 'Flags', 'Empty'");
        return true;
      },
    );
    assert.deepEqual(await list('out/none'), []);
  });

  it('if_exists: fail keeps existing files, skip leaves them, overwrite replaces them', async () => {
    const config = { path: 'books/sales.xlsx', dir: 'out/again', sheets: ['Flags'] };
    await harness.runStep(filesConvert, config, { stepId: 'first' });
    await writeFile(at('out/again/sales.Flags.csv'), 'edited by hand\n');

    await assert.rejects(
      harness.runStep(filesConvert, { ...config, if_exists: 'fail' }, { stepId: 'fail' }),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_OUTPUT_EXISTS');
        assert.equal(failure.message, 'Cannot write out/again/sales.Flags.csv: the file already exists');
        return true;
      },
    );
    assert.equal(await text('out/again/sales.Flags.csv'), 'edited by hand\n');

    const skipped = await harness.runStep(filesConvert, { ...config, if_exists: 'skip' }, { stepId: 'skip' });
    assert.deepEqual(skipped.outputs?.files, []);
    assert.deepEqual(skipped.outputs?.skipped, ['out/again/sales.Flags.csv']);
    assert.equal(await text('out/again/sales.Flags.csv'), 'edited by hand\n');

    const replaced = await harness.runStep(filesConvert, config, { stepId: 'overwrite' });
    assert.deepEqual(replaced.outputs?.files, ['out/again/sales.Flags.csv']);
    assert.equal(await text('out/again/sales.Flags.csv'), FLAGS_CSV);
    assert.deepEqual(await list('out/again'), ['sales.Flags.csv']);
  });

  it('a file that fails conversion fails the step; CSVs of earlier workbooks stay, its own are never written', async (t) => {
    if (!needsSoffice(t)) return;
    await harness.writeFile('mixed/a.xls', await readFile(at('books/sales.xls')));
    const noise = Buffer.alloc(4096);
    for (let index = 0; index < noise.length; index += 1) noise[index] = (index * 7919 + 13) % 251;
    await harness.writeFile('mixed/b.xls', noise);
    await assert.rejects(
      harness.runStep(filesConvert, { path: 'mixed/*.xls', sheets: ['Flags'] }, { stepId: 'mixed' }),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.match(failure.message, /^mixed\/b\.xls: LibreOffice cannot read it as an Excel workbook/);
        assert.deepEqual(failure.location, { file: 'mixed/b.xls' });
        return true;
      },
    );
    assert.deepEqual(await list('mixed'), ['a.Flags.csv', 'a.xls', 'b.xls']);
    assert.deepEqual(await workspaceLeftovers(), []);
  });

  it('a workbook whose text has no shared-string table fails and writes no CSV', async () => {
    const parts = handMadeWorkbook(
      [
        { name: 'Good', rows: [[1, 2]] },
        { name: 'Text', rows: [[1], [{ shared: 0 }]] },
      ],
      undefined,
    );
    await harness.writeFile('damaged/book.xlsx', zipBytes(parts, { dataDescriptors: true }));
    await assert.rejects(
      harness.runStep(filesConvert, { path: 'damaged/book.xlsx' }, { stepId: 'no_strings' }),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.equal(
          failure.message,
          "damaged/book.xlsx sheet 'Text': cell A2 refers to a shared string, and the workbook has no shared-string table (xl/sharedStrings.xml)",
        );
        return true;
      },
    );
    assert.deepEqual(await list('damaged'), ['book.xlsx']);
    assert.deepEqual(await workspaceLeftovers(), []);
  });

  it('a sheet abandoned while its spill file is being written raises no error later', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'pw-spill-'));
    const row = new ExcelJS.Workbook().addWorksheet('a').addRow([1, 'x', 2.5]);
    const uncaught: unknown[] = [];
    const record = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', record);
    try {
      // Abandoned at different moments, some while a spill write is under way.
      for (let index = 0; index < 300; index += 1) {
        const writer = new SheetCsvWriter(join(folder, `sheet-${index}.jsonl`), false);
        await writer.add(row);
        for (let wait = 0; wait < index % 6; wait += 1) await tick();
        writer.abandon();
      }
      await sleep(200);
    } finally {
      process.off('uncaughtException', record);
      await rm(folder, { recursive: true, force: true });
    }
    assert.deepEqual(uncaught, []);
  });

  it('refuses an unknown group, a bad mode, non-workbooks and two workbooks writing one CSV', async () => {
    await assert.rejects(
      harness.runStep(
        filesConvert,
        { path: 'books/sales.xlsx', dir: 'out/group', group: 'no-such-group-here' },
        { stepId: 'group' },
      ),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_SPEC_TYPE');
        assert.equal(failure.path, 'with.group');
        assert.equal(failure.message, "group 'no-such-group-here' does not exist on this machine");
        return true;
      },
    );
    await assert.rejects(readdir(at('out/group')), { code: 'ENOENT' });
    assert.throws(() => filesConvert.config.parse({ path: 'a.xlsx', mode: '4755' }), /chmod notation/);
    assert.throws(() => filesConvert.config.parse({ path: 'a.xlsx', to: 'parquet' }));

    await harness.writeFile('notes/readme.txt', 'not a workbook');
    await assert.rejects(
      harness.runStep(filesConvert, { path: 'notes/*' }, { stepId: 'text' }),
      (error) => pw(error).code === 'PW_SPEC_TYPE' && /is not a workbook by its name/.test(pw(error).message),
    );

    await harness.writeFile('twins/a/x.xlsx', await readFile(at('books/sales.xlsx')));
    await harness.writeFile('twins/b/x.xlsx', await readFile(at('books/sales.xlsx')));
    await assert.rejects(
      harness.runStep(
        filesConvert,
        { path: 'twins/*/x.xlsx', dir: 'out/twins', sheets: ['Flags'] },
        { stepId: 'twins' },
      ),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_OUTPUT_EXISTS');
        assert.equal(
          failure.message,
          "twins/b/x.xlsx sheet 'Flags' and twins/a/x.xlsx sheet 'Flags' would both be written to out/twins/x.Flags.csv",
        );
        return true;
      },
    );
  });

  it('names, numbers, dates and fields follow the documented rules', async () => {
    assert.equal(sanitizeSheetName('Sales, 2024', 1), 'Sales_2024');
    assert.equal(sanitizeSheetName('Q1 (draft)', 2), 'Q1_draft');
    assert.equal(sanitizeSheetName('Übersicht-Plan_v1.2', 3), 'Übersicht-Plan_v1_2');
    assert.equal(sanitizeSheetName('...', 4), 'sheet4');
    assert.deepEqual(sheetFileParts(['A b', 'a.b', 'A_B_2', 'x']), ['A_b', 'a_b_2', 'A_B_2_2', 'x']);
    assert.equal(workbookStem('/in/report.2024.xlsx'), 'report.2024');
    assert.equal(plainNumber(1e21), '1000000000000000000000');
    assert.equal(plainNumber(-1.5e-7), '-0.00000015');
    assert.equal(plainNumber(12.25), '12.25');
    assert.equal(isoDateText('2024-01-15 10:30:00'), '2024-01-15T10:30:00');
    assert.equal(isoDateText('1899-12-30 08:15:00'), '08:15:00');
    assert.equal(csvField('a "b"'), '"a ""b"""');
    assert.equal(csvField(' plain '), ' plain ');
    assert.equal(await resolveGroup(1234), 1234);
    assert.equal(await resolveGroup('42'), 42);
    assert.deepEqual(
      [...parseGroupFile('root:x:0:\n# comment\nstaff:x:50:anna,ben\nbroken\n')],
      [
        ['root', 0],
        ['staff', 50],
      ],
    );
  });
});
