/**
 * The `with:` block of a `files.write` step, plus the pieces of it that need interpreting: the file
 * mode (chmod notation) and which compression a format accepts. Kept free of transforms so the
 * published JSON Schema describes exactly what a pipeline author writes.
 */
import { z } from 'zod';
import { IDENTIFIER } from '../../core/spec/pipeline-schema.js';
import { FILE_FORMATS, formatFromPath, hasGzipSuffix, type FileFormat } from '../extract/file-format.js';

export const COMPRESSIONS = ['none', 'gzip', 'zstd', 'snappy'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/**
 * Reads a mode in chmod notation. YAML 1.2 reads an unquoted `0660` as the decimal number 660, so a
 * number is read digit by digit as octal too; anything beyond rwx bits for user, group and other is
 * refused, since setuid or sticky bits on a data file are always a mistake.
 */
export function parseMode(value: string | number): number | undefined {
  const digits = typeof value === 'number' ? String(value) : value.trim().replace(/^0o/i, '');
  if (!/^[0-7]{1,4}$/.test(digits)) return undefined;
  const mode = Number.parseInt(digits, 8);
  return mode <= 0o777 ? mode : undefined;
}

export const filesWriteConfig = z
  .strictObject({
    input: z.string().regex(IDENTIFIER, 'a step id').describe('The step whose dataset is written.'),
    path: z
      .string()
      .min(1)
      .describe(
        'The file to write, relative to the project folder (templates are rendered before the step runs). Missing folders are created.',
      ),
    format: z
      .enum(FILE_FORMATS)
      .optional()
      .describe(
        'csv, tsv, json (one JSON array), ndjson (one object per line), parquet or xlsx. Default: from the file extension.',
      ),
    compression: z
      .enum(COMPRESSIONS)
      .optional()
      .describe(
        'parquet: zstd (default), snappy, gzip or none. csv, tsv, json, ndjson: none (default, or gzip when the path ends in .gz) or gzip. Not for xlsx, which is compressed already.',
      ),
    header: z
      .boolean()
      .default(true)
      .describe('csv/tsv: write a header line with the column names (default true).'),
    delimiter: z
      .string()
      .length(1)
      .optional()
      .describe('csv/tsv: the field separator, one character. Default: "," for csv, a tab for tsv.'),
    sheet: z
      .string()
      .min(1)
      .max(31)
      .regex(/^[^[\]:*?/\\]+$/, 'a sheet name without [ ] : * ? / \\')
      .optional()
      .describe('xlsx: the worksheet name (at most 31 characters). Default: the input step id.'),
    mode: z
      .union([z.string(), z.int()])
      .refine((value) => parseMode(value) !== undefined, {
        message: 'expected file permissions in chmod notation such as "0640" or "0660" (at most 0777)',
      })
      .optional()
      .describe(
        'File permissions in chmod notation, such as "0660" (quote it in YAML). An unquoted number such as 660 is read digit by digit as octal. Default: the process umask decides.',
      ),
    if_exists: z
      .enum(['overwrite', 'fail'])
      .default('overwrite')
      .describe('What to do when the file already exists: overwrite it (atomically, default) or fail.'),
    order_by: z
      .array(
        z
          .string()
          .regex(/^\S.*?(?:\s+(?:asc|desc))?$/i)
          .describe('A column name, optionally followed by asc or desc.'),
      )
      .optional()
      .describe('Sort the rows by these columns, e.g. ["day", "amount desc"]. Default: the dataset order.'),
  })
  .superRefine((config, context) => {
    const format = config.format ?? formatFromPath(config.path);
    if (format === undefined) return;
    for (const issue of writeOptionIssues(config, format)) {
      context.addIssue({ code: 'custom', path: [issue.field], message: issue.message });
    }
  })
  .describe('Writes a dataset to a CSV, TSV, JSON, NDJSON, Parquet or XLSX file, atomically.');

export type FilesWriteConfig = z.output<typeof filesWriteConfig>;

export function writeOptionIssues(
  config: {
    compression?: Compression | undefined;
    delimiter?: string | undefined;
    header?: boolean;
    sheet?: string | undefined;
  },
  format: FileFormat,
): { field: string; message: string }[] {
  const issues: { field: string; message: string }[] = [];
  const allowed = allowedCompressions(format);
  if (config.compression !== undefined && !allowed.includes(config.compression)) {
    issues.push({
      field: 'compression',
      message:
        allowed.length === 0
          ? `compression does not apply to ${format}`
          : `compression ${config.compression} is not available for ${format}; allowed: ${allowed.join(', ')}`,
    });
  }
  const text = format === 'csv' || format === 'tsv';
  if (!text && config.delimiter !== undefined)
    issues.push({ field: 'delimiter', message: `'delimiter' applies to csv and tsv only, not ${format}` });
  if (!text && config.header === false)
    issues.push({ field: 'header', message: `'header' applies to csv and tsv only, not ${format}` });
  if (format !== 'xlsx' && config.sheet !== undefined)
    issues.push({ field: 'sheet', message: `'sheet' applies to xlsx only, not ${format}` });
  return issues;
}

export function allowedCompressions(format: FileFormat): readonly Compression[] {
  if (format === 'parquet') return ['zstd', 'snappy', 'gzip', 'none'];
  if (format === 'xlsx') return [];
  return ['none', 'gzip'];
}

export function defaultCompression(format: FileFormat, path: string): Compression {
  if (format === 'parquet') return 'zstd';
  return hasGzipSuffix(path) ? 'gzip' : 'none';
}
