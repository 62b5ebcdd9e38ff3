/**
 * Workbooks for tests: XLSX written with exceljs, and legacy XLS made from them by the real
 * LibreOffice (`soffice --convert-to xls`), since nothing else here writes BIFF. A helper for tests,
 * not part of the product.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import { findSoffice } from '../steps/extract/soffice.js';

const run = promisify(execFile);

export type FixtureRow =
  ExcelJS.CellValue[] | { cells: ExcelJS.CellValue[]; formats: Record<number, string> };

/** Writes an .xlsx of named sheets; a row may carry number formats by 1-based column. */
export async function writeWorkbook(path: string, sheets: Record<string, FixtureRow[]>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const workbook = new ExcelJS.Workbook();
  for (const [name, rows] of Object.entries(sheets)) {
    const sheet = workbook.addWorksheet(name);
    for (const entry of rows) {
      const { cells, formats } = Array.isArray(entry) ? { cells: entry, formats: {} } : entry;
      const row = sheet.addRow(cells);
      for (const [column, format] of Object.entries(formats)) row.getCell(Number(column)).numFmt = format;
    }
  }
  await workbook.xlsx.writeFile(path);
}

/** The soffice these tests use, or why there is none (for skipOrFailInCI). */
export async function sofficeForTests(): Promise<{ soffice?: string; missing?: string }> {
  try {
    return { soffice: await findSoffice(undefined, process.env, 'test fixtures') };
  } catch (error) {
    return { missing: (error as Error).message };
  }
}

/**
 * Converts .xlsx files to .xls beside them with one soffice start (a second or two each time), and
 * returns the .xls paths in the same order.
 */
export async function toLegacyXls(soffice: string, xlsxPaths: readonly string[]): Promise<string[]> {
  const profile = await mkdtemp(join(tmpdir(), 'pw-xls-fixture-'));
  try {
    const byFolder = new Map<string, string[]>();
    for (const path of xlsxPaths) byFolder.set(dirname(path), [...(byFolder.get(dirname(path)) ?? []), path]);
    for (const [folder, paths] of byFolder) {
      await run(
        soffice,
        [
          '--headless',
          '--norestore',
          `-env:UserInstallation=${pathToFileURL(join(profile, 'user')).href}`,
          '--convert-to',
          'xls',
          '--outdir',
          folder,
          ...paths,
        ],
        { env: { ...process.env, HOME: profile }, timeout: 120_000 },
      );
    }
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
  return xlsxPaths.map((path) => join(dirname(path), basename(path).replace(/\.xlsx$/i, '.xls')));
}
