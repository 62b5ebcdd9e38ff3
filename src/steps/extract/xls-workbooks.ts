/**
 * Gives the XLSX reader legacy `.xls` workbooks: each is converted to `.xlsx` in a private folder under
 * the run's workspace, handed on under its own project-relative name (so messages, `source_column` and
 * rejects name the `.xls` the user knows), and the folder is removed when the caller is done, whether
 * it succeeded or not.
 */
import { stat } from 'node:fs/promises';
import type { StepContext } from '../../core/step.js';
import type { InputFile } from './input-files.js';
import { findSoffice, SofficeConverter } from './soffice.js';

export async function withXlsxCopies<T>(
  ctx: StepContext,
  files: readonly InputFile[],
  sofficePath: string | undefined,
  use: (copies: InputFile[]) => Promise<T>,
): Promise<T> {
  const first = files[0]?.relative ?? 'the workbook';
  const soffice = await findSoffice(sofficePath, process.env, first);
  const converter = await SofficeConverter.create(soffice, ctx.workspaceDir, ctx.signal);
  try {
    const copies: InputFile[] = [];
    for (const file of files) {
      const absolute = await converter.toXlsx(file);
      copies.push({ absolute, relative: file.relative, bytes: (await stat(absolute)).size });
    }
    ctx.log.debug(`Converted ${files.length} .xls workbook(s) to .xlsx with ${soffice}`, {
      files: files.length,
    });
    return await use(copies);
  } finally {
    await converter.dispose();
  }
}
