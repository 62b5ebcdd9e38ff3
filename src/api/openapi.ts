/**
 * The OpenAPI 3.1 document of the REST API, generated from the route list and its zod schemas (the
 * same ones requests are parsed with), so it cannot drift from what the server does.
 */
import { z } from 'zod';
import type { ApiRoute } from './route.js';

type JsonObject = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject;
  return rest;
}

/** `/api/runs/:id` → `/api/runs/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function operation(route: ApiRoute): JsonObject {
  const parameters: JsonObject[] = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => ({
    name: match[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (route.query !== undefined) {
    const query = jsonSchema(route.query, 'input');
    const properties = (query.properties ?? {}) as Record<string, JsonObject>;
    const required = new Set((query.required ?? []) as string[]);
    for (const [name, schema] of Object.entries(properties)) {
      const { description, ...rest } = schema;
      parameters.push({
        name,
        in: 'query',
        required: required.has(name),
        ...(description === undefined ? {} : { description }),
        schema: rest,
      });
    }
  }
  const responses: Record<string, { description: string; content?: Record<string, JsonObject> }> = {};
  for (const response of route.responses) {
    const key = String(response.status);
    const entry = (responses[key] ??= { description: response.description });
    if (entry.description !== response.description) entry.description += `; ${response.description}`;
    if (response.schema !== undefined) {
      const type =
        response.contentType ?? (response.status >= 400 ? 'application/problem+json' : 'application/json');
      entry.content = { ...entry.content, [type]: { schema: jsonSchema(response.schema, 'output') } };
    }
  }
  if (route.scope !== 'public') {
    responses['401'] ??= { description: 'No valid bearer token or session (PW_AUTH_REQUIRED)' };
    responses['403'] ??= {
      description: `The token's scope is narrower than ${route.scope} (PW_AUTH_FORBIDDEN)`,
    };
  }
  return {
    summary: route.summary,
    operationId: `${route.method.toLowerCase()}${openApiPath(route.url).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    ...(route.scope === 'public' ? { security: [] } : { 'x-required-scope': route.scope }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.rawBody !== undefined
      ? {
          requestBody: {
            required: true,
            description: route.rawBody.description,
            content: { [route.rawBody.contentType]: { schema: { type: 'object' } } },
          },
        }
      : route.body === undefined
        ? {}
        : {
            requestBody: {
              required: false,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }),
    responses,
  };
}

export function openApiDocument(routes: readonly ApiRoute[], version: string): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    const path = (paths[openApiPath(route.url)] ??= {});
    path[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Pipewright REST API',
      version,
      description:
        'Every /api route needs `Authorization: Bearer <token>` (create one with `pipewright token create`) ' +
        'or the web UI session cookie from POST /ui/session; with the cookie, requests other than GET and HEAD ' +
        'must send the session CSRF token as X-CSRF-Token. ' +
        'Scopes: read < operate < admin. Errors are RFC 9457 problem+json with a PW_… code and a hint.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A pw_… API token' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'pw_session',
          description: 'The web UI session from POST /ui/session (plus X-CSRF-Token on changes)',
        },
      },
    },
    security: [{ bearer: [] }, { session: [] }],
    paths,
  };
}
