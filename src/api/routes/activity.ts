/**
 * `GET /api/activity`: what happened lately across all pipelines, for the UI's activity page — runs
 * (the failures of the last 7 days first, then the most recent runs) and deliveries (failed ones first,
 * then the most recent) and files received by watched folders and inbox batches (failed ones first,
 * then the most recent), each kind at most `limit` per part. Files in routed folders (pipewright.yaml
 * `watch:`) that match no route have no ledger row; they are listed by looking into the folders.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type {
  DeliveryRecord,
  InboxBatchRecord,
  RunRecord,
  WatchedFileRecord,
} from '../../store/state-store.js';
import type { RouteContext } from '../app.js';
import { defineRoute } from '../route.js';
import { unmatchedFiles, type UnmatchedFile } from '../../scheduler/watch/watch-routes.js';
import { activityQuerySchema, deliveryJson, deliverySchema, runJson, runSchema } from '../schemas.js';

const FAILURE_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;

const activityDeliverySchema = deliverySchema.extend({
  run_id: z.string().nullable().describe('Null for a notice that belongs to no run (the expect check).'),
  pipeline: z.string(),
});

const receivedFileSchema = z.object({
  source: z.string().describe("'watch <folder>' or 'inbox <name>'"),
  name: z.string().describe('The file name, or the batch id with its file count'),
  path: z.string().nullable().describe('Where the file is now (processed/, failed/, …); null for a batch'),
  state: z
    .string()
    .describe(
      "The ledger's own word: processing, succeeded, failed, duplicate, stored, …; unmatched for a file no route takes",
    ),
  status: z
    .enum(['running', 'succeeded', 'failed', 'skipped'])
    .describe('The same as a run status, for colour: failed, done, in progress or skipped'),
  received_at: z.string(),
  error: z.string().nullable(),
  run_id: z.string().nullable(),
});
type ReceivedFile = z.infer<typeof receivedFileSchema>;

const WATCHED_STATUS: Record<WatchedFileRecord['state'], ReceivedFile['status']> = {
  claimed: 'running',
  queued: 'running',
  finishing: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  duplicate: 'skipped',
  lost: 'failed',
};

const BATCH_STATUS: Record<InboxBatchRecord['status'], ReceivedFile['status']> = {
  received: 'running',
  stored: 'succeeded',
  rejected: 'failed',
};

function watchedFileJson(file: WatchedFileRecord): ReceivedFile {
  return {
    source: `watch ${file.dir}`,
    name: file.name,
    path: file.finalPath ?? file.processingPath,
    state: file.state,
    status: WATCHED_STATUS[file.state],
    received_at: file.claimedAt.toISOString(),
    error: file.message ?? null,
    run_id: file.runId,
  };
}

function batchJson(batch: InboxBatchRecord): ReceivedFile {
  return {
    source: `inbox ${batch.inbox}`,
    name: `batch ${batch.id} (${batch.files.length} file${batch.files.length === 1 ? '' : 's'})`,
    path: null,
    state: batch.status,
    status: BATCH_STATUS[batch.status],
    received_at: batch.receivedAt.toISOString(),
    error: batch.error ?? null,
    run_id: batch.runId ?? null,
  };
}

function unmatchedJson(file: UnmatchedFile): ReceivedFile {
  return {
    source: `watch ${file.dir}`,
    name: file.name,
    path: join(file.dir, file.name),
    state: 'unmatched',
    status: 'skipped',
    received_at: file.mtime.toISOString(),
    error: `matches no route of ${file.table} in pipewright.yaml; it stays in the folder`,
    run_id: null,
  };
}

/** Failed first, then the newest; `limit` in all. */
function receivedFiles(
  files: readonly WatchedFileRecord[],
  batches: readonly InboxBatchRecord[],
  unmatched: readonly UnmatchedFile[],
  limit: number,
): ReceivedFile[] {
  const all = [...files.map(watchedFileJson), ...batches.map(batchJson), ...unmatched.map(unmatchedJson)];
  const rank = (file: ReceivedFile) => (file.status === 'failed' ? 0 : 1);
  all.sort((a, b) => rank(a) - rank(b) || b.received_at.localeCompare(a.received_at));
  return all.slice(0, limit);
}

const activitySchema = z.object({
  runs: z.array(runSchema).describe('Failed runs queued in the last 7 days, then the most recent runs.'),
  deliveries: z.array(activityDeliverySchema).describe('Failed deliveries, then the most recent ones.'),
  files: z
    .array(receivedFileSchema)
    .describe('Files received by watched folders and inbox batches, failed first, then the newest.'),
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
        const [failedRuns, recentRuns, failedDeliveries, recentDeliveries, files, batches, unmatched] =
          await Promise.all([
            store.listRuns({ status: 'failed', from: since, limit: query.limit }),
            store.listRuns({ limit: query.limit }),
            store.listRecentDeliveries({ failedOnly: true, limit: query.limit }),
            store.listRecentDeliveries({ failedOnly: false, limit: query.limit }),
            store.listRecentWatchedFiles(query.limit),
            store.listRecentInboxBatches(query.limit),
            unmatchedFiles(context.project.dir, context.project.spec.watch, query.limit),
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
          files: receivedFiles(files, batches, unmatched, query.limit),
        };
      },
    }),
  ];
}
