/**
 * An API route as data: method, path, summary, the scope a token needs, zod schemas for its query and
 * body, and a handler that receives them parsed. The app registers these and the OpenAPI document is
 * generated from the same list, so the two cannot drift. `defineRoute` exists to type the handler.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { PwError } from '../core/errors/pw-error.js';
import type { ApiTokenRecord, ApiTokenScope } from '../store/state-store.js';

export interface RouteInput<Q, B> {
  request: FastifyRequest;
  reply: FastifyReply;
  params: Record<string, string>;
  query: Q;
  body: B;
  /** The authenticated token; undefined on public routes. */
  token: ApiTokenRecord | undefined;
}

export interface ApiResponseDoc {
  status: number;
  description: string;
  contentType?: string;
  schema?: z.ZodType;
}

export interface ApiRoute<Q = unknown, B = unknown> {
  method: 'GET' | 'POST' | 'DELETE';
  /** Fastify syntax: `/api/runs/:id`. */
  url: string;
  summary: string;
  /** The scope a token needs; `public` needs none. */
  scope: ApiTokenScope | 'public';
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /**
   * The route reads the request body itself as a stream (`request.body` is the raw stream, unlimited by
   * Fastify's bodyLimit, so the route enforces its own); documented with this content type.
   */
  rawBody?: { contentType: string; description: string };
  responses: readonly ApiResponseDoc[];
  /** Resolves with the JSON to send, or returns/resolves with the reply when it sent the response itself. */
  handler(input: RouteInput<Q, B>): Promise<unknown> | FastifyReply;
}

export function defineRoute<Q = undefined, B = undefined>(route: ApiRoute<Q, B>): ApiRoute<Q, B> {
  return route;
}

/** Parses a query string or body with its schema; problems become one PW_REQUEST_INVALID. */
export function parseInput<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (schema === undefined) return undefined as T;
  const parsed = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
  throw new PwError('PW_REQUEST_INVALID', `Invalid request ${where}: ${problems.join('; ')}`, {
    hint: 'See GET /api/openapi.json for what this route accepts.',
  });
}
