/** The `with:` block of a `sql.load` step. */
import { z } from 'zod';
import { IDENTIFIER } from '../../core/spec/pipeline-schema.js';

export const LOAD_MODES = ['create', 'append', 'replace', 'upsert'] as const;

export const sqlLoadConfig = z
  .strictObject({
    connection: z
      .string()
      .min(1)
      .describe('A connection of type postgres, mariadb or sqlite from pipewright.yaml.'),
    input: z.string().regex(IDENTIFIER, 'a step id').describe('The step whose dataset is loaded.'),
    table: z
      .string()
      .min(1)
      .describe('The target table, `table` or `schema.table`, used exactly as written (case included).'),
    mode: z
      .enum(LOAD_MODES)
      .default('append')
      .describe(
        'create: a new table from the dataset’s columns (fails if it exists); append (default): add the rows; replace: delete all rows, then add; upsert: insert or update by keys.',
      ),
    keys: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('upsert: the columns that identify a row (a PRIMARY KEY or UNIQUE index of the table).'),
    create_if_missing: z
      .boolean()
      .default(false)
      .describe(
        'append, replace, upsert: create the table from the dataset’s columns when it does not exist.',
      ),
    batch_size: z
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('MariaDB and SQLite: rows sent per batch (default 10000). PostgreSQL streams with COPY.'),
  })
  .superRefine((config, context) => {
    if (config.mode === 'upsert' && config.keys === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['keys'],
        message: 'mode upsert needs keys: the columns that identify a row',
      });
    }
    if (config.mode !== 'upsert' && config.keys !== undefined) {
      context.addIssue({ code: 'custom', path: ['keys'], message: 'keys only apply to mode: upsert' });
    }
    if (config.mode === 'create' && config.create_if_missing) {
      context.addIssue({
        code: 'custom',
        path: ['create_if_missing'],
        message: 'mode create always creates the table',
      });
    }
  });

export type SqlLoadConfig = z.output<typeof sqlLoadConfig>;
