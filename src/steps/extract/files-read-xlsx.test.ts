/** Tests for `files.read` on XLSX workbooks written here with exceljs' streaming writer. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import ExcelJS from 'exceljs';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError as pw } from '../../testing/assertions.js';
import { quoteLiteral } from '../../core/sql-identifiers.js';
import { filesReadStep as filesRead } from './files-read.js';

let harness: StepHarness;

type Cells = ExcelJS.CellValue[];

/** Writes a workbook of named sheets; a row may carry per-cell number formats (1-based column → format). */
async function workbook(
  path: string,
  sheets: Record<string, (Cells | { cells: Cells; formats: Record<number, string> })[]>,
): Promise<void> {
  const absolute = join(harness.projectDir, path);
  await mkdir(dirname(absolute), { recursive: true });
  const writer = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: absolute,
    useStyles: true,
    useSharedStrings: true,
  });
  for (const [name, rows] of Object.entries(sheets)) {
    const sheet = writer.addWorksheet(name);
    for (const entry of rows) {
      const { cells, formats } = Array.isArray(entry) ? { cells: entry, formats: {} } : entry;
      const row = sheet.addRow(cells);
      for (const [column, format] of Object.entries(formats)) row.getCell(Number(column)).numFmt = format;
      row.commit();
    }
    sheet.commit();
  }
  await writer.commit();
}

const types = (table: string) => harness.columnTypes(table);

const when = new Date(Date.UTC(2024, 0, 15, 10, 30));

before(async () => {
  harness = await createStepHarness();
  await workbook('books/report.xlsx', {
    Notes: [['Read me first'], ['second line']],
    Data: [
      ['Monthly report'],
      ['id', 'name', null, 'when', 'total', 'link', 'check', 'id'],
      {
        cells: [
          1,
          { richText: [{ text: 'Mül' }, { font: { bold: true }, text: 'ler' }] },
          'x',
          when,
          { formula: 'A3*2', result: 2 },
          { text: 'site', hyperlink: 'https://example.com' },
          { error: '#N/A' },
          7,
        ],
        formats: { 4: 'yyyy-mm-dd hh:mm' },
      },
      {
        cells: [
          2,
          'Bauer',
          null,
          new Date(Date.UTC(2024, 1, 1)),
          { formula: 'A4*2', result: 4 },
          'plain',
          'ok',
          8,
        ],
        formats: { 4: 'dd/mm/yyyy' },
      },
      [],
      [3, 'Celik', 'z', null, { formula: 'A6*2', result: 6 }, null, 'ok', 9, null, 'stray'],
    ],
  });
});
after(async () => {
  await harness.close();
});

