/** The `with:` block of a `sql.query` step. */
import { z } from 'zod';

export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const sqlParamsSchema = z
  .record(
    z.string().regex(PARAM_NAME, 'a parameter name: letters, digits and _, not starting with a digit'),
    z.union([z.string(), z.number(), z.boolean(), z.null()]),
  )
  .describe('Values bound to :name placeholders in the SQL (never spliced into its text).');

export const sqlQueryConfig = z.strictObject({
  connection: z
    .string()
    .min(1)
    .describe('A connection of type postgres, mariadb or sqlite from pipewright.yaml.'),
  query: z
    .string()
    .min(1)
    .describe('One query in the database’s own SQL; :name placeholders take values from params.'),
  params: sqlParamsSchema.optional(),
  incremental: z
    .strictObject({
      cursor: z
        .string()
        .min(1)
        .describe('A column of the result that grows with every change (updated_at, an id).'),
      initial: z
        .union([z.string(), z.number()])
        .optional()
        .describe('Lower bound (exclusive) of the first run; without it the first run reads everything.'),
    })
    .optional()
    .describe('Read only rows with cursor above the mark of the last successful run, then advance the mark.'),
  columns: z
    .record(z.string(), z.string().min(1))
    .optional()
    .describe('DuckDB types for result columns, e.g. { amount: "DECIMAL(18,2)", location: VARCHAR }.'),
  bulk: z
    .enum(['auto', 'off'])
    .default('auto')
    .describe(
      'auto: PostgreSQL results without params or incremental go through COPY … TO STDOUT, read by DuckDB as CSV, when every column type allows; off: always a cursor.',
    ),
  batch_size: z
    .int()
    .min(1)
    .max(1_000_000)
    .default(10_000)
    .describe('Rows fetched from the database at a time (default 10000); bounds the memory used.'),
});

export type SqlQueryConfig = z.output<typeof sqlQueryConfig>;
