/**
 * The browser's side of the REST API: JSON over fetch with the session cookie, the CSRF header on every
 * request that changes something, 401 → back to sign-in, and an unreachable server → the offline
 * banner, with reads retried by themselves until the server answers again.
 */
import type { Session } from './types.js';

/** An RFC 9457 problem the API answered, with the per-field `errors` of a 422. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint: string | null,
    readonly errors: { field: string; message: string }[],
  ) {
    super(message);
  }
}

type Listener = () => void;

let csrfToken: string | null = null;
let online = true;
const onlineListeners = new Set<Listener>();
const signedOutListeners = new Set<Listener>();

const RETRY_MS = [500, 1000, 2000, 4000, 5000];

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function isOnline(): boolean {
  return online;
}

export function onOnlineChange(listener: Listener): () => void {
  onlineListeners.add(listener);
  return () => onlineListeners.delete(listener);
}

/** Called when the server no longer knows the session (expired, revoked token, signed out elsewhere). */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function setOnline(value: boolean): void {
  if (online === value) return;
  online = value;
  for (const listener of onlineListeners) listener();
}

function signedOut(): void {
  csrfToken = null;
  for (const listener of signedOutListeners) listener();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken !== null) headers['X-CSRF-Token'] = csrfToken;
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) init.body = JSON.stringify(body);
  return fetch(path, init);
}

async function problem(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    // a proxy's HTML error page: the status says enough
  }
  const text = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : null);
  const errors = Array.isArray(body['errors'])
    ? (body['errors'] as { field: string; message: string }[])
    : [];
  return new ApiError(
    response.status,
    text('code') ?? `HTTP_${response.status}`,
    text('detail') ?? text('title') ?? `The server answered ${response.status}`,
    text('hint'),
    errors,
  );
}

/**
 * One request. A read that cannot reach the server is retried (with backoff, forever) while the
 * offline banner shows; a change is not, so nothing is done twice — it fails with an ApiError.
 */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const retries = method === 'GET';
  for (let attempt = 0; ; attempt += 1) {
    let response: Response;
    try {
      response = await send(method, path, body);
    } catch {
      setOnline(false);
      if (!retries)
        throw new ApiError(0, 'OFFLINE', 'The server cannot be reached; nothing was changed.', null, []);
      await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] ?? 5000);
      continue;
    }
    // 502/503/504 from a proxy or a restarting server count as "away" for reads too.
    if (retries && response.status >= 502 && response.status <= 504) {
      setOnline(false);
      await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] ?? 5000);
      continue;
    }
    setOnline(true);
    if (response.status === 401 && !path.startsWith('/ui/session')) {
      signedOut();
      throw await problem(response);
    }
    if (!response.ok) throw await problem(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  del: <T>(path: string) => request<T>('DELETE', path),
};

/** The current session, or null when signed out. */
export async function loadSession(): Promise<Session | null> {
  try {
    const session = await api.get<Session>('/ui/session');
    setCsrfToken(session.csrf_token);
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function signIn(token: string): Promise<Session> {
  const session = await request<Session>('POST', '/ui/session', { token });
  setCsrfToken(session.csrf_token);
  return session;
}

export async function signOut(): Promise<void> {
  try {
    await api.del('/ui/session');
  } finally {
    setCsrfToken(null);
  }
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
