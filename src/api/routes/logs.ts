/**
 * A run's log: `GET /api/runs/{id}/logs` answers a JSON page; with `Accept: text/event-stream` it follows
 * the log live as Server-Sent Events (one `log` event per line, its id the log id) until the run has
 * finished and every line is sent, then an `end` event. A reconnecting client resumes after
 * `Last-Event-ID`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { RunStatus, StateStore } from '../../store/state-store.js';
import type { RouteContext } from '../app.js';
import { problemFor } from '../problem.js';
import { defineRoute } from '../route.js';
import { logJson, logPageSchema, logQuerySchema, problemSchema } from '../schemas.js';
import { runNotFound } from './runs.js';

const HEARTBEAT_MS = 15_000;
const SSE_BATCH = 1000;

export function isFinished(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

function logOptions(afterId: number | undefined, limit: number, stepId: string | undefined) {
  return {
    limit,
    ...(afterId === undefined ? {} : { afterId }),
    ...(stepId === undefined ? {} : { stepId }),
  };
}

/** Streams the log until the run is finished and read to its end, the client leaves, or the app closes. */
async function follow(
  context: RouteContext,
  reply: FastifyReply,
  runId: string,
  startAfter: number | undefined,
  stepId: string | undefined,
): Promise<void> {
  const store: StateStore = context.store;
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let open = true;
  raw.on('close', () => {
    open = false;
  });
  let afterId = startAfter;
  let lastWrite = Date.now();
  try {
    while (open && !context.closing()) {
      // Status first: every line written before the run finished is then in the read that follows.
      const status = (await store.getRun(runId))?.status ?? 'cancelled';
      const entries = await store.listLogs(runId, logOptions(afterId, SSE_BATCH, stepId));
      for (const entry of entries) {
        raw.write(`id: ${entry.id}\nevent: log\ndata: ${JSON.stringify(logJson(entry))}\n\n`);
        afterId = entry.id;
        lastWrite = Date.now();
      }
      if (entries.length === SSE_BATCH) continue;
      if (isFinished(status)) {
        raw.write(`event: end\ndata: ${JSON.stringify({ status })}\n\n`);
        break;
      }
      if (Date.now() - lastWrite >= HEARTBEAT_MS) {
        raw.write(': keep-alive\n\n');
        lastWrite = Date.now();
      }
      await delay(context.logPollMs);
    }
  } catch (error) {
    if (open) raw.write(`event: error\ndata: ${JSON.stringify(problemFor(error))}\n\n`);
  } finally {
    raw.end();
  }
}

export function logRoutes(context: RouteContext) {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/runs/:id/logs',
      summary: "A run's log: a JSON page, or followed live with Accept: text/event-stream",
      scope: 'read',
      query: logQuerySchema,
      responses: [
        { status: 200, description: 'A page of log lines', schema: logPageSchema },
        {
          status: 200,
          description: 'With Accept: text/event-stream: `log` events (id = log id) until an `end` event',
          contentType: 'text/event-stream',
          schema: z.string(),
        },
        { status: 404, description: 'Unknown run', schema: problemSchema },
      ],
      handler: async ({ params, query, request, reply }) => {
        const id = params.id ?? '';
        const run = await context.store.getRun(id);
        if (run === undefined) throw runNotFound(id);
        if ((request.headers.accept ?? '').includes('text/event-stream')) {
          const header = request.headers['last-event-id'];
          const lastEventId = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined;
          await follow(context, reply, run.id, lastEventId ?? query.after, query.step);
          return reply;
        }
        const entries = await context.store.listLogs(
          run.id,
          logOptions(query.after, query.limit, query.step),
        );
        const last = entries.at(-1)?.id ?? query.after ?? 0;
        const more = entries.length === query.limit || !isFinished(run.status);
        return { logs: entries.map(logJson), next: more ? last : null, run_status: run.status };
      },
    }),
  ];
}
