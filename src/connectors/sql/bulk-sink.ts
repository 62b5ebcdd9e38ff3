/**
 * The bulk path of `sql.query` (PostgreSQL): the server's `COPY (…) TO STDOUT` CSV goes into part files
 * of up to 32 MiB in the run's workspace, cut where rows end, and DuckDB reads each finished part with
 * read_csv (in parallel, natively) while the next part is being written; at most one part waits, so
 * disk and memory stay bounded and a slow DuckDB pauses the socket and with it the server's COPY.
 *
 * Values come out exactly as on the cursor path: each column's text is read as its mapping's
 * `fromText` says and staged to what the mapping's `convert` would have given, then cast to the same
 * target type. Rows go into a staging table in the run database; at the end it becomes the step's
 * dataset inside `replaceOutput` (renamed, or cast once more when a target depends on the values seen,
 * as for numeric without precision), so the dataset appears whole or not at all. Part files are
 * removed as soon as they are read, and the folder in every case.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepContext } from '../../core/step.js';
import type { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import type { BulkSource } from './driver.js';
import {
  castFailure,
  checkNames,
  prepareColumns,
  type PreparedColumn,
  type SinkResult,
} from './duckdb-sink.js';
import type { CopyOutStream } from './postgres-copy.js';

/**
 * Size at which a part file is closed and handed to DuckDB (at the next row end): 4 MiB for the first,
 * so DuckDB starts early, doubling up to 32 MiB.
 */
const FIRST_PART_BYTES = 4 * 1024 * 1024;
const PART_BYTES = 32 * 1024 * 1024;
/** Pieces from the socket are small (one read each): they are written a megabyte at a time. */
const WRITE_BYTES = 1024 * 1024;
/** DuckDB's default line limit, and the read buffer that goes with it. */
const MIN_LINE_BYTES = 2 * 1024 * 1024;
const MIN_BUFFER_BYTES = 32 * 1024 * 1024;
/** PostgreSQL errors that mean COPY does not take this kind of statement (`SHOW`, `EXPLAIN`, …). */
const NOT_COPYABLE = new Set(['0A000', '42601']);

export interface BulkOptions {
  label: string;
  /** A database error of the copy as this step's PwError. */
  fail(error: unknown): Error;
}

/** A part file, closed and waiting to be read. */
interface Part {
  path: string;
  /** Rows of the result before this part's first. */
  firstRow: number;
  longest: number;
}

/** Why the bulk path cannot take the result (the caller streams it through a cursor instead). */
export class BulkRefused {
  constructor(readonly reason: string) {}
}

/** The columns' bulk reading, or why one of them has none. */
export function bulkColumns(
  source: BulkSource,
  overrides: Readonly<Record<string, string>>,
  label: string,
): PreparedColumn[] | BulkRefused {
  const columns = prepareColumns(source, overrides, label);
  const unread = columns.find((column) => column.mapping.fromText === undefined);
  if (unread !== undefined) {
    return new BulkRefused(
      `column '${unread.name}' is ${unread.sourceType}, which COPY's CSV does not carry exactly`,
    );
  }
  checkNames(columns, label);
  return columns;
}

