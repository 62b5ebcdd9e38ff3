/**
 * The `with:` block of a `files.convert` step. It is a step type of its own rather than a mode of
 * `files.read` because it produces files, not a dataset: its fields (target folder, permissions,
 * group, what to do with existing files) have nothing to do with reading rows, and keeping them apart
 * keeps each schema honest about what it does.
 */
import { z } from 'zod';
import { parseMode } from '../load/files-write-schema.js';

export const CONVERT_SOURCES = ['xlsx', 'xls'] as const;
export type ConvertSource = (typeof CONVERT_SOURCES)[number];

export const filesConvertConfig = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .describe(
        'The workbook, or a glob (inbox/*.xls, exports/**/*.xlsx), relative to the project folder; templates are rendered before the step runs. Every match is converted, in path order.',
      ),
    from: z
      .enum(CONVERT_SOURCES)
      .optional()
      .describe(
        "xlsx or xls (legacy Excel, converted with LibreOffice first). Default: each file's extension (.xlsx, .xls).",
      ),
    to: z.enum(['csv']).default('csv').describe('The output format: csv (the only one so far).'),
    dir: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The folder the CSV files are written to, relative to the project folder; created when missing. Default: the folder of each workbook.',
      ),
    sheets: z
      .array(
        z
          .union([z.string().min(1), z.int().min(1)])
          .describe('A sheet name (case-insensitive) or a 1-based position in tab order.'),
      )
      .min(1)
      .optional()
      .describe('The sheets to convert. Default: every sheet. A sheet not in a workbook fails the step.'),
    mode: z
      .union([z.string(), z.int()])
      .refine((value) => parseMode(value) !== undefined, {
        message: 'expected file permissions in chmod notation such as "0640" or "0660" (at most 0777)',
      })
      .optional()
      .describe(
        'Permissions of each CSV in chmod notation, such as "0660" (quote it in YAML). Default: the process umask decides.',
      ),
    group: z
      .union([z.string().min(1), z.int().min(0)])
      .optional()
      .describe(
        'The group each CSV is given: a name from /etc/group or a numeric gid. The Pipewright user must be root or a member of it. Default: the process group.',
      ),
    if_exists: z
      .enum(['overwrite', 'skip', 'fail'])
      .default('overwrite')
      .describe(
        'When a CSV already exists: overwrite it (atomically, default), skip that sheet and keep the file, or fail.',
      ),
    soffice_path: z
      .string()
      .min(1)
      .optional()
      .describe(
        "xls: LibreOffice's soffice. Default: $PIPEWRIGHT_SOFFICE, /usr/bin/soffice, then soffice, libreoffice on PATH (Debian package libreoffice-calc-nogui).",
      ),
  })
  .describe(
    'Converts every sheet (or the chosen sheets) of XLSX or legacy XLS workbooks to CSV files, with chosen permissions and group.',
  );

export type FilesConvertConfig = z.output<typeof filesConvertConfig>;
