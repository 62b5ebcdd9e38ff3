/**
 * `GET /api/activity`: what happened lately across all pipelines, for the UI's activity page — runs
 * (the failures of the last 7 days first, then the most recent runs) and deliveries (failed ones first,
 * then the most recent), each kind at most `limit` per part. `files` lists files received by watched
 * folders and inboxes once those exist; until then it is empty.
 */
import { z } from 'zod';
import type { DeliveryRecord, RunRecord } from '../../store/state-store.js';
import type { RouteContext } from '../app.js';
import { defineRoute } from '../route.js';
import { activityQuerySchema, deliveryJson, deliverySchema, runJson, runSchema } from '../schemas.js';

const FAILURE_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;

const activityDeliverySchema = deliverySchema.extend({
  run_id: z.string().nullable().describe('Null for a notice that belongs to no run (the expect check).'),
  pipeline: z.string(),
});

const activitySchema = z.object({
  runs: z.array(runSchema).describe('Failed runs queued in the last 7 days, then the most recent runs.'),
  deliveries: z.array(activityDeliverySchema).describe('Failed deliveries, then the most recent ones.'),
  files: z.array(z.record(z.string(), z.unknown())).describe('Files received; empty until inboxes exist.'),
});

/** `first`, then those of `then` not in it. */
function firstThen<T>(first: readonly T[], then: readonly T[], key: (item: T) => string | number): T[] {
  const seen = new Set(first.map(key));
  return [...first, ...then.filter((item) => !seen.has(key(item)))];
}

export function activityRoutes(context: RouteContext) {
  const { store } = context;
  return [
    defineRoute({
      method: 'GET',
      url: '/api/activity',
      summary:
        'Recent runs (failures of the last 7 days first) and deliveries (failed first) across pipelines',
      scope: 'read',
      query: activityQuerySchema,
      responses: [{ status: 200, description: 'Recent activity', schema: activitySchema }],
      handler: async ({ query }) => {
        const since = new Date(context.clock().getTime() - FAILURE_WINDOW_MS);
        const [failedRuns, recentRuns, failedDeliveries, recentDeliveries] = await Promise.all([
          store.listRuns({ status: 'failed', from: since, limit: query.limit }),
          store.listRuns({ limit: query.limit }),
          store.listRecentDeliveries({ failedOnly: true, limit: query.limit }),
          store.listRecentDeliveries({ failedOnly: false, limit: query.limit }),
        ]);
        const runs = firstThen<RunRecord>(failedRuns, recentRuns, (run) => run.id);
        const deliveries = firstThen<DeliveryRecord>(failedDeliveries, recentDeliveries, (item) => item.id);
        return {
          runs: runs.map(runJson),
          deliveries: deliveries.map((item) => ({
            ...deliveryJson(item),
            run_id: item.runId ?? null,
            pipeline: item.pipelineId,
          })),
          files: [],
        };
      },
    }),
  ];
}