export async function copyIntoDataset(
  ctx: StepContext,
  source: BulkSource,
  columns: readonly PreparedColumn[],
  options: BulkOptions,
): Promise<SinkResult | BulkRefused> {
  const staging = `__pw_copy_${ctx.stepId}`;
  const stagingRef = `main.${quoteIdent(staging)}`;
  const folder = join(ctx.workspaceDir, `.pw-copy-${randomBytes(6).toString('hex')}`);
  const summarized = columns.map((column) => column.mapping.summarize !== undefined);
  // Targets known up front are cast while reading; the others wait for their summary.
  const stagedTypes = columns.map((column, index) =>
    summarized[index] ? column.mapping.staging : column.mapping.target(),
  );
  const reader = new PartReader(ctx, columns, stagingRef, stagedTypes, options.label);
  await ctx.datasets.run(`DROP TABLE IF EXISTS ${stagingRef}`);
  await ctx.datasets.run(
    `CREATE TABLE ${stagingRef} (${columns.map((column, index) => `${quoteIdent(column.name)} ${stagedTypes[index] ?? 'VARCHAR'}`).join(', ')})`,
  );
  try {
    await mkdir(folder, { recursive: true });
    const started = Date.now();
    const copy = source.copy();
    let rows: number;
    try {
      rows = await writeParts(copy, folder, reader);
    } catch (error) {
      const fromServer = copy.errored === error;
      copy.destroy();
      await reader.settle();
      if (reader.failure !== undefined) throw reader.failure;
      const code = (error as { code?: unknown }).code;
      if (fromServer && !copy.started && typeof code === 'string' && NOT_COPYABLE.has(code)) {
        return new BulkRefused(`COPY does not take this statement (${(error as Error).message})`);
      }
      throw fromServer ? options.fail(error) : error;
    }
    ctx.log.debug(
      `${rows} rows copied and read in ${Date.now() - started} ms, in ${reader.parts} part files`,
    );
    if (copy.reportedRows !== undefined && copy.reportedRows !== rows) {
      throw new Error(`COPY reported ${copy.reportedRows} rows, ${rows} were read`);
    }
    for (const column of columns) {
      const summary = column.mapping.summarize;
      if (summary === undefined) continue;
      const selects = summary.select(quoteIdent(column.name));
      const [found] = await ctx.datasets.query(
        `SELECT ${selects.map((select, at) => `${select} AS v${at}`).join(', ')} FROM ${stagingRef}`,
      );
      summary.take(selects.map((_, at) => found?.[`v${at}`]));
    }
    const targets = columns.map((column) => column.mapping.target());
    const notes = columns.flatMap((column) => column.mapping.note?.() ?? []);
    const castLater = columns.some((_, index) => summarized[index] && targets[index] !== stagedTypes[index]);
    try {
      await ctx.datasets.replaceOutput(
        async (table) => {
          if (!castLater) {
            await ctx.datasets.run(`ALTER TABLE ${stagingRef} RENAME TO ${table}`);
            return;
          }
          const select = columns
            .map((column, index) => {
              const staged = quoteIdent(column.name);
              const value =
                targets[index] === stagedTypes[index]
                  ? staged
                  : `CAST(${staged} AS ${targets[index] ?? 'VARCHAR'})`;
              return `${value} AS ${quoteIdent(column.name)}`;
            })
            .join(', ');
          await ctx.datasets.run(`CREATE TABLE ${table} AS SELECT ${select} FROM ${stagingRef}`);
        },
        { countRows: false },
      );
    } catch (error) {
      const names = (index: number) => columns[index]?.name ?? '';
      throw (await castFailure(ctx, stagingRef, columns, targets, options.label, 0, names)) ?? error;
    }
    return {
      rows,
      notes,
      columns: columns.map((column, index) => ({ name: column.name, type: targets[index] ?? 'VARCHAR' })),
    };
  } finally {
    await ctx.datasets.run(`DROP TABLE IF EXISTS ${stagingRef}`).catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  }
}

/** Writes the copy into part files, handing each finished one to the reader; returns the rows copied. */
async function writeParts(copy: CopyOutStream, folder: string, reader: PartReader): Promise<number> {
  let rows = 0;
  let index = 0;
  let file: FileHandle | undefined;
  let part: Part | undefined;
  let bytes = 0;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    if (batched > 0) await file?.writev(batch);
    batch = [];
    batched = 0;
  };
  const finish = async () => {
    if (file === undefined || part === undefined) return;
    await flush();
    await file.close();
    file = undefined;
    await reader.enqueue(part);
    part = undefined;
  };
  try {
    for await (const piece of copy as AsyncIterable<{
      data: Buffer;
      rows: number;
      endsRow: boolean;
      longest: number;
    }>) {
      reader.throwIfFailed();
      if (file === undefined || part === undefined) {
        index += 1;
        part = { path: join(folder, `part-${index}.csv`), firstRow: rows, longest: 0 };
        file = await open(part.path, 'w');
        bytes = 0;
      }
      if (piece.data.length > 0) {
        batch.push(piece.data);
        batched += piece.data.length;
        if (batched >= WRITE_BYTES) await flush();
      }
      bytes += piece.data.length;
      rows += piece.rows;
      part.longest = Math.max(part.longest, piece.longest);
      if (piece.endsRow && bytes >= Math.min(PART_BYTES, FIRST_PART_BYTES * 2 ** (index - 1))) await finish();
    }
    await finish();
    await reader.drain();
    return rows;
  } finally {
    await file?.close().catch(() => undefined);
  }
}