describe('files.read xlsx', () => {
  it('reads a sheet by name from a header row, with rich text, formulas, hyperlinks, dates and errors', async () => {
    const result = await harness.runStep(
      filesRead,
      { path: 'books/report.xlsx', sheet: 'Data', header_row: 2, source_column: 'src' },
      { stepId: 'report' },
    );
    assert.equal(result.rows, 3);
    assert.deepEqual(await types('report'), {
      id: 'BIGINT',
      name: 'VARCHAR',
      column_3: 'VARCHAR',
      when: 'TIMESTAMP',
      total: 'BIGINT',
      link: 'VARCHAR',
      check: 'VARCHAR',
      id_2: 'BIGINT',
      src: 'VARCHAR',
    });
    const rows = await harness.query(
      'SELECT id, name, column_3, CAST("when" AS VARCHAR) AS "when", total, link, "check", id_2, src FROM report',
    );
    assert.deepEqual(rows, [
      {
        id: 1,
        name: 'Müller',
        column_3: 'x',
        when: '2024-01-15 10:30:00',
        total: 2,
        link: 'site',
        check: null,
        id_2: 7,
        src: 'books/report.xlsx',
      },
      {
        id: 2,
        name: 'Bauer',
        column_3: null,
        when: '2024-02-01 00:00:00',
        total: 4,
        link: 'plain',
        check: 'ok',
        id_2: 8,
        src: 'books/report.xlsx',
      },
      {
        id: 3,
        name: 'Celik',
        column_3: 'z',
        when: null,
        total: 6,
        link: null,
        check: 'ok',
        id_2: 9,
        src: 'books/report.xlsx',
      },
    ]);
    const warnings = harness.logs
      .filter((entry) => entry.stepId === 'report' && entry.level === 'warn')
      .map((entry) => entry.message);
    assert.ok(
      warnings.includes(
        "books/report.xlsx sheet 'Data': header cell C2 is blank; the column is named column_3",
      ),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((message) =>
        message.startsWith(
          "books/report.xlsx sheet 'Data': 1 cell(s) hold Excel errors, read as NULL (first: G3 (#N/A))",
        ),
      ),
    );
    assert.ok(
      warnings.some((message) => /1 value\(s\) right or left of the header were ignored/.test(message)),
    );
  });

  it('selects a sheet by its position in tab order, and the first sheet by default', async () => {
    await harness.runStep(
      filesRead,
      { path: 'books/report.xlsx', sheet: 2, header_row: 2 },
      { stepId: 'by_index' },
    );
    assert.deepEqual(await harness.query('SELECT id FROM by_index'), [{ id: 1 }, { id: 2 }, { id: 3 }]);
    const first = await harness.runStep(filesRead, { path: 'books/report.xlsx' }, { stepId: 'first_sheet' });
    assert.equal(first.rows, 1);
    assert.deepEqual(await harness.query('SELECT * FROM first_sheet'), [{ 'Read me first': 'second line' }]);
  });

  it('reads only the cells of a range, taking its top row as the header', async () => {
    await harness.runStep(
      filesRead,
      { path: 'books/report.xlsx', sheet: 'data', range: 'B2:E4' },
      { stepId: 'ranged' },
    );
    assert.deepEqual(Object.keys(await types('ranged')), ['name', 'column_2', 'when', 'total']);
    assert.deepEqual(await harness.query('SELECT name, total FROM ranged'), [
      { name: 'Müller', total: 2 },
      { name: 'Bauer', total: 4 },
    ]);
  });

  it('turns a formula result under a date format into a timestamp, and mixed columns into text', async () => {
    await workbook('books/formulas.xlsx', {
      Sheet1: [
        ['due', 'code'],
        { cells: [{ formula: 'DATE(2024,3,1)', result: 45352 }, '00123'], formats: { 1: 'yyyy-mm-dd' } },
        { cells: [{ formula: 'DATE(2024,3,2)', result: 45353 }, 456], formats: { 1: 'yyyy-mm-dd' } },
      ],
    });
    await harness.runStep(filesRead, { path: 'books/formulas.xlsx' }, { stepId: 'formulas' });
    assert.deepEqual(await types('formulas'), { due: 'TIMESTAMP', code: 'VARCHAR' });
    assert.deepEqual(await harness.query('SELECT CAST(due AS VARCHAR) AS due, code FROM formulas'), [
      { due: '2024-03-01 00:00:00', code: '00123' },
      { due: '2024-03-02 00:00:00', code: '456' },
    ]);
  });

  it('applies column overrides, and fails on a cell that does not fit, naming sheet and cell', async () => {
    await workbook('books/amounts.xlsx', {
      Amounts: [
        ['item', 'qty', 'day'],
        ['a', 1, '2024-01-01'],
        ['b', 'two', '2024-01-02'],
        ['c', 3, 'later'],
      ],
    });
    await assert.rejects(
      harness.runStep(
        filesRead,
        { path: 'books/amounts.xlsx', columns: { qty: 'INTEGER', day: 'DATE' } },
        { stepId: 'amounts' },
      ),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.equal(
          failure.message,
          "books/amounts.xlsx sheet 'Amounts' cell B3: 'two' is not a valid INTEGER (column 'qty')",
        );
        assert.deepEqual(failure.location, { file: 'books/amounts.xlsx', line: 3 });
        return true;
      },
    );
    const skipped = await harness.runStep(
      filesRead,
      { path: 'books/amounts.xlsx', columns: { qty: 'INTEGER', day: 'DATE' }, on_error: 'skip' },
      { stepId: 'amounts_skip' },
    );
    assert.equal(skipped.outputs?.rejected_rows, 2);
    assert.deepEqual(await types('amounts_skip'), { item: 'VARCHAR', qty: 'INTEGER', day: 'DATE' });
    assert.deepEqual(await harness.query('SELECT item, qty, CAST(day AS VARCHAR) AS day FROM amounts_skip'), [
      { item: 'a', qty: 1, day: '2024-01-01' },
    ]);

    const quarantined = await harness.runStep(
      filesRead,
      { path: 'books/amounts.xlsx', columns: { qty: 'INTEGER', day: 'DATE' }, on_error: 'quarantine' },
      { stepId: 'amounts_q' },
    );
    assert.equal(quarantined.outputs?.rejected_rows, 2);
    const artifact = harness.artifacts.find((entry) => entry.name === 'amounts_q.rejects.csv');
    assert.ok(artifact);
    assert.deepEqual(
      await harness.query(
        `SELECT file, line, "column", error_message, original FROM read_csv(${quoteLiteral(artifact.path)}, header = true, all_varchar = true)`,
      ),
      [
        {
          file: 'books/amounts.xlsx',
          line: '3',
          column: 'qty',
          error_message: "cell B3: 'two' is not a valid INTEGER",
          original: 'b,two,2024-01-02',
        },
        {
          file: 'books/amounts.xlsx',
          line: '4',
          column: 'day',
          error_message: "cell C4: 'later' is not a valid DATE",
          original: 'c,3,later',
        },
      ],
    );
  });

  it('streams a sheet larger than one DuckDB chunk', async () => {
    const rows: Cells[] = [['n', 'half']];
    for (let n = 1; n <= 5000; n += 1) rows.push([n, n / 2]);
    await workbook('books/big.xlsx', { Big: rows });
    const result = await harness.runStep(filesRead, { path: 'books/big.xlsx' }, { stepId: 'big' });
    assert.equal(result.rows, 5000);
    assert.deepEqual(await types('big'), { n: 'BIGINT', half: 'DOUBLE' });
    assert.deepEqual(await harness.query('SELECT sum(n) AS n, sum(half) AS half, max(n) AS last FROM big'), [
      { n: 12502500, half: 6251250, last: 5000 },
    ]);
  });

  it('reports a missing sheet with the sheets there are, and an empty header row', async () => {
    await assert.rejects(
      harness.runStep(filesRead, { path: 'books/report.xlsx', sheet: 'Summary' }, { stepId: 'no_sheet' }),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_NOT_FOUND');
        assert.equal(failure.message, "books/report.xlsx: sheet 'Summary' not found");
        assert.equal(failure.found, "sheets 'Notes', 'Data'");
        return true;
      },
    );
    await assert.rejects(
      harness.runStep(
        filesRead,
        { path: 'books/report.xlsx', sheet: 'Data', header_row: 5 },
        { stepId: 'no_header' },
      ),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_EMPTY');
        assert.equal(failure.message, "books/report.xlsx sheet 'Data': row 5 holds no column names");
        return true;
      },
    );
  });

  it('says plainly when an .xlsx file is not a workbook', async () => {
    await writeFile(join(harness.projectDir, 'books', 'fake.xlsx'), 'id,name\n1,a\n');
    await assert.rejects(
      harness.runStep(filesRead, { path: 'books/fake.xlsx' }, { stepId: 'fake_book' }),
      (error) => {
        const failure = pw(error);
        assert.equal(failure.code, 'PW_INPUT_MALFORMED');
        assert.match(failure.message, /^books\/fake\.xlsx: /);
        return true;
      },
    );
  });
});
