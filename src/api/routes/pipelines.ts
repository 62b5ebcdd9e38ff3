/**
 * Pipelines: list and get (schedule in words, next instants, paused, invalid reason, last run),
 * pause and resume the schedule, and trigger a manual run with parameters.
 */
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import type { SyncedPipeline } from '../../scheduler/definitions.js';
import type { RouteContext } from '../app.js';
import { queueManualRun } from '../queue-manual-run.js';
import { defineRoute } from '../route.js';
import {
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

export function pipelineRoutes(context: RouteContext) {
  const { store } = context;

  const describe = async (pipeline: SyncedPipeline) => {
    const [state, [lastRun]] = await Promise.all([
      store.getPipelineState(pipeline.id),
      store.listRuns({ pipelineId: pipeline.id, limit: 1 }),
    ]);
    return pipelineJson(pipeline, state, lastRun, context.project.spec.timezone, context.clock());
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
      summary: 'List pipelines with their schedule, next instants, state and last run',
      scope: 'read',
      responses: [
        {
          status: 200,
          description: 'Every pipeline in the project',
          schema: z.object({ pipelines: z.array(pipelineSchema) }),
        },
      ],
      handler: async () => ({ pipelines: await Promise.all(context.pipelines().map(describe)) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/pipelines/:id',
      summary: 'One pipeline',
      scope: 'read',
      responses: [{ status: 200, description: 'The pipeline', schema: pipelineSchema }, notFoundDoc],
      handler: ({ params }) => describe(find(params.id ?? '')),
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
        {
          status: 400,
          description: 'Invalid parameters or definition (PW_PARAM_INVALID …)',
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
