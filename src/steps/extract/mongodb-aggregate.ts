/**
 * The `mongodb.aggregate` step: an aggregation pipeline (read as Extended JSON after templating) on
 * one collection, its result streamed into the step's dataset a batch at a time. With `incremental`, a
 * `$match` on the cursor field above the last successful run's mark goes in front of the pipeline
 * (see connectors/mongodb/incremental.ts).
 */
import type { Document } from 'mongodb';
import { defineStep } from '../../core/step.js';
import { readExtendedJson } from '../../connectors/mongodb/extended-json.js';
import {
  checkPipelineForIncremental,
  pipelineAbove,
  startIncremental,
} from '../../connectors/mongodb/incremental.js';
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
      async (label) => {
        const pipeline = (await readExtendedJson(
          config.pipeline,
          'pipeline',
          'pipeline',
          label,
        )) as Document[];
        if (config.incremental === undefined) return { pipeline, incremental: undefined };
        checkPipelineForIncremental(pipeline, label);
        const incremental = await startIncremental(ctx, config.incremental, label);
        return { pipeline: pipelineAbove(pipeline, incremental.cursor, incremental.since), incremental };
      },
      async (connection, { pipeline, incremental }) => {
        const cursor = connection.session.db.collection(config.collection).aggregate(pipeline, {
          ...readOptions(config),
          ...(config.allow_disk_use === undefined ? {} : { allowDiskUse: config.allow_disk_use }),
        });
        return readCursor(ctx, config, connection, cursor, `aggregate on ${config.collection}`, incremental);
      },
    );
  },
});
