/**
 * Runs: the history with filters and cursor pagination (newest first), one run with its step attempts
 * and artifacts, cancel, and artifact download (streamed, with the artifact's content type).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import { retryRun } from '../../scheduler/run-control.js';
import type { RunFilter, RunRecord } from '../../store/state-store.js';
import type { RouteContext } from '../app.js';
import { previewArtifact } from '../artifact-preview.js';
import { stepGraph } from '../step-graph.js';
import { defineRoute } from '../route.js';
import {
  problemSchema,
  deliveryJson,
  deliverySchema,
  runDetailJson,
  runDetailSchema,
  runJson,
  runListQuerySchema,
  runPageSchema,
  runSchema,
} from '../schemas.js';

/** Types shown as they are, without a sandbox: they cannot script, and PDF viewers refuse sandboxes. */
const INERT_TYPES = /^(?:application\/pdf|image\/(?:png|jpeg|gif|webp|avif))\s*(?:;|$)/i;

const artifactQuerySchema = z.strictObject({
  download: z
    .enum(['0', '1'])
    .optional()
    .describe('1: Content-Disposition: attachment (save instead of show).'),
});

const previewSchema = z.union([
  z.object({
    kind: z.literal('table'),
    columns: z.array(z.object({ name: z.string(), type: z.string() })),
    rows: z.array(z.array(z.unknown())),
    total_rows: z.number(),
    truncated: z.boolean(),
  }),
  z.object({ kind: z.literal('inline'), media_type: z.string(), url: z.string() }),
  z.object({ kind: z.literal('text'), text: z.string(), truncated: z.boolean() }),
  z.object({ kind: z.literal('none'), reason: z.string() }),
]);

const deliveryListSchema = z.object({ deliveries: z.array(deliverySchema) });

export const runNotFound = (id: string) =>
  new PwError('PW_RUN_NOT_FOUND', `No run has the id '${id}'`, { hint: 'GET /api/runs lists runs.' });

/** A page position: the last run shown, as (queued_at, id), the order runs are listed in. */
function encodeCursor(run: RunRecord): string {
  return Buffer.from(JSON.stringify([run.queuedAt.toISOString(), run.id])).toString('base64url');
}

function decodeCursor(cursor: string): { queuedAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const queuedAt = new Date(String(at));
    if (typeof id === 'string' && !Number.isNaN(queuedAt.getTime())) return { queuedAt, id };
  } catch {
    // Falls through to the error below.
  }
  throw new PwError('PW_REQUEST_INVALID', 'The cursor is not one this API handed out', {
    hint: 'Pass the `next` value of the previous page unchanged.',
  });
}

/** An ISO instant, or a date (YYYY-MM-DD, UTC) as its start or, for an exclusive end, the next day's. */
function instant(text: string, edge: 'start' | 'end'): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return new Date(text);
  const start = new Date(`${text}T00:00:00.000Z`);
  return edge === 'start' ? start : new Date(start.getTime() + 24 * 60 * 60 * 1000);
}

function earliest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

/** Runs after the cursor position, newest first; runs sharing the cursor's instant are split by id. */
async function runsAfter(
  list: (filter: RunFilter) => Promise<RunRecord[]>,
  filter: RunFilter,
  cursor: { queuedAt: Date; id: string } | undefined,
  want: number,
): Promise<RunRecord[]> {
  if (cursor === undefined) return list({ ...filter, limit: want });
  // `before` is exclusive, so ask from one millisecond later and drop what the cursor already showed.
  const before = new Date(cursor.queuedAt.getTime() + 1);
  const start = filter.before !== undefined && filter.before < before ? filter.before : before;
  let fetch = want + 20;
  for (;;) {
    const rows = await list({ ...filter, before: start, limit: fetch });
    const after = rows.filter(
      (run) =>
        run.queuedAt < cursor.queuedAt ||
        (run.queuedAt.getTime() === cursor.queuedAt.getTime() && run.id < cursor.id),
    );
    if (after.length >= want || rows.length < fetch) return after.slice(0, want);
    fetch *= 2;
  }
}

