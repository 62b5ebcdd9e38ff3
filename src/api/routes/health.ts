/**
 * `GET /health` (the process is up) and `GET /ready` (the store answers and the definitions are
 * loaded; 503 until then), unauthenticated and with the same JSON as before the REST API existed.
 */
import { z } from 'zod';
import type { RouteContext } from '../app.js';
import { defineRoute } from '../route.js';

const health = z.object({ status: z.literal('ok'), version: z.string(), uptime_s: z.number() });
const ready = z.looseObject({ status: z.string(), queued: z.number().optional() });

export function healthRoutes(context: RouteContext) {
  return [
    defineRoute({
      method: 'GET',
      url: '/health',
      summary: 'Liveness: the process is up',
      scope: 'public',
      responses: [{ status: 200, description: 'Up', schema: health }],
      handler: ({ reply }) => {
        void reply.header('cache-control', 'no-store');
        return Promise.resolve({
          status: 'ok',
          version: context.version,
          uptime_s: Math.round((Date.now() - context.startedAt) / 1000),
        });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/ready',
      summary: 'Readiness: definitions loaded and the state store answers',
      scope: 'public',
      responses: [
        { status: 200, description: 'Ready', schema: ready },
        { status: 503, description: 'Starting, or the store is unavailable', schema: ready },
      ],
      handler: async ({ reply }) => {
        void reply.header('cache-control', 'no-store');
        try {
          const state = await context.ready();
          if (state === false) return reply.code(503).send({ status: 'starting' });
          return { status: 'ready', ...(state === true ? {} : state) };
        } catch (error) {
          return reply.code(503).send({ status: 'unavailable', error: (error as Error).message });
        }
      },
    }),
  ];
}
