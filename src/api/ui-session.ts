/**
 * Cookie sessions for the web UI. Signing in with an API token opens a session: the browser holds a
 * random id in the `pw_session` cookie (HttpOnly, SameSite=Strict), the store keeps only its sha256,
 * the token it was opened with and a CSRF token. Every request with the cookie re-checks the token (a
 * revoked token ends its sessions at their next request) and the idle (12 h) and absolute (7 days)
 * limits; requests that change something must echo the CSRF token in `X-CSRF-Token`, compared in
 * constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { PwError } from '../core/errors/pw-error.js';
import type { ApiTokenRecord, StateStore, UiSessionRecord } from '../store/state-store.js';

export const SESSION_COOKIE = 'pw_session';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
export const SESSION_ABSOLUTE_MS = 7 * 24 * 60 * 60 * 1000;
/** last_seen_at is written at most this often per session. */
const TOUCH_EVERY_MS = 60_000;

export interface OpenSession {
  session: UiSessionRecord;
  token: ApiTokenRecord;
}

/** The value of one cookie in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    if (part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/** Equal strings, compared in time independent of where they differ (digests have equal lengths). */
export function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

export function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${secure ? '; Secure' : ''}`;
}

/** Secure cookies when the request came over https (directly or via a loopback proxy) or base_url is https. */
export function wantsSecureCookie(request: FastifyRequest, baseUrl: string | undefined): boolean {
  return request.protocol === 'https' || (baseUrl?.startsWith('https:') ?? false);
}

/** A new session for `token`: the id for the cookie (never stored) and the record the store keeps. */
export function newSession(token: ApiTokenRecord, now: Date): { id: string; record: UiSessionRecord } {
  const id = randomBytes(32).toString('base64url');
  return {
    id,
    record: {
      idHash: hashSessionId(id),
      tokenId: token.id,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      expiresAt: new Date(now.getTime() + SESSION_ABSOLUTE_MS),
      lastSeenAt: now,
    },
  };
}

const signInAgain = (why: string) =>
  new PwError('PW_AUTH_REQUIRED', why, { hint: 'Sign in again with an API token.' });

/**
 * The session the request's cookie names, if it is still good; undefined when there is no cookie. A
 * session that expired or whose token was revoked is deleted and answered with PW_AUTH_REQUIRED.
 */
export async function sessionOf(
  store: StateStore,
  request: FastifyRequest,
  now: Date,
): Promise<OpenSession | undefined> {
  const id = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (id === undefined || id === '') return undefined;
  const idHash = hashSessionId(id);
  const found = await store.findUiSession(idHash);
  if (found === undefined) throw signInAgain('The session has ended or never existed');
  const { session, token } = found;
  const idleUntil = session.lastSeenAt.getTime() + SESSION_IDLE_MS;
  if (token.revokedAt !== undefined || now >= session.expiresAt || now.getTime() >= idleUntil) {
    await store.deleteUiSession(idHash);
    throw signInAgain(
      token.revokedAt !== undefined
        ? `The token '${token.name}' of this session was revoked`
        : 'The session expired',
    );
  }
  if (now.getTime() - session.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
    await store.touchUiSession(idHash, now);
  }
  return found;
}

/** PW_CSRF_REJECTED unless the request echoes the session's CSRF token. */
export function checkCsrf(request: FastifyRequest, session: UiSessionRecord): void {
  const sent = request.headers[CSRF_HEADER];
  if (typeof sent === 'string' && sent !== '' && sameSecret(sent, session.csrfToken)) return;
  throw new PwError(
    'PW_CSRF_REJECTED',
    `${request.method} with a session cookie needs the X-CSRF-Token header of the session`,
    {
      hint: 'GET /ui/session answers the csrf_token to send; API clients use Authorization: Bearer instead.',
    },
  );
}

export function changesState(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}
