/**
 * Bearer-token authentication for `/api` routes: `Authorization: Bearer pw_…` is hashed and looked up
 * in the store; an unknown or revoked token is 401, a token whose scope is too narrow is 403. The token
 * itself is never logged or echoed; last use is recorded at most once a minute per token.
 */
import type { FastifyRequest } from 'fastify';
import { PwError } from '../core/errors/pw-error.js';
import type { ApiTokenRecord, ApiTokenScope, StateStore } from '../store/state-store.js';
import { hashApiToken, scopeAllows } from './tokens.js';

const TOUCH_EVERY_MS = 60_000;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

export async function authenticate(
  store: StateStore,
  request: FastifyRequest,
  needs: ApiTokenScope,
  now: Date,
): Promise<ApiTokenRecord> {
  const header = request.headers.authorization;
  const match = header === undefined ? null : BEARER.exec(header);
  if (match === null) {
    throw new PwError('PW_AUTH_REQUIRED', 'This request needs a bearer token', {
      hint: 'Send Authorization: Bearer <token>; create one with: pipewright token create --name <name> --scope read',
    });
  }
  const token = await store.findApiTokenByHash(hashApiToken(match[1] ?? ''));
  if (token === undefined || token.revokedAt !== undefined) {
    throw new PwError('PW_AUTH_REQUIRED', 'The bearer token is unknown or revoked', {
      hint: 'Check the token; `pipewright token list` shows which tokens exist and which are revoked.',
    });
  }
  if (!scopeAllows(token.scope, needs)) {
    const route = request.routeOptions.url ?? request.url;
    throw new PwError(
      'PW_AUTH_FORBIDDEN',
      `Token '${token.name}' has scope ${token.scope}; ${request.method} ${route} needs ${needs}`,
      { hint: `Use a token with scope ${needs} or wider (read < operate < admin).` },
    );
  }
  if (token.lastUsedAt === undefined || now.getTime() - token.lastUsedAt.getTime() >= TOUCH_EVERY_MS) {
    await store.touchApiToken(token.id, now);
  }
  return token;
}
