/** The `with:` blocks of the storage steps. */
import { z } from 'zod';
import { IDENTIFIER, durationSchema } from '../../core/spec/pipeline-schema.js';

const connection = z
  .string()
  .min(1)
  .optional()
  .describe('A connection of type s3 or local from pipewright.yaml. Default: the project folder storage/.');

const glob = z
  .string()
  .min(1)
  .optional()
  .describe('Only keys whose part after the prefix matches this glob (* and ? within a segment, ** across).');

export const DATA_FORMATS = ['parquet', 'csv', 'json', 'ndjson'] as const;

export const storagePutConfig = z
  .strictObject({
    connection,
    key: z
      .string()
      .min(1)
      .describe(
        'The object key, templated, e.g. "logs/year={{ run.scheduled_for | date: \'yyyy\' }}/data.parquet".',
      ),
    path: z
      .string()
      .min(1)
      .optional()
      .describe('A file to upload, relative to the project folder (instead of input).'),
    input: z
      .string()
      .regex(IDENTIFIER, 'a step id')
      .optional()
      .describe('A dataset to write to the key (instead of path), in `format`.'),
    format: z
      .enum(DATA_FORMATS)
      .optional()
      .describe('With input: parquet, csv, json (one array) or ndjson. Default: from the key extension.'),
    content_type: z.string().min(1).optional().describe('The Content-Type. Default: from the key extension.'),
    if_exists: z
      .enum(['overwrite', 'skip', 'fail'])
      .default('overwrite')
      .describe('When the key exists: overwrite it (default), skip the upload, or fail.'),
    part_size_mb: z
      .int()
      .min(5)
      .max(5000)
      .default(8)
      .describe('Files larger than this many MiB are uploaded in parts of this size (default 8).'),
    retention: z
      .strictObject({
        prefix: z.string().describe('The key prefix the rules apply to (relative to the connection).'),
        keep_last: z.int().min(1).optional().describe('Keep the newest N objects under the prefix.'),
        max_age: durationSchema
          .optional()
          .describe('Delete objects under the prefix older than this, e.g. 90d.'),
      })
      .refine((value) => value.keep_last !== undefined || value.max_age !== undefined, {
        message: 'give keep_last, max_age or both',
      })
      .optional()
      .describe(
        'After a successful upload, delete older objects under a prefix (never the one just written).',
      ),
  })
  .refine((config) => (config.path === undefined) !== (config.input === undefined), {
    message: 'give either path (a file) or input (a dataset), not both',
    path: ['path'],
  })
  .refine((config) => config.input !== undefined || config.format === undefined, {
    message: "'format' applies to input (a dataset) only",
    path: ['format'],
  })
  .describe('Uploads a file or a dataset (as Parquet, CSV or JSON) to an object key.');

export const storageGetConfig = z
  .strictObject({
    connection,
    key: z.string().min(1).optional().describe('One object to download (instead of prefix).'),
    prefix: z.string().optional().describe('Download every object under this prefix (instead of key).'),
    glob,
    path: z
      .string()
      .min(1)
      .optional()
      .describe('With key: the file to write, relative to the project folder.'),
    dir: z
      .string()
      .min(1)
      .optional()
      .describe('With prefix: the folder to write into; keys keep their part after the prefix as the path.'),
    read: z
      .enum(DATA_FORMATS)
      .optional()
      .describe(
        'Read the downloaded files into this step’s dataset as parquet, csv, json or ndjson. Default: the dataset lists the files.',
      ),
  })
  .refine((config) => (config.key === undefined) !== (config.prefix === undefined), {
    message: 'give either key or prefix',
    path: ['key'],
  })
  .refine(
    (config) =>
      config.key !== undefined
        ? config.path !== undefined && config.dir === undefined
        : config.dir !== undefined && config.path === undefined,
    {
      message: 'key needs path (a file); prefix needs dir (a folder)',
      path: ['path'],
    },
  )
  .describe('Downloads an object or every object under a prefix into project files, checksums verified.');

export const storageListConfig = z
  .strictObject({
    connection,
    prefix: z.string().default('').describe('List keys starting with this (default: everything).'),
    glob,
  })
  .describe('Lists objects under a prefix as a dataset: key, size, last_modified, etag.');

export const storageDeleteConfig = z
  .strictObject({
    connection,
    keys: z.array(z.string().min(1)).min(1).optional().describe('These keys (instead of prefix).'),
    prefix: z
      .string()
      .optional()
      .describe('Objects under this prefix (instead of keys); at least one rule or glob applies.'),
    glob,
    older_than: durationSchema
      .optional()
      .describe('With prefix: only objects last modified longer ago than this.'),
    keep_last: z.int().min(1).optional().describe('With prefix: keep the newest N objects, delete the rest.'),
    dry_run: z.boolean().default(false).describe('Count and list what would be deleted, delete nothing.'),
  })
  .refine((config) => (config.keys === undefined) !== (config.prefix === undefined), {
    message: 'give either keys or prefix',
    path: ['keys'],
  })
  .refine(
    (config) =>
      config.prefix === undefined ||
      config.older_than !== undefined ||
      config.keep_last !== undefined ||
      config.glob !== undefined,
    { message: 'deleting a whole prefix needs older_than, keep_last or glob', path: ['prefix'] },
  )
  .refine(
    (config) =>
      config.keys === undefined ||
      (config.older_than === undefined && config.keep_last === undefined && config.glob === undefined),
    {
      message: 'older_than, keep_last and glob apply to prefix only',
      path: ['keys'],
    },
  )
  .describe('Deletes keys, or objects under a prefix by age (older_than) or count (keep_last).');

export type StoragePutConfig = z.output<typeof storagePutConfig>;
export type StorageGetConfig = z.output<typeof storageGetConfig>;
export type StorageDeleteConfig = z.output<typeof storageDeleteConfig>;
