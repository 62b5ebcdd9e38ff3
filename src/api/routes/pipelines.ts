/**
 * Pipelines: list and get (schedule in words, next instants, paused, invalid reason, last and recent
 * runs — one query for all pipelines), one pipeline's definition and run statistics, its data-load
 * ledger, pause and resume the schedule, and trigger a manual run with parameters.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import type { SyncedPipeline } from '../../scheduler/definitions.js';
import type { DataLoadCursor, DataLoadRecord, RunRecord, RunStatus } from '../../store/state-store.js';
import type { RouteContext } from '../app.js';
import { queueManualRun } from '../queue-manual-run.js';
import { stepGraph } from '../step-graph.js';
import { defineRoute } from '../route.js';
import {
  durationMs,
  loadJson,
  loadListQuerySchema,
  loadPageSchema,
  nextQuerySchema,
  pipelineDetailSchema,
  pipelineJson,
  pipelineSchema,
  problemSchema,
  runJson,
  runSchema,
  triggerBodySchema,
} from '../schemas.js';

const notFound = (id: string) =>
  new PwError('PW_PIPELINE_NOT_FOUND', `No pipeline has the id '${id}'`, {
    hint: 'GET /api/pipelines lists the pipelines.',
  });

/** A ledger position: the last load shown, as (at, id), the order loads are listed in. */
function encodeLoadCursor(load: DataLoadRecord): string {
  return Buffer.from(JSON.stringify([load.at.toISOString(), load.id ?? 0])).toString('base64url');
}

function decodeLoadCursor(cursor: string): DataLoadCursor {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const when = new Date(String(at));
    if (typeof id === 'number' && Number.isInteger(id) && !Number.isNaN(when.getTime()))
      return { at: when, id };
  } catch {
    // Falls through to the error below.
  }
  throw new PwError('PW_REQUEST_INVALID', 'The cursor is not one this API handed out', {
    hint: 'Pass the `next` value of the previous page unchanged.',
  });
}

const RECENT_RUNS = 20;
const STATS_RUNS = 100;
const FINISHED: RunStatus[] = ['succeeded', 'failed', 'cancelled'];