export function runRoutes(context: RouteContext) {
  const { store } = context;
  const getRun = async (id: string) => {
    const run = await store.getRun(id);
    if (run === undefined) throw runNotFound(id);
    return run;
  };
  const notFoundDoc = { status: 404, description: 'Unknown run', schema: problemSchema };

  return [
    defineRoute({
      method: 'GET',
      url: '/api/runs',
      summary: 'List runs, newest first, with filters and cursor pagination',
      scope: 'read',
      query: runListQuerySchema,
      responses: [{ status: 200, description: 'A page of runs', schema: runPageSchema }],
      handler: async ({ query }) => {
        const filter: RunFilter = {
          pipelineId: query.pipeline,
          status: query.status,
          before: earliest(
            query.before === undefined ? undefined : new Date(query.before),
            query.to === undefined ? undefined : instant(query.to, 'end'),
          ),
          from: query.from === undefined ? undefined : instant(query.from, 'start'),
        };
        const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        const rows = await runsAfter((f) => store.listRuns(f), filter, cursor, query.limit + 1);
        const page = rows.slice(0, query.limit);
        const last = page.at(-1);
        return {
          runs: page.map(runJson),
          next: rows.length > query.limit && last !== undefined ? encodeCursor(last) : null,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/runs/:id',
      summary: 'One run with its step attempts, artifacts and deliveries',
      scope: 'read',
      responses: [{ status: 200, description: 'The run', schema: runDetailSchema }, notFoundDoc],
      handler: async ({ params }) => {
        const run = await getRun(params.id ?? '');
        const [steps, artifacts, deliveries, revision] = await Promise.all([
          store.listStepAttempts(run.id),
          store.listArtifacts(run.id),
          store.listDeliveries({ runId: run.id, limit: 1000 }),
          store.getPipelineRevision(run.pipelineId, run.revision),
        ]);
        const needs = new Map(stepGraph(revision?.definition).map((step) => [step.id, step.needs]));
        return runDetailJson(run, steps, artifacts, deliveries, needs);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/runs/:id/cancel',
      summary: 'Cancel a run: a queued one at once, a running one within seconds',
      scope: 'operate',
      responses: [{ status: 202, description: 'The run as it is now', schema: runSchema }, notFoundDoc],
      handler: async ({ params, reply }) => {
        const id = params.id ?? '';
        const run = await store.requestCancel(id, context.clock());
        if (run === undefined) throw runNotFound(id);
        void reply.code(202);
        return runJson(run);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/runs/:id/retry',
      summary: 'Queue a failed or cancelled run again, resuming from its failed step',
      scope: 'operate',
      responses: [
        { status: 202, description: 'The run, queued again with attempt + 1', schema: runSchema },
        notFoundDoc,
        {
          status: 409,
          description:
            "The run is not failed or cancelled (PW_RUN_NOT_RESUMABLE), or it is a watched file's run whose file is no longer in failed/ (PW_WATCH_FILE_MISSING)",
          schema: problemSchema,
        },
      ],
      handler: async ({ params, reply }) => {
        const run = await retryRun(store, await getRun(params.id ?? ''));
        void reply.code(202);
        return runJson(run);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/runs/:id/deliveries',
      summary: 'The e-mails and webhooks a run sent (its steps and its notifications), newest first',
      scope: 'read',
      responses: [
        { status: 200, description: 'The deliveries ledger of the run', schema: deliveryListSchema },
        notFoundDoc,
      ],
      handler: async ({ params }) => {
        const run = await getRun(params.id ?? '');
        const deliveries = await store.listDeliveries({ runId: run.id, limit: 1000 });
        return { deliveries: deliveries.map(deliveryJson) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/runs/:id/artifacts/:artifactId/preview',
      summary:
        'What to show of an artifact: a table (first 100 rows), text (first 64 KB), a URL to embed, or none',
      scope: 'read',
      responses: [
        { status: 200, description: 'The preview', schema: previewSchema },
        { status: 404, description: 'Unknown run or artifact', schema: problemSchema },
      ],
      handler: async ({ params, reply }) => {
        const run = await getRun(params.id ?? '');
        const wanted = params.artifactId ?? '';
        const artifact = (await store.listArtifacts(run.id)).find((item) => String(item.id) === wanted);
        if (artifact === undefined) {
          throw new PwError('PW_NOT_FOUND', `Run ${run.id} has no artifact ${wanted}`, {
            hint: `GET /api/runs/${run.id} lists its artifacts.`,
          });
        }
        void reply.header('cache-control', 'no-store');
        return previewArtifact(artifact, `/api/runs/${encodeURIComponent(run.id)}/artifacts/${wanted}`);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/runs/:id/artifacts/:artifactId',
      summary:
        "One of the run's artifacts: shown inline (HTML and SVG sandboxed), or downloaded with ?download=1",
      scope: 'read',
      query: artifactQuerySchema,
      responses: [
        {
          status: 200,
          description: 'The file, with its content type',
          contentType: 'application/octet-stream',
          schema: z.string(),
        },
        {
          status: 404,
          description: 'Unknown run or artifact, or deleted by retention',
          schema: problemSchema,
        },
      ],
      handler: async ({ params, query, reply }) => {
        const run = await getRun(params.id ?? '');
        const wanted = params.artifactId ?? '';
        const artifact = (await store.listArtifacts(run.id)).find((item) => String(item.id) === wanted);
        const gone = new PwError('PW_NOT_FOUND', `Run ${run.id} has no artifact ${wanted}`, {
          hint: `GET /api/runs/${run.id} lists its artifacts and their download links.`,
        });
        if (artifact === undefined) throw gone;
        if (artifact.deletedAt !== undefined) {
          throw new PwError(
            'PW_NOT_FOUND',
            `Artifact ${artifact.name} of run ${run.id} was deleted by retention`,
          );
        }
        const size = await stat(artifact.path).then(
          (info) => (info.isFile() ? info.size : undefined),
          () => undefined,
        );
        if (size === undefined) {
          throw new PwError(
            'PW_NOT_FOUND',
            `The file of artifact ${artifact.name} of run ${run.id} is missing`,
          );
        }
        const filename = artifact.name.replace(/[^\x20-\x7e]|["\\]/g, '_');
        const type = artifact.contentType ?? 'application/octet-stream';
        // A report shown in the UI's frame must not run scripts with the viewer's session: every artifact
        // but PDFs and raster images (which browsers refuse to show sandboxed, and which cannot script)
        // is sandboxed, HTML and SVG above all.
        if (!INERT_TYPES.test(type)) void reply.header('content-security-policy', 'sandbox');
        const disposition = query.download === '1' ? 'attachment' : 'inline';
        return reply
          .type(type)
          .header('content-length', size)
          .header('x-content-type-options', 'nosniff')
          .header('content-disposition', `${disposition}; filename="${filename}"`)
          .send(createReadStream(artifact.path));
      },
    }),
  ];
}
