/**
 * The `files.convert` step: turns every sheet (or the chosen sheets) of XLSX or legacy XLS workbooks
 * into CSV files, `<stem>.<sheet>.csv`, next to each workbook or in `dir`. Legacy `.xls` goes through
 * LibreOffice first, exactly as in `files.read`. Workbooks are converted one at a time in path order.
 *
 * A workbook's CSVs are first written under temporary names beside their targets and given their
 * group and mode; only when every chosen sheet was written are they renamed into place, so a workbook
 * that fails part-way (a damaged file, a missing sheet) leaves no CSV of its own behind and existing
 * files untouched. Each CSV written is registered as an artifact of the run, as `files.write` does.
 */
import { chmod, chown, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { defineStep, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { removeStaleTemporaries, temporaryPathFor } from '../../engine/atomic-file.js';
import { displayPath } from '../extract/duckdb-errors.js';
import { readFormatFromPath } from '../extract/file-format.js';
import { findInputFiles, type InputFile } from '../extract/input-files.js';
import { findSoffice, SofficeConverter } from '../extract/soffice.js';
import { parseMode } from '../load/files-write-schema.js';
import { resolveGroup } from './file-group.js';
import { filesConvertConfig, type ConvertSource, type FilesConvertConfig } from './files-convert-schema.js';
import type { Row } from 'exceljs';
import { sheetFileParts, workbookStem } from './sheet-file-names.js';
import { SheetCsvWriter, type SheetCsvResult } from './sheet-csv.js';
import type { SheetEntry } from '../extract/xlsx-sheet.js';

type Selector = string | number;

interface SheetRecord {
  workbook: string;
  sheet: string;
  /** The CSV, relative to the project folder (absolute when outside it). */
  path: string;
  rows: number;
  status: 'written' | 'skipped';
}

interface Converted {
  records: SheetRecord[];
  /** Absolute paths of the CSVs put in place. */
  placed: string[];
}

interface Pending {
  sheet: string;
  target: string;
  shown: string;
  writer: SheetCsvWriter;
  temp?: string;
  result?: SheetCsvResult;
  placed?: boolean;
}

/** What stays the same for every workbook of one run of the step. */
interface Job {
  ctx: StepContext;
  config: FilesConvertConfig;
  work: string;
  mode: number | undefined;
  gid: number | undefined;
  dir: string | undefined;
  /** Target → the workbook sheet that writes it, so two never write the same file. */
  claimed: Map<string, string>;
  spills: number;
}

function sourceFormat(config: FilesConvertConfig, file: InputFile): ConvertSource {
  if (config.from !== undefined) return config.from;
  const format = readFormatFromPath(file.relative);
  if (format === 'xlsx' || format === 'xls') return format;
  throw new PwError('PW_SPEC_TYPE', `${file.relative} is not a workbook by its name`, {
    path: 'with.path',
    location: { file: file.relative },
    expected: 'files ending in .xlsx or .xls',
    found: file.relative,
    hint: 'Narrow the glob to workbooks (e.g. inbox/*.xls), or set from: xlsx or xls if the names have no such extension.',
  });
}

function describeSelector(selector: Selector): string {
  return typeof selector === 'number' ? `sheet number ${selector}` : `sheet '${selector}'`;
}

function matches(selector: Selector, name: string, position: number): boolean {
  return typeof selector === 'number' ? selector === position : selector.toLowerCase() === name.toLowerCase();
}

/** Fails when a chosen sheet is not among `names` (the workbook's sheets in tab order). */
function checkSelection(
  selectors: readonly Selector[] | undefined,
  names: readonly string[],
  file: string,
): void {
  const index = (selectors ?? []).findIndex(
    (selector) => !names.some((name, at) => matches(selector, name, at + 1)),
  );
  const missing = selectors?.[index];
  if (missing === undefined) return;
  throw new PwError('PW_INPUT_NOT_FOUND', `${file}: ${describeSelector(missing)} not found`, {
    location: { file },
    path: `with.sheets[${index}]`,
    expected: describeSelector(missing),
    found: names.length > 0 ? `sheets ${names.map((name) => `'${name}'`).join(', ')}` : 'no worksheets',
    hint: 'List sheet names (case does not matter) or 1-based positions in tab order, or leave out `sheets` to convert them all.',
  });
}

function writeFailure(error: unknown, shown: string, job: Job): PwError {
  if (error instanceof PwError) return error;
  if (job.ctx.signal.aborted) return new PwError('PW_CANCELLED', `Writing ${shown} was cancelled`);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EPERM' && job.gid !== undefined) {
    return new PwError('PW_OUTPUT_WRITE', `Cannot give ${shown} to group ${String(job.config.group)}`, {
      path: 'with.group',
      hint: 'Only root, or a member of the group, may give a file to it: add the Pipewright user to the group, or leave out `group`.',
      cause: error,
    });
  }
  return new PwError('PW_OUTPUT_WRITE', `Cannot write ${shown}: ${(error as Error).message}`, {
    hint: 'Check free disk space and that the folder is writable by the Pipewright process.',
    cause: error,
  });
}

async function existing(target: string, shown: string, job: Job): Promise<boolean> {
  const found = await stat(target).catch(() => undefined);
  if (found?.isDirectory()) {
    throw new PwError('PW_OUTPUT_EXISTS', `Cannot write ${shown}: it is a folder`, {
      expected: 'a file path',
      found: 'an existing folder',
      hint: 'Move the folder away, or set `dir` to write the CSV files elsewhere.',
    });
  }
  if (found && job.config.if_exists === 'fail') {
    throw new PwError('PW_OUTPUT_EXISTS', `Cannot write ${shown}: the file already exists`, {
      path: 'with.if_exists',
      hint: 'Set if_exists: overwrite to replace it or skip to keep it, or set `dir` to a folder per run.',
    });
  }
  return found !== undefined;
}

/** Writes the CSVs of one workbook; `readable` is the .xlsx to read (a converted copy for .xls). */
async function convertWorkbook(job: Job, file: InputFile, readable: InputFile): Promise<Converted> {
  const { ctx, config } = job;
  // exceljs takes a noticeable share of start-up; load it only when a workbook is converted.
  const { readEverySheet } = await import('../extract/xlsx-sheet.js');
  const folder = job.dir ?? dirname(file.absolute);
  const stem = workbookStem(file.absolute);
  const pending: Pending[] = [];
  const records: SheetRecord[] = [];
  const placed: string[] = [];
  let selectionChecked = false;

  const onSheet = async (entry: SheetEntry) => {
    if (!selectionChecked && entry.names.length > 0) {
      checkSelection(config.sheets, entry.names, file.relative);
      selectionChecked = true;
    }
    if (config.sheets && !config.sheets.some((selector) => matches(selector, entry.name, entry.position)))
      return undefined;
    const parts = sheetFileParts(entry.names.length > 0 ? entry.names : [entry.name]);
    const part = (entry.names.length > 0 ? parts[entry.position - 1] : parts[0]) ?? `sheet${entry.position}`;
    const target = join(folder, `${stem}.${part}.csv`);
    const shown = displayPath(ctx.projectDir, target);
    const where = `${file.relative} sheet '${entry.name}'`;
    const other = job.claimed.get(target);
    if (other !== undefined) {
      throw new PwError('PW_OUTPUT_EXISTS', `${where} and ${other} would both be written to ${shown}`, {
        location: { file: file.relative },
        hint: 'Two workbooks with the same name (or sheets whose names differ only in punctuation) meet in one folder; convert them with separate steps or leave out `dir` so each CSV stays next to its workbook.',
      });
    }
    job.claimed.set(target, where);
    if ((await existing(target, shown, job)) && config.if_exists === 'skip') {
      records.push({ workbook: file.relative, sheet: entry.name, path: shown, rows: 0, status: 'skipped' });
      return undefined;
    }
    job.spills += 1;
    const writer = new SheetCsvWriter(join(job.work, `sheet-${job.spills}.jsonl`), entry.date1904);
    pending.push({ sheet: entry.name, target, shown, writer });
    return async (row: Row) => {
      if (ctx.signal.aborted) throw new PwError('PW_CANCELLED', `Converting ${file.relative} was cancelled`);
      // The reader would call any failure here a damaged workbook; a full disk is not that.
      await writer.add(row).catch((error: unknown) => {
        throw writeFailure(error, shown, job);
      });
    };
  };

  let current = file.relative;
  try {
    await mkdir(folder, { recursive: true }).catch((error: unknown) => {
      throw writeFailure(error, displayPath(ctx.projectDir, folder), job);
    });
    const names = await readEverySheet(readable, onSheet);
    checkSelection(config.sheets, names, file.relative);
    for (const item of pending) {
      current = item.shown;
      await removeStaleTemporaries(item.target);
      item.temp = temporaryPathFor(item.target);
      item.result = await item.writer.finish(item.temp);
      if (job.gid !== undefined) await chown(item.temp, -1, job.gid);
      if (job.mode !== undefined) await chmod(item.temp, job.mode);
    }
    for (const item of pending) {
      current = item.shown;
      const rows = item.result?.rows ?? 0;
      // Checked again: the file may have appeared while the workbook was read.
      if ((await existing(item.target, item.shown, job)) && config.if_exists === 'skip') {
        records.push({
          workbook: file.relative,
          sheet: item.sheet,
          path: item.shown,
          rows: 0,
          status: 'skipped',
        });
        continue;
      }
      await rename(item.temp ?? '', item.target);
      item.placed = true;
      placed.push(item.target);
      records.push({ workbook: file.relative, sheet: item.sheet, path: item.shown, rows, status: 'written' });
    }
  } catch (error) {
    throw writeFailure(error, current, job);
  } finally {
    for (const item of pending) {
      item.writer.abandon();
      if (item.temp !== undefined && item.placed !== true) await rm(item.temp, { force: true });
    }
  }
  for (const item of pending) {
    const { errorCells = 0, firstError = '' } = item.result ?? {};
    if (errorCells > 0) {
      ctx.log.warn(
        `${file.relative} sheet '${item.sheet}': ${errorCells} cell(s) hold Excel errors, written as empty fields (first: ${firstError})`,
        { file: file.relative, cells: errorCells },
      );
    }
  }
  return { records, placed };
}

export const filesConvertStep = defineStep({
  type: 'files.convert',
  kind: 'transform',
  description:
    'Converts every sheet of XLSX or legacy XLS workbooks (a path or a glob) into CSV files, with chosen permissions and group.',
  config: filesConvertConfig,
  producesDataset: false,
  async run(ctx, config) {
    const files = await findInputFiles(ctx.projectDir, config.path);
    const sources = files.map((file) => ({ file, format: sourceFormat(config, file) }));
    const job: Job = {
      ctx,
      config,
      work: '',
      mode: config.mode === undefined ? undefined : parseMode(config.mode),
      gid: config.group === undefined ? undefined : await resolveGroup(config.group),
      dir: config.dir === undefined ? undefined : ctx.resolvePath(config.dir),
      claimed: new Map(),
      spills: 0,
    };
    if (job.dir === undefined && ctx.run.trigger.startsWith('watch:')) {
      // The workbook sits in the watched folder's processing/ only while this run runs; CSVs beside it
      // would stay there and be taken for new arrivals when the service starts again.
      ctx.log.warn(
        'files.convert without `dir` in a run started by a watched folder writes the CSV files into processing/ beside the workbook; set `dir` to a folder outside the watched one',
      );
    }
    await mkdir(ctx.workspaceDir, { recursive: true });
    job.work = await mkdtemp(join(ctx.workspaceDir, '.convert-'));
    let converter: SofficeConverter | undefined;
    const records: SheetRecord[] = [];
    let bytes = 0;
    try {
      for (const { file, format } of sources) {
        if (ctx.signal.aborted)
          throw new PwError('PW_CANCELLED', `Converting ${file.relative} was cancelled`);
        let readable = file;
        if (format === 'xls') {
          if (converter === undefined) {
            const configured =
              config.soffice_path === undefined ? undefined : ctx.resolvePath(config.soffice_path);
            const soffice = await findSoffice(configured, process.env, file.relative);
            converter = await SofficeConverter.create(soffice, job.work, ctx.signal);
          }
          readable = { ...file, absolute: await converter.toXlsx(file) };
        }
        const converted = await convertWorkbook(job, file, readable);
        records.push(...converted.records);
        for (const target of converted.placed) {
          const info = await ctx.artifacts.register(target, {
            name: basename(target),
            contentType: 'text/csv',
          });
          bytes += info.bytes;
        }
        const made = converted.records.filter((record) => record.status === 'written');
        const kept = converted.records.length - made.length;
        ctx.log.info(
          `Converted ${file.relative}: ${made.length} CSV file(s)${made.length > 0 ? ` (${made.map((record) => record.path).join(', ')})` : ''}${kept > 0 ? `, ${kept} kept as they were (if_exists: skip)` : ''}`,
          { file: file.relative, written: made.length, skipped: kept },
        );
      }
    } finally {
      await converter?.dispose();
      await rm(job.work, { recursive: true, force: true });
    }

    const rows = records.reduce((total, record) => total + record.rows, 0);
    return {
      rows,
      bytes,
      outputs: {
        files: records.filter((record) => record.status === 'written').map((record) => record.path),
        skipped: records.filter((record) => record.status === 'skipped').map((record) => record.path),
        workbooks: files.map((file) => file.relative),
        sheets: records,
      },
    };
  },
});