export function pipelineRoutes(context: RouteContext) {
  const { store } = context;

  /** Many pipelines in three queries: their states, and their recent runs in one window query. */
  const describeAll = async (pipelines: readonly SyncedPipeline[], nextCount: number) => {
    const [states, recent] = await Promise.all([
      store.listPipelineStates(),
      store.listRecentRunsByPipeline(
        pipelines.map((pipeline) => pipeline.id),
        RECENT_RUNS,
      ),
    ]);
    const stateById = new Map(states.map((state) => [state.pipelineId, state]));
    const runsById = new Map<string, RunRecord[]>();
    for (const run of recent) {
      const list = runsById.get(run.pipelineId) ?? [];
      list.push(run);
      runsById.set(run.pipelineId, list);
    }
    const now = context.clock();
    return pipelines.map((pipeline) =>
      pipelineJson(
        pipeline,
        stateById.get(pipeline.id),
        runsById.get(pipeline.id) ?? [],
        context.project.spec.timezone,
        now,
        nextCount,
      ),
    );
  };

  const describe = async (pipeline: SyncedPipeline, nextCount = 3) => {
    const [described] = await describeAll([pipeline], nextCount);
    if (described === undefined) throw notFound(pipeline.id);
    return described;
  };

  const detail = async (pipeline: SyncedPipeline, nextCount: number) => {
    const [described, finished, yaml, revision] = await Promise.all([
      describe(pipeline, nextCount),
      store.listRuns({ pipelineId: pipeline.id, statuses: FINISHED, limit: STATS_RUNS }),
      readFile(join(context.project.dir, pipeline.file), 'utf8').catch(() => null),
      pipeline.revision === undefined ? undefined : store.getPipelineRevision(pipeline.id, pipeline.revision),
    ]);
    const succeeded = finished.filter((run) => run.status === 'succeeded').length;
    return {
      ...described,
      definition: { yaml, steps: stepGraph(revision?.definition ?? pipeline.spec) },
      stats: {
        runs: finished.map((run) => ({
          id: run.id,
          status: run.status,
          started_at: run.startedAt?.toISOString() ?? null,
          duration_ms: durationMs(run),
        })),
        success_rate: finished.length === 0 ? null : succeeded / finished.length,
      },
    };
  };

  const find = (id: string): SyncedPipeline => {
    const pipeline = context.pipelines().find((candidate) => candidate.id === id);
    if (pipeline === undefined) throw notFound(id);
    return pipeline;
  };

  const setPaused = (paused: boolean) => async (id: string) => {
    const pipeline = find(id);
    await store.setPipelinePaused(pipeline.id, paused);
    return describe(pipeline);
  };
  const pause = setPaused(true);
  const resume = setPaused(false);

  const notFoundDoc = { status: 404, description: 'Unknown pipeline', schema: problemSchema };
  return [
    defineRoute({
      method: 'GET',
      url: '/api/pipelines',
      summary: 'List pipelines with their schedule, next instants, state, last run and recent runs',
      scope: 'read',
      query: nextQuerySchema,
      responses: [
        {
          status: 200,
          description: 'Every pipeline in the project',
          schema: z.object({ pipelines: z.array(pipelineSchema) }),
        },
      ],
      handler: async ({ query }) => ({ pipelines: await describeAll(context.pipelines(), query.next) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/pipelines/:id',
      summary: 'One pipeline, with its definition (YAML and steps) and the statistics of its last 100 runs',
      scope: 'read',
      query: nextQuerySchema,
      responses: [{ status: 200, description: 'The pipeline', schema: pipelineDetailSchema }, notFoundDoc],
      handler: ({ params, query }) => detail(find(params.id ?? ''), query.next),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/pipelines/:id/loads',
      summary: "The pipeline's data-load ledger (what its runs loaded where), newest first, in pages",
      scope: 'read',
      query: loadListQuerySchema,
      responses: [{ status: 200, description: 'A page of loads', schema: loadPageSchema }, notFoundDoc],
      handler: async ({ params, query }) => {
        const pipeline = find(params.id ?? '');
        const after = query.cursor === undefined ? undefined : decodeLoadCursor(query.cursor);
        const rows = await store.listDataLoadsPage(pipeline.id, after, query.limit + 1);
        const page = rows.slice(0, query.limit);
        const last = page.at(-1);
        return {
          loads: page.map(loadJson),
          next: rows.length > query.limit && last !== undefined ? encodeLoadCursor(last) : null,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/pipelines/:id/pause',
      summary: "Pause the pipeline's schedule (queued and running runs go on; triggers still work)",
      scope: 'operate',
      responses: [{ status: 200, description: 'The pipeline, paused', schema: pipelineSchema }, notFoundDoc],
      handler: ({ params }) => pause(params.id ?? ''),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/pipelines/:id/resume',
      summary: "Resume the pipeline's schedule (missed slots follow its catchup policy)",
      scope: 'operate',
      responses: [{ status: 200, description: 'The pipeline, resumed', schema: pipelineSchema }, notFoundDoc],
      handler: ({ params }) => resume(params.id ?? ''),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/pipelines/:id/runs',
      summary: 'Queue a manual run with parameters',
      scope: 'operate',
      body: triggerBodySchema,
      responses: [
        { status: 201, description: 'The queued run', schema: runSchema },
        { status: 400, description: 'Invalid definition (PW_SPEC_INVALID …)', schema: problemSchema },
        {
          status: 422,
          description: 'Invalid parameters (PW_PARAM_INVALID), each in `errors` as { field, message }',
          schema: problemSchema,
        },
        notFoundDoc,
      ],
      handler: async ({ params, body, token, reply }) => {
        const id = params.id ?? '';
        find(id);
        const run = await queueManualRun({
          project: context.project,
          store,
          pipelineId: id,
          params: body.params,
          trigger: `api:${token?.name ?? 'anonymous'}`,
          now: context.clock(),
        });
        void reply.code(201).header('location', `/api/runs/${encodeURIComponent(run.id)}`);
        return runJson(run);
      },
    }),
  ];
}
