/**
 * XLSX input. DuckDB cannot read XLSX here (its excel extension cannot be installed offline), so rows
 * stream from exceljs' WorkbookReader into a VARCHAR staging table through a DuckDB appender, in
 * chunks, and one SELECT then types them into the dataset table.
 *
 * Types follow what Excel itself says a cell is, not what its text looks like: a column whose cells
 * are all numbers becomes BIGINT (all whole) or DOUBLE, all dates TIMESTAMP, all booleans BOOLEAN, and
 * anything mixed or textual VARCHAR, so a zip code typed as text keeps its leading zero. `columns`
 * overrides are cast on top of that; a cell that does not fit is a bad row for `on_error`. Rows with
 * no values are skipped; error cells (#N/A, #DIV/0!) are read as NULL with a warning.
 */
import type { DuckDBDataChunkWriter, DuckDBAppender } from '@duckdb/node-api';
import type { StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import type { FilesReadConfig } from './files-read-schema.js';
import type { InputFile } from './input-files.js';
import { checkColumnNames, overrideFor, writeRejects, type ReadOutcome } from './read-common.js';
import { columnLetters, parseRange, readCell, type CellKind, type CellRange } from './xlsx-cells.js';
import { buildHeader, type Header } from './xlsx-header.js';
import { readSheetRows } from './xlsx-sheet.js';

type KindCounts = Record<CellKind, number> & { allIntegral: boolean };

interface Column {
  name: string;
  staged: string;
  base: string;
  override: string | undefined;
  bad: string | undefined;
}

function inferType(counts: KindCounts): string {
  const present = (['number', 'date', 'boolean', 'string'] as const).filter((kind) => counts[kind] > 0);
  if (present.length !== 1) return 'VARCHAR';
  switch (present[0]) {
    case 'number':
      return counts.allIntegral ? 'BIGINT' : 'DOUBLE';
    case 'date':
      return 'TIMESTAMP';
    case 'boolean':
      return 'BOOLEAN';
    default:
      return 'VARCHAR';
  }
}

/** SQL for the column letters of a 1-based column number (A … XFD), for messages built in SQL. */
function lettersSql(n: string): string {
  return `CASE WHEN ${n} <= 26 THEN chr(64 + ${n})
    WHEN ${n} <= 702 THEN chr(64 + (${n} - 1) // 26) || chr(65 + (${n} - 1) % 26)
    ELSE chr(64 + ((${n} - 1) // 26 - 1) // 26) || chr(65 + ((${n} - 1) // 26 - 1) % 26) || chr(65 + (${n} - 1) % 26) END`;
}

class XlsxLoader {
  header: string[] | undefined;
  firstFile = '';
  readonly counts: KindCounts[] = [];
  readonly sheets = new Map<string, string>();
  #appender: DuckDBAppender | undefined;
  #writer: DuckDBDataChunkWriter | undefined;

  constructor(
    readonly ctx: StepContext,
    readonly config: FilesReadConfig,
    readonly staging: string,
    readonly headerRow: number,
    readonly range: CellRange | undefined,
  ) {}

  async start(names: string[], file: InputFile, where: string): Promise<void> {
    checkColumnNames(names, this.config.columns ?? {}, this.config.source_column, where);
    this.header = names;
    this.firstFile = file.relative;
    this.counts.push(...names.map(() => ({ number: 0, date: 0, boolean: 0, string: 0, allIntegral: true })));
    const columns = names.map((_, index) => `c${index} VARCHAR`).join(', ');
    await this.ctx.datasets.run(
      `CREATE TABLE ${quoteIdent(this.staging)} (__pw_file VARCHAR, __pw_row INTEGER, __pw_first INTEGER, ${columns})`,
    );
    const { DuckDBDataChunkWriter: ChunkWriter } = await import('@duckdb/node-api');
    this.#appender = await this.ctx.datasets.connection.createAppender(this.staging);
    this.#writer = ChunkWriter.forAppender(this.#appender);
  }

  finish(): void {
    this.#writer?.flush();
    this.#appender?.closeSync();
    this.#appender = undefined;
    this.#writer = undefined;
  }

  abandon(): void {
    try {
      this.#appender?.closeSync();
    } catch {
      // The staging table is dropped next; a failed flush loses nothing that matters.
    }
    this.#appender = undefined;
  }

  async loadFile(file: InputFile): Promise<void> {
    const { ctx, headerRow, range } = this;
    let sheet = '';
    let date1904 = false;
    let header: Header | undefined;
    let errorCells = 0;
    let firstError = '';
    let ignoredCells = 0;
    const where = (): string => `${file.relative} sheet '${sheet}'`;
    const missingHeader = (): PwError =>
      new PwError('PW_INPUT_EMPTY', `${where()}: row ${headerRow} holds no column names`, {
        location: { file: file.relative, line: headerRow },
        expected: `column names in row ${headerRow}`,
        found: 'an empty row',
        hint: 'Set header_row (and range) to where the table starts.',
      });

    await readSheetRows(
      file,
      this.config.sheet,
      (info) => {
        sheet = info.name;
        date1904 = info.date1904;
        this.sheets.set(file.relative, info.name);
      },
      async (row) => {
        if (ctx.signal.aborted)
          throw new PwError('PW_CANCELLED', 'The step was cancelled while reading XLSX rows');
        if (row.number < headerRow) return 'continue';
        if (range && row.number > range.bottom) return 'stop';
        if (row.number === headerRow) {
          header = buildHeader(row, range, date1904, where(), (message) => ctx.log.warn(message));
          if (!header) throw missingHeader();
          if (!this.header) await this.start(header.names, file, where());
          else if (header.names.join('\u0000') !== this.header.join('\u0000')) {
            throw new PwError(
              'PW_INPUT_MALFORMED',
              `${where()}: its columns differ from those of ${this.firstFile}`,
              {
                location: { file: file.relative, line: headerRow },
                expected: this.header.join(', '),
                found: header.names.join(', '),
                hint: 'Workbooks read into one dataset must share a header. Fix the file or read it with its own step.',
              },
            );
          }
          return 'continue';
        }
        if (!header) throw missingHeader();
        const width = header.names.length;
        const values: (string | null)[] = new Array<string | null>(width).fill(null);
        let hasValue = false;
        const first = header.first;
        row.eachCell((cell, column) => {
          const index = column - first;
          const reading = readCell(cell, date1904);
          if (reading.kind === 'blank') return;
          if (index < 0 || index >= width) {
            if (!range) ignoredCells += 1;
            return;
          }
          if (reading.kind === 'error') {
            errorCells += 1;
            if (firstError === '') firstError = `${columnLetters(column)}${row.number} (${reading.code})`;
            return;
          }
          values[index] = reading.text;
          hasValue = true;
          const counts = this.counts[index];
          if (counts) {
            counts[reading.kind] += 1;
            if (reading.kind === 'number' && !reading.integral) counts.allIntegral = false;
          }
        });
        if (hasValue) this.#writer?.appendRow([file.relative, row.number, first, ...values]);
        return 'continue';
      },
    );
    if (!header) throw missingHeader();
    if (errorCells > 0) {
      ctx.log.warn(
        `${where()}: ${errorCells} cell(s) hold Excel errors, read as NULL (first: ${firstError})`,
        { file: file.relative, cells: errorCells },
      );
    }
    if (ignoredCells > 0) {
      ctx.log.warn(
        `${where()}: ${ignoredCells} value(s) right or left of the header were ignored; set range to include them`,
        {
          file: file.relative,
          cells: ignoredCells,
        },
      );
    }
  }

  columns(): Column[] {
    const overrides = this.config.columns ?? {};
    return (this.header ?? []).map((name, index) => {
      const staged = quoteIdent(`c${index}`);
      const inferred = inferType(
        this.counts[index] ?? { number: 0, date: 0, boolean: 0, string: 0, allIntegral: true },
      );
      const base = inferred === 'VARCHAR' ? staged : `CAST(${staged} AS ${inferred})`;
      const override = overrideFor(overrides, name);
      const bad =
        override === undefined
          ? undefined
          : `(${staged} IS NOT NULL AND TRY_CAST(${base} AS ${override}) IS NULL)`;
      return { name, staged, base, override, bad };
    });
  }
}

function rejectsSql(staging: string, columns: readonly Column[], anyBad: string): string {
  const checked = columns
    .map((column, index) => ({ ...column, index }))
    .filter((column) => column.bad !== undefined);
  const names = checked
    .map((column) => `CASE WHEN ${column.bad} THEN ${quoteLiteral(column.name)} END`)
    .join(', ');
  const messages = checked
    .map(
      (column) =>
        `CASE WHEN ${column.bad} THEN 'cell ' || ${lettersSql(`(__pw_first + ${column.index})`)} || __pw_row || ': ''' || ${column.staged} || ''' is not a valid ${column.override ?? ''}' END`,
    )
    .join(', ');
  const original = columns.map((column) => `coalesce(${column.staged}, '')`).join(', ');
  return `SELECT __pw_file AS file, __pw_row AS line, concat_ws('; ', ${names}) AS "column", 'CAST' AS error_type,
      concat_ws('; ', ${messages}) AS error_message, concat_ws(',', ${original}) AS original
    FROM ${staging} WHERE ${anyBad} ORDER BY rowid`;
}

async function failOnFirstBadCell(
  loader: XlsxLoader,
  staging: string,
  columns: readonly Column[],
  anyBad: string,
): Promise<void> {
  const checked = columns
    .map((column, index) => ({ ...column, index }))
    .filter((column) => column.bad !== undefined);
  const flags = checked.map((column, k) => `${column.bad} AS b${k}, ${column.staged} AS v${k}`).join(', ');
  const rows = await loader.ctx.datasets.query(
    `SELECT __pw_file AS file, __pw_row AS line, __pw_first AS first, ${flags} FROM ${staging} WHERE ${anyBad} ORDER BY rowid LIMIT 1`,
  );
  const row = rows[0];
  if (!row) return;
  const k = checked.findIndex((_, position) => row[`b${position}`] === true);
  const column = checked[k];
  if (!column) return;
  const file = String(row.file);
  const line = Number(row.line);
  const cell = `${columnLetters(Number(row.first) + column.index)}${line}`;
  throw new PwError(
    'PW_INPUT_MALFORMED',
    `${file} sheet '${loader.sheets.get(file) ?? ''}' cell ${cell}: '${String(row[`v${k}`])}' is not a valid ${column.override ?? ''} (column '${column.name}')`,
    {
      location: { file, line },
      expected: `${column.override ?? ''}, from columns.${column.name}`,
      found: String(row[`v${k}`]),
      hint: 'Fix the cell, change the type under `columns`, or set on_error: skip or quarantine to set such rows aside.',
    },
  );
}

export async function readXlsx(
  ctx: StepContext,
  tempTable: string,
  files: readonly InputFile[],
  config: FilesReadConfig,
): Promise<ReadOutcome> {
  const range = config.range === undefined ? undefined : parseRange(config.range);
  const headerRow = config.header_row ?? range?.top ?? 1;
  if (range && (headerRow < range.top || headerRow > range.bottom)) {
    throw new PwError('PW_SPEC_TYPE', `header_row ${headerRow} lies outside range ${config.range ?? ''}`, {
      path: 'with.header_row',
      expected: `a row from ${range.top} to ${range.bottom}`,
      found: String(headerRow),
    });
  }
  const stagingName = `__pw_xlsx_${ctx.stepId}`;
  const staging = quoteIdent(stagingName);
  const loader = new XlsxLoader(ctx, config, stagingName, headerRow, range);
  await ctx.datasets.run(`DROP TABLE IF EXISTS ${staging}`);
  try {
    for (const file of files) await loader.loadFile(file);
    loader.finish();

    const columns = loader.columns();
    const anyBad = columns.flatMap((column) => (column.bad === undefined ? [] : [column.bad])).join(' OR ');
    let rejectedRows = 0;
    if (anyBad !== '') {
      if (config.on_error === 'fail') {
        await failOnFirstBadCell(loader, staging, columns, anyBad);
      } else {
        const counted = await ctx.datasets.query<{ n: number }>(
          `SELECT count(*) AS n FROM ${staging} WHERE ${anyBad}`,
        );
        rejectedRows = counted[0]?.n ?? 0;
        if (rejectedRows > 0 && config.on_error === 'quarantine')
          await writeRejects(ctx, rejectsSql(staging, columns, anyBad));
      }
    }
    const select = columns.map((column) => {
      const value =
        column.override === undefined ? column.base : `TRY_CAST(${column.base} AS ${column.override})`;
      return `${value} AS ${quoteIdent(column.name)}`;
    });
    if (config.source_column !== undefined) select.push(`__pw_file AS ${quoteIdent(config.source_column)}`);
    const keep = anyBad === '' || config.on_error === 'fail' ? '' : ` WHERE NOT (${anyBad})`;
    await ctx.datasets.run(`CREATE TABLE ${tempTable} AS SELECT ${select.join(', ')} FROM ${staging}${keep}`);
    return { rejectedRows };
  } finally {
    loader.abandon();
    await ctx.datasets.run(`DROP TABLE IF EXISTS ${staging}`).catch(() => undefined);
  }
}
