/**
 * The `mongodb.find` step: a find on one collection (filter, projection, sort, skip, limit, all read
 * as Extended JSON after templating) streamed into the step's dataset a batch at a time. With
 * `incremental`, only documents whose cursor field is above the last successful run's mark (see
 * connectors/mongodb/incremental.ts).
 */
import type { Document } from 'mongodb';
import { defineStep, type StepContext } from '../../core/step.js';
import { readExtendedJson } from '../../connectors/mongodb/extended-json.js';
import { filterAbove, startIncremental } from '../../connectors/mongodb/incremental.js';
import { readCursor, readOptions, withMongo } from '../../connectors/mongodb/step-support.js';
import { mongodbFindConfig } from './mongodb-schema.js';

export const mongodbFindStep = defineStep({
  type: 'mongodb.find',
  kind: 'extract',
  description: 'Reads the documents of a MongoDB collection that match a filter into the dataset.',
  config: mongodbFindConfig,
  async run(ctx, config) {
    return withMongo(
      ctx,
      config,
      async (label) => {
        const read = async (field: 'filter' | 'projection' | 'sort'): Promise<Document | undefined> =>
          config[field] === undefined
            ? undefined
            : ((await readExtendedJson(config[field], field, 'document', label)) as Document);
        const filter = (await read('filter')) ?? {};
        const sort = await read('sort');
        if (config.incremental === undefined) {
          return { filter, projection: await read('projection'), sort, incremental: undefined };
        }
        warnAboutLimit(ctx, config.incremental.cursor, sort, config.limit);
        const incremental = await startIncremental(ctx, config.incremental, label);
        return {
          filter: filterAbove(filter, incremental.cursor, incremental.since),
          projection: await read('projection'),
          sort,
          incremental,
        };
      },
      async (connection, { filter, projection, sort, incremental }) => {
        const cursor = connection.session.db.collection(config.collection).find(filter, {
          ...readOptions(config),
          ...(projection === undefined ? {} : { projection }),
          ...(sort === undefined ? {} : { sort }),
          ...(config.skip === undefined ? {} : { skip: config.skip }),
          ...(config.limit === undefined ? {} : { limit: config.limit }),
        });
        return readCursor(ctx, config, connection, cursor, `find on ${config.collection}`, incremental);
      },
    );
  },
});

/**
 * A limit without sorting by the cursor reads any documents above the mark, and the mark then passes
 * the ones left out: they are never read.
 */
function warnAboutLimit(
  ctx: StepContext,
  cursor: string,
  sort: Document | undefined,
  limit: number | undefined,
): void {
  if (limit === undefined) return;
  const [first, direction] = Object.entries(sort ?? {})[0] ?? [];
  if (first === cursor && Number(direction) === 1) return;
  ctx.log.warn(
    `limit ${limit} without sort: { ${cursor}: 1 } reads any ${limit} documents above the mark, and the mark then passes the ones left out for good`,
  );
}
