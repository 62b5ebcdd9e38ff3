/**
 * API tokens over HTTP, for admin tokens only: list (never the tokens), create (the new token is in the
 * answer once; only its hash is stored) and revoke, as `pipewright token` does.
 */
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import type { ApiTokenRecord } from '../../store/state-store.js';
import type { RouteContext } from '../app.js';
import { defineRoute } from '../route.js';
import { problemSchema } from '../schemas.js';
import { SCOPES, TOKEN_NAME, hashApiToken, newApiToken } from '../tokens.js';

const tokenSchema = z.object({
  name: z.string(),
  scope: z.enum(['read', 'operate', 'admin']),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});

const createBodySchema = z.strictObject({
  name: z.string().regex(TOKEN_NAME, 'expected 1 to 64 letters, digits, dots, dashes or underscores'),
  scope: z.enum(SCOPES as ['read', 'operate', 'admin']),
});

export function tokenJson(token: ApiTokenRecord) {
  return {
    name: token.name,
    scope: token.scope,
    created_at: token.createdAt.toISOString(),
    last_used_at: token.lastUsedAt?.toISOString() ?? null,
    revoked_at: token.revokedAt?.toISOString() ?? null,
  };
}

export function tokenRoutes(context: RouteContext) {
  const { store } = context;
  return [
    defineRoute({
      method: 'GET',
      url: '/api/tokens',
      summary: 'List API tokens (names, scopes, use; never the tokens)',
      scope: 'admin',
      responses: [
        { status: 200, description: 'Every token', schema: z.object({ tokens: z.array(tokenSchema) }) },
      ],
      handler: async () => ({ tokens: (await store.listApiTokens()).map(tokenJson) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/tokens',
      summary: 'Create an API token; the answer is the only place the token appears',
      scope: 'admin',
      body: createBodySchema,
      responses: [
        { status: 201, description: 'The token, once', schema: tokenSchema.extend({ token: z.string() }) },
        { status: 409, description: 'The name is taken (PW_TOKEN_NAME_TAKEN)', schema: problemSchema },
      ],
      handler: async ({ body, reply }) => {
        const token = newApiToken();
        const created = await store.createApiToken({
          name: body.name,
          scope: body.scope,
          hash: hashApiToken(token),
          at: context.clock(),
        });
        void reply.code(201).header('cache-control', 'no-store');
        return { ...tokenJson(created), token };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/tokens/:name/revoke',
      summary: 'Revoke an API token by name',
      scope: 'admin',
      responses: [
        { status: 200, description: 'The token, revoked', schema: tokenSchema },
        { status: 404, description: 'No such token (PW_TOKEN_NOT_FOUND)', schema: problemSchema },
      ],
      handler: async ({ params }) => {
        const name = params.name ?? '';
        if (!(await store.revokeApiToken(name, context.clock()))) {
          throw new PwError('PW_TOKEN_NOT_FOUND', `No API token is named '${name}'`, {
            hint: 'GET /api/tokens lists the tokens.',
          });
        }
        const token = (await store.listApiTokens()).find((candidate) => candidate.name === name);
        return token === undefined ? undefined : tokenJson(token);
      },
    }),
  ];
}
