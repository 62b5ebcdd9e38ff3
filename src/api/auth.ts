/**
 * Authentication for `/api` routes: either `Authorization: Bearer pw_…` (hashed and looked up in the
 * store) or the web UI's `pw_session` cookie (ui-session.ts), whose token is re-checked on every request
 * and whose state-changing requests must carry the session's CSRF token. A bearer header wins over a
 * cookie. An unknown or revoked token is 401, a token whose scope is too narrow is 403. The token itself
 * is never logged or echoed; last use is recorded at most once a minute per token.
 */
import type { FastifyRequest } from 'fastify';
import { PwError } from '../core/errors/pw-error.js';
import type { ApiTokenRecord, ApiTokenScope, StateStore } from '../store/state-store.js';
import { hashApiToken, scopeAllows } from './tokens.js';
import { changesState, checkCsrf, sessionOf } from './ui-session.js';

const TOUCH_EVERY_MS = 60_000;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

async function bearerToken(store: StateStore, header: string): Promise<ApiTokenRecord> {
  const match = BEARER.exec(header);
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
  return token;
}

async function requestToken(store: StateStore, request: FastifyRequest, now: Date): Promise<ApiTokenRecord> {
  const header = request.headers.authorization;
  if (header !== undefined) return bearerToken(store, header);
  const open = await sessionOf(store, request, now);
  if (open === undefined) {
    throw new PwError('PW_AUTH_REQUIRED', 'This request needs a bearer token or a signed-in session', {
      hint: 'Send Authorization: Bearer <token>; create one with: pipewright token create --name <name> --scope read',
    });
  }
  if (changesState(request.method)) checkCsrf(request, open.session);
  return open.token;
}

export async function authenticate(
  store: StateStore,
  request: FastifyRequest,
  needs: ApiTokenScope,
  now: Date,
): Promise<ApiTokenRecord> {
  const token = await requestToken(store, request, now);
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
