/** The `with:` blocks of the `mongodb.find` and `mongodb.aggregate` steps. */
import { z } from 'zod';
import { durationSchema } from '../../core/spec/pipeline-schema.js';

const documentInput = (what: string) =>
  z
    .union([z.string().min(1), z.record(z.string(), z.unknown())])
    .describe(`${what}: a mapping or a JSON string, read as MongoDB Extended JSON after templating.`);

const common = {
  connection: z.string().min(1).describe('A connection of type mongodb from pipewright.yaml.'),
  database: z
    .string()
    .min(1)
    .optional()
    .describe('Database of the collection (default: the connection’s database).'),
  collection: z.string().min(1).describe('The collection to read.'),
  flatten: z
    .boolean()
    .default(false)
    .describe('Spread nested documents into dotted columns (address.city); arrays stay JSON.'),
  nested: z
    .enum(['json', 'struct'])
    .default('json')
    .describe(
      'Nested documents and arrays as JSON (default), or as STRUCT/LIST typed from all their values.',
    ),
  columns: z
    .record(z.string(), z.string().min(1))
    .optional()
    .describe('DuckDB types for fields instead of the mapped ones, e.g. { amount: "DECIMAL(18,2)" }.'),
  batch_size: z
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .describe('Documents fetched from the server at a time (default 1000); bounds the memory used.'),
  max_time: durationSchema
    .optional()
    .describe('Server-side time limit of the query (maxTimeMS), e.g. 10m; default none.'),
  incremental: z
    .strictObject({
      cursor: z
        .string()
        .min(1)
        .regex(/^[^$.][^$]*$/, 'a field name or dotted path, not starting with $ or .')
        .describe(
          'A field that grows with every change (updated_at, an ObjectId _id); a dotted path reaches into nested documents.',
        ),
      initial: z
        .union([z.string(), z.number(), z.record(z.string(), z.unknown())])
        .optional()
        .describe(
          'Lower bound (exclusive) of the first run, read as Extended JSON: a number, a string, { $date: "…" }, { $oid: "…" }; without it the first run reads everything.',
        ),
    })
    .optional()
    .describe(
      'Read only documents whose cursor is above the mark of the last successful run, then advance the mark.',
    ),
};

export const mongodbFindConfig = z.strictObject({
  ...common,
  filter: documentInput('The query filter').optional(),
  projection: documentInput('Fields to return or leave out').optional(),
  sort: documentInput('Sort order, e.g. { "ts": 1 }').optional(),
  skip: z.int().min(0).optional().describe('Documents to skip first.'),
  limit: z.int().min(1).optional().describe('At most this many documents.'),
});

export const mongodbAggregateConfig = z.strictObject({
  ...common,
  pipeline: z
    .union([z.string().min(1), z.array(z.record(z.string(), z.unknown())).min(1)])
    .describe('The aggregation pipeline: a list of stages or a JSON string, read as MongoDB Extended JSON.'),
  allow_disk_use: z
    .boolean()
    .optional()
    .describe('Let $group and $sort spill to disk on the server (default: the server’s setting).'),
});

export type MongodbFindConfig = z.output<typeof mongodbFindConfig>;
export type MongodbAggregateConfig = z.output<typeof mongodbAggregateConfig>;
