/**
 * Tests for reading worksheets: hand-made workbooks in LibreOffice's part order (worksheets before the
 * relationships and shared strings), read with callbacks that take their time, as the steps' do; and
 * the guard that keeps a shared-string reference from ever passing as data.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CellValue, Row } from 'exceljs';
import { asPwError as pw } from '../../testing/assertions.js';
import { handMadeWorkbook, zipBytes, type HandSheet, type ZipLayout } from '../../testing/zip-fixtures.js';
import type { InputFile } from './input-files.js';
import { readCell, readValue } from './xlsx-cells.js';
import { readEverySheet, readSheetRows, type RowVerdict } from './xlsx-sheet.js';

let folder: string;

async function workbookFile(
  name: string,
  sheets: HandSheet[],
  strings: string[] | undefined,
  layout: ZipLayout = { dataDescriptors: true },
): Promise<InputFile> {
  const bytes = zipBytes(handMadeWorkbook(sheets, strings), layout);
  const absolute = join(folder, name);
  await writeFile(absolute, bytes);
  return { absolute, relative: `books/${name}`, bytes: bytes.length };
}

function texts(row: Row): string[] {
  const values: string[] = [];
  row.eachCell((cell, column) => {
    const reading = readCell(cell, false);
    values[column - 1] = reading.kind === 'blank' || reading.kind === 'error' ? '' : reading.text;
  });
  return values;
}

const SHEETS: HandSheet[] = [
  {
    name: 'Sales, 2024',
    rows: [
      [{ shared: 0 }, { shared: 1 }],
      [1, { shared: 2 }],
    ],
  },
  { name: 'Flags', rows: [[{ shared: 3 }], [2.5]] },
];
const STRINGS = ['id', 'name', 'Müller', 'weight'];

before(async () => {
  folder = await mkdtemp(join(tmpdir(), 'pw-xlsx-sheet-'));
});
after(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('reading worksheets', () => {
  it('resolves shared strings stored after the worksheets, however slow the callbacks', async () => {
    const file = await workbookFile('libreoffice-order.xlsx', SHEETS, STRINGS);
    for (let round = 0; round < 3; round += 1) {
      const rows = new Map<string, string[][]>();
      const names = await readEverySheet(file, async (sheet) => {
        await sleep(5);
        const kept: string[][] = [];
        rows.set(`${sheet.position}:${sheet.name}`, kept);
        return async (row) => {
          await sleep(1);
          kept.push(texts(row));
        };
      });
      assert.deepEqual(names, ['Sales, 2024', 'Flags']);
      assert.deepEqual(Object.fromEntries(rows), {
        '1:Sales, 2024': [
          ['id', 'name'],
          ['1', 'Müller'],
        ],
        '2:Flags': [['weight'], ['2.5']],
      });
    }
  });

  it('reads one sheet by name or position, and stops when told to', async () => {
    const file = await workbookFile('stored.xlsx', SHEETS, STRINGS, { deflate: false });
    const seen: string[][] = [];
    let sheetName = '';
    await readSheetRows(
      file,
      'flags',
      (sheet) => {
        sheetName = sheet.name;
      },
      async (row): Promise<RowVerdict> => {
        await sleep(1);
        seen.push(texts(row));
        return 'continue';
      },
    );
    assert.equal(sheetName, 'Flags');
    assert.deepEqual(seen, [['weight'], ['2.5']]);

    const first: string[][] = [];
    await readSheetRows(
      file,
      1,
      () => undefined,
      (row) => {
        first.push(texts(row));
        return 'stop';
      },
    );
    assert.deepEqual(first, [['id', 'name']]);
  });

  it('fails with PW_INPUT_MALFORMED, naming file, sheet and cell, when text has no shared-string table', async () => {
    const file = await workbookFile(
      'no-strings.xlsx',
      [
        { name: 'Empty', rows: [] },
        {
          name: 'Data',
          rows: [
            [1, 2],
            [3, { shared: 0 }],
          ],
        },
      ],
      undefined,
    );
    const expected = (error: unknown): boolean => {
      const failure = pw(error);
      assert.equal(failure.code, 'PW_INPUT_MALFORMED');
      assert.equal(
        failure.message,
        "books/no-strings.xlsx sheet 'Data': cell B2 refers to a shared string, and the workbook has no shared-string table (xl/sharedStrings.xml)",
      );
      assert.deepEqual(failure.location, { file: 'books/no-strings.xlsx' });
      return true;
    };

    const handed: string[][] = [];
    await assert.rejects(
      readEverySheet(file, () => (row) => {
        handed.push(texts(row));
      }),
      expected,
    );
    assert.deepEqual(handed, [['1', '2']], 'the row holding the reference is never handed on');

    const read: string[][] = [];
    await assert.rejects(
      readSheetRows(
        file,
        'Data',
        () => undefined,
        (row) => {
          read.push(texts(row));
          return 'continue';
        },
      ),
      expected,
    );
    assert.deepEqual(read, [['1', '2']]);
  });

  it('never reads a shared-string reference as text', () => {
    assert.throws(
      () => readValue({ sharedString: 3 } as unknown as CellValue, undefined, false),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.match(failure.message, /shared string 3/);
        return true;
      },
    );
  });

  it('says which file is not a workbook', async () => {
    const absolute = join(folder, 'fake.xlsx');
    await writeFile(absolute, 'id,name\n1,a\n');
    await assert.rejects(
      readEverySheet({ absolute, relative: 'books/fake.xlsx', bytes: 12 }, () => undefined),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.equal(
          failure.message,
          'books/fake.xlsx: cannot read the workbook: the file is not a zip archive (or it is truncated)',
        );
        return true;
      },
    );
  });
});
