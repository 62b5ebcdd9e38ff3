/**
 * `GET /metrics`: Prometheus metrics of the whole deployment, read from the state store at scrape time
 * (api/metrics.ts), plus the serving process's own. It needs a `read` token like the REST API; Prometheus
 * sends one with `authorization: { credentials_file: … }`. A store that does not answer is a 503 problem.
 */
import { z } from 'zod';
import type { RouteContext } from '../app.js';
import { StoreMetrics } from '../metrics.js';
import { defineRoute } from '../route.js';
import { problemSchema } from '../schemas.js';

export function metricsRoutes(context: RouteContext) {
  // Created on the first scrape: one registry per registered app, and none for an app never scraped.
  let metrics: StoreMetrics | undefined;
  return [
    defineRoute({
      method: 'GET',
      url: '/metrics',
      summary: 'Prometheus metrics: runs by status, queue, run and step durations, lease expiries',
      scope: 'read',
      responses: [
        {
          status: 200,
          description: 'The Prometheus text exposition format 0.0.4',
          contentType: 'text/plain; version=0.0.4',
          schema: z.string(),
        },
        { status: 503, description: 'The state store is unavailable', schema: problemSchema },
      ],
      handler: async ({ reply }) => {
        metrics ??= new StoreMetrics({
          store: context.store,
          version: context.version,
          clock: context.clock,
        });
        const text = await metrics.scrape();
        return reply.header('cache-control', 'no-store').type(metrics.contentType).send(text);
      },
    }),
  ];
}