/**
 * Reads finished parts into the staging table, one at a time, in order. `enqueue` waits while a part is
 * still being read, which holds back the copy.
 */
class PartReader {
  failure: Error | undefined;
  parts = 0;
  #running: Promise<void> = Promise.resolve();

  constructor(
    readonly ctx: StepContext,
    readonly columns: readonly PreparedColumn[],
    readonly stagingRef: string,
    readonly stagedTypes: readonly string[],
    readonly label: string,
  ) {}

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async enqueue(part: Part): Promise<void> {
    await this.#running;
    this.throwIfFailed();
    this.#running = this.#read(part).catch((error: unknown) => {
      this.failure = error instanceof Error ? error : new Error(String(error));
    });
  }

  /** Waits for the part being read, whatever its outcome. */
  async settle(): Promise<void> {
    await this.#running;
  }

  async drain(): Promise<void> {
    await this.#running;
    this.throwIfFailed();
  }

  async #read(part: Part): Promise<void> {
    const values = this.columns.map((column, index) => {
      const staged = stagedValue(column, index);
      const type = this.stagedTypes[index] ?? 'VARCHAR';
      return type === column.mapping.staging ? staged : `CAST(${staged} AS ${type})`;
    });
    const started = Date.now();
    try {
      await this.ctx.datasets.run(
        `INSERT INTO ${this.stagingRef} SELECT ${values.join(', ')} FROM ${this.#readCsv(part)}`,
      );
    } catch (error) {
      throw (this.ctx.signal.aborted ? undefined : await this.#explain(part)) ?? error;
    }
    this.parts += 1;
    this.ctx.log.debug(
      `part file ${this.parts} (rows from ${part.firstRow + 1}) read in ${Date.now() - started} ms`,
    );
    await rm(part.path, { force: true });
  }

  #readCsv(part: Part): string {
    const types = this.columns
      .map(
        (column, index) =>
          `${quoteLiteral(`c${index}`)}: ${quoteLiteral(column.mapping.fromText?.read ?? 'VARCHAR')}`,
      )
      .join(', ');
    const line = Math.max(MIN_LINE_BYTES, part.longest + 1024);
    return `read_csv(${quoteLiteral(part.path)}, columns = {${types}}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', new_line = '\\n', nullstr = '\\N', allow_quoted_nulls = false, max_line_size = ${line}, buffer_size = ${Math.max(MIN_BUFFER_BYTES, line)})`;
  }

  /** A value of the part that does not cast to its column's type, as the cursor path would name it. */
  async #explain(part: Part): Promise<PwError | undefined> {
    const probe = `temp.main.${quoteIdent(`__pw_copy_probe_${this.ctx.stepId}`)}`;
    const staged = this.columns.map((column, index) => {
      return `${stagedValue(column, index)} AS c${index}`;
    });
    try {
      await this.ctx.datasets.run(
        `CREATE OR REPLACE TEMP TABLE ${quoteIdent(`__pw_copy_probe_${this.ctx.stepId}`)} AS SELECT ${staged.join(', ')} FROM ${this.#readCsv(part)}`,
      );
      return await castFailure(this.ctx, probe, this.columns, this.stagedTypes, this.label, part.firstRow);
    } catch {
      return undefined;
    } finally {
      await this.ctx.datasets.run(`DROP TABLE IF EXISTS ${probe}`).catch(() => undefined);
    }
  }
}

/** The staged value of CSV column `c<index>`: NULL stays NULL, whatever the staging expression does. */
function stagedValue(column: PreparedColumn, index: number): string {
  const read = quoteIdent(`c${index}`);
  const staged = column.mapping.fromText?.stage(read) ?? read;
  return staged === read ? read : `CASE WHEN ${read} IS NULL THEN NULL ELSE ${staged} END`;
}
