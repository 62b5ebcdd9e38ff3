/**
 * The `mongodb.find` step: a find on one collection (filter, projection, sort, skip, limit, all read
 * as Extended JSON after templating) streamed into the step's dataset a batch at a time.
 */
import type { Document } from 'mongodb';
import { defineStep } from '../../core/step.js';
import { readExtendedJson } from '../../connectors/mongodb/extended-json.js';
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
        return {
          filter: (await read('filter')) ?? {},
          projection: await read('projection'),
          sort: await read('sort'),
        };
      },
      async (connection, { filter, projection, sort }) => {
        const cursor = connection.session.db.collection(config.collection).find(filter, {
          ...readOptions(config),
          ...(projection === undefined ? {} : { projection }),
          ...(sort === undefined ? {} : { sort }),
          ...(config.skip === undefined ? {} : { skip: config.skip }),
          ...(config.limit === undefined ? {} : { limit: config.limit }),
        });
        return readCursor(ctx, config, connection, cursor, `find on ${config.collection}`);
      },
    );
  },
});
