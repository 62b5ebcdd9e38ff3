/**
 * The `mongodb.aggregate` step: an aggregation pipeline (read as Extended JSON after templating) on
 * one collection, its result streamed into the step's dataset a batch at a time.
 */
import type { Document } from 'mongodb';
import { defineStep } from '../../core/step.js';
import { readExtendedJson } from '../../connectors/mongodb/extended-json.js';
import { readCursor, readOptions, withMongo } from '../../connectors/mongodb/step-support.js';
import { mongodbAggregateConfig } from './mongodb-schema.js';

export const mongodbAggregateStep = defineStep({
  type: 'mongodb.aggregate',
  kind: 'extract',
  description: 'Runs an aggregation pipeline on a MongoDB collection into the dataset.',
  config: mongodbAggregateConfig,
  async run(ctx, config) {
    return withMongo(
      ctx,
      config,
      async (label) => (await readExtendedJson(config.pipeline, 'pipeline', 'pipeline', label)) as Document[],
      async (connection, pipeline) => {
        const cursor = connection.session.db.collection(config.collection).aggregate(pipeline, {
          ...readOptions(config),
          ...(config.allow_disk_use === undefined ? {} : { allowDiskUse: config.allow_disk_use }),
        });
        return readCursor(ctx, config, connection, cursor, `aggregate on ${config.collection}`);
      },
    );
  },
});
