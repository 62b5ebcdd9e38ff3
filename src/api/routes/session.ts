/**
 * The web UI's session: `POST /ui/session` signs in with an API token (failed attempts limited per
 * client address) and sets the `pw_session` cookie; `GET /ui/session` answers the same body again, so a
 * reloaded page recovers its CSRF token; `DELETE /ui/session` signs out (CSRF header needed) and clears
 * the cookie. `GET /api/me` tells any caller, bearer or cookie, which token it acts with.
 */
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import type { ApiTokenRecord } from '../../store/state-store.js';
import type { RouteContext } from '../app.js';
import { defineRoute } from '../route.js';
import { problemSchema } from '../schemas.js';
import { SignInLimiter } from '../sign-in-limiter.js';
import { hashApiToken } from '../tokens.js';
import {
  checkCsrf,
  clearedSessionCookie,
  newSession,
  sessionCookie,
  sessionOf,
  wantsSecureCookie,
} from '../ui-session.js';

const SCOPE = z.enum(['read', 'operate', 'admin']);
const sessionSchema = z.object({
  token_name: z.string(),
  scope: SCOPE,
  csrf_token: z.string().describe('Send as X-CSRF-Token on every request that is not GET or HEAD.'),
});
const meSchema = z.object({ token_name: z.string(), scope: SCOPE });
const signInSchema = z.strictObject({ token: z.string().min(1).max(512).describe('An API token, pw_…') });

const sessionJson = (token: ApiTokenRecord, csrfToken: string) => ({
  token_name: token.name,
  scope: token.scope,
  csrf_token: csrfToken,
});

export function sessionRoutes(context: RouteContext) {
  const { store } = context;
  const limiter = context.signInLimiter ?? new SignInLimiter();
  const baseUrl = () => context.project.spec.service.base_url;
  const noSession = {
    status: 401,
    description: 'No session, or it ended (PW_AUTH_REQUIRED)',
    schema: problemSchema,
  };

  return [
    defineRoute({
      method: 'POST',
      url: '/ui/session',
      summary: 'Sign the web UI in with an API token: sets the pw_session cookie, answers the CSRF token',
      scope: 'public',
      body: signInSchema,
      responses: [
        { status: 200, description: 'Signed in; Set-Cookie: pw_session=…', schema: sessionSchema },
        { status: 401, description: 'Unknown or revoked token (PW_AUTH_REQUIRED)', schema: problemSchema },
        {
          status: 429,
          description: 'Too many failed sign-ins from this address (PW_AUTH_THROTTLED)',
          schema: problemSchema,
        },
      ],
      handler: async ({ request, reply, body }) => {
        const now = context.clock();
        const wait = limiter.retryAfterMs(request.ip, now.getTime());
        if (wait > 0) {
          const seconds = Math.ceil(wait / 1000);
          void reply.header('retry-after', String(seconds));
          throw new PwError(
            'PW_AUTH_THROTTLED',
            `Too many failed sign-ins from ${request.ip}; try again in ${seconds} s`,
            { hint: 'Wait, then sign in with a valid token (`pipewright token list` shows which exist).' },
          );
        }
        const token = await store.findApiTokenByHash(hashApiToken(body.token.trim()));
        if (token === undefined || token.revokedAt !== undefined) {
          limiter.fail(request.ip, now.getTime());
          throw new PwError('PW_AUTH_REQUIRED', 'The token is unknown or revoked', {
            hint: 'Paste a token from `pipewright token create`; `pipewright token list` shows which are revoked.',
          });
        }
        limiter.succeed(request.ip);
        const { id, record } = newSession(token, now);
        await store.createUiSession(record);
        await store.touchApiToken(token.id, now);
        void reply
          .header('set-cookie', sessionCookie(id, wantsSecureCookie(request, baseUrl())))
          .header('cache-control', 'no-store');
        return sessionJson(token, record.csrfToken);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/ui/session',
      summary: "The web UI's session: its token name, scope and CSRF token",
      scope: 'public',
      responses: [{ status: 200, description: 'Signed in', schema: sessionSchema }, noSession],
      handler: async ({ request, reply }) => {
        void reply.header('cache-control', 'no-store');
        const open = await sessionOf(store, request, context.clock());
        if (open === undefined) {
          throw new PwError('PW_AUTH_REQUIRED', 'This browser is not signed in', {
            hint: 'POST /ui/session with an API token.',
          });
        }
        return sessionJson(open.token, open.session.csrfToken);
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/ui/session',
      summary: 'Sign the web UI out: deletes the session and clears the cookie (needs X-CSRF-Token)',
      scope: 'public',
      responses: [
        { status: 204, description: 'Signed out; the cookie is cleared' },
        noSession,
        {
          status: 403,
          description: 'Missing or wrong X-CSRF-Token (PW_CSRF_REJECTED)',
          schema: problemSchema,
        },
      ],
      handler: async ({ request, reply }) => {
        const secure = wantsSecureCookie(request, baseUrl());
        void reply.header('cache-control', 'no-store');
        // An ended session clears the cookie too: the browser forgets an id that no longer works.
        const open = await sessionOf(store, request, context.clock()).catch((error: unknown) => {
          void reply.header('set-cookie', clearedSessionCookie(secure));
          throw error;
        });
        if (open === undefined) {
          throw new PwError('PW_AUTH_REQUIRED', 'This browser is not signed in', {
            hint: 'There is nothing to sign out of.',
          });
        }
        checkCsrf(request, open.session);
        await store.deleteUiSession(open.session.idHash);
        return reply.code(204).header('set-cookie', clearedSessionCookie(secure)).send();
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/me',
      summary: 'Which token this request acts with (bearer or session cookie), and its scope',
      scope: 'read',
      responses: [{ status: 200, description: 'The token', schema: meSchema }],
      handler: ({ token }) =>
        Promise.resolve({ token_name: token?.name ?? '', scope: token?.scope ?? 'read' }),
    }),
  ];
}
