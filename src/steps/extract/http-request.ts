/**
 * One HTTP exchange for `http.fetch`, with Node's fetch: redirects followed by hand (a limit, and a
 * loop fails at once), a timeout per attempt covering the body too, retries with jittered backoff
 * that honour Retry-After up to a cap, and a body read that stops at a size limit instead of holding
 * whatever a server sends. URLs in messages have credentials and secret-looking query values masked.
 */
import { PwError } from '../../core/errors/pw-error.js';
import { sleep } from '../../engine/retry.js';
import { retryDelay } from '../deliver/deliver-common.js';
import { retryAfter } from '../deliver/webhook-send.js';

export interface RequestPolicy {
  timeoutMs: number;
  attempts: number;
  retryOn: readonly number[];
  delayMs: number;
  maxDelayMs: number;
  maxRedirects: number;
  signal: AbortSignal;
  /** Called before every attempt (rate limiting). */
  beforeAttempt?: () => Promise<void>;
  onRetry?: (message: string) => void;
}

export interface HttpRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
}

/** An answer whose body has not been read yet; `read` or `cancel` it. */
export interface HttpAnswer {
  status: number;
  /** The URL after redirects. */
  url: string;
  headers: Headers;
  attempts: number;
  body: ReadableStream<Uint8Array> | null;
  /** Aborts the request's timeout clock (the answer was fully handled). */
  done(): void;
}

const SECRET_PARAM = /token|key|secret|passw|pwd|auth|sig|session|credential/i;

/** A URL as messages show it: no user or password, secret-looking query values masked. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString().replaceAll('%2A%2A%2A', '***');
  } catch {
    return url.replace(/[?#].*$/, '');
  }
}

function isRedirect(status: number): boolean {
  return [301, 302, 303, 307, 308].includes(status);
}

interface Failure {
  message: string;
  retryable: boolean;
  retryAfterMs?: number | undefined;
  code: 'PW_HTTP_UNAVAILABLE' | 'PW_HTTP_STATUS' | 'PW_HTTP_REDIRECT';
  hint: string;
}

async function discard(body: ReadableStream<Uint8Array> | null): Promise<void> {
  await body?.cancel().catch(() => undefined);
}

/**
 * Sends the request, following redirects and retrying per the policy. Returns the final answer for
 * any status the caller handles (2xx and every status not retried); throws PwError otherwise.
 */
export async function sendRequest(request: HttpRequest, policy: RequestPolicy): Promise<HttpAnswer> {
  const shown = redactUrl(request.url);
  for (let attempt = 1; ; attempt += 1) {
    policy.signal.throwIfAborted();
    // The rate limiter's wait comes before the timeout clock starts, so it never eats into it.
    await policy.beforeAttempt?.();
    const timer = new AbortController();
    const clock = setTimeout(() => timer.abort(), policy.timeoutMs);
    const signal = AbortSignal.any([policy.signal, timer.signal]);
    let failure: Failure;
    try {
      let current = request;
      const seen = new Set<string>([request.url]);
      for (let hop = 0; ; hop += 1) {
        if (hop > 0) await policy.beforeAttempt?.();
        const response = await fetch(current.url, {
          method: current.method,
          headers: current.headers,
          ...(current.body === undefined ? {} : { body: current.body }),
          redirect: 'manual',
          signal,
        });
        const location = response.headers.get('location');
        if (isRedirect(response.status) && location !== null) {
          await discard(response.body);
          const next = new URL(location, current.url).toString();
          if (seen.has(next)) {
            clearTimeout(clock);
            throw new PwError(
              'PW_HTTP_REDIRECT',
              `${shown} redirects in a loop (back to ${redactUrl(next)})`,
              {
                hint: 'The server sends the request round in circles; check the URL, or whether it needs a cookie or login.',
              },
            );
          }
          if (hop >= policy.maxRedirects) {
            clearTimeout(clock);
            throw new PwError(
              'PW_HTTP_REDIRECT',
              `${shown} redirected more than ${policy.maxRedirects} times (last to ${redactUrl(next)})`,
              { hint: 'Use the final URL, or raise max_redirects.' },
            );
          }
          seen.add(next);
          const keepBody = response.status === 307 || response.status === 308;
          current = keepBody
            ? { ...current, url: next }
            : { url: next, method: 'GET', headers: withoutBodyHeaders(current.headers) };
          continue;
        }
        if (policy.retryOn.includes(response.status)) {
          await discard(response.body);
          clearTimeout(clock);
          failure = {
            code: 'PW_HTTP_UNAVAILABLE',
            retryable: true,
            message: `${shown} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
            retryAfterMs: retryAfter(response.headers.get('retry-after'), new Date()),
            hint: 'The server failed or is overloaded; lower concurrency or rate_limit, or try again later.',
          };
          break;
        }
        return {
          status: response.status,
          url: current.url,
          headers: response.headers,
          attempts: attempt,
          body: response.body,
          done: () => clearTimeout(clock),
        };
      }
    } catch (error) {
      clearTimeout(clock);
      if (error instanceof PwError) throw error;
      if (policy.signal.aborted) throw policy.signal.reason;
      const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
      failure = {
        code: 'PW_HTTP_UNAVAILABLE',
        retryable: true,
        message: timer.signal.aborted
          ? `${shown} did not answer within ${policy.timeoutMs} ms`
          : `Cannot reach ${shown}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
        hint: 'Check the URL and that the server is reachable from this machine; raise timeout for a slow server.',
      };
    }
    if (attempt >= policy.attempts) {
      throw new PwError(
        failure.code,
        attempt > 1 ? `${failure.message} (after ${attempt} attempts)` : failure.message,
        { hint: failure.hint },
      );
    }
    const wait = Math.min(failure.retryAfterMs ?? retryDelay(policy.delayMs, attempt + 1), policy.maxDelayMs);
    policy.onRetry?.(`${failure.message}; attempt ${attempt + 1} of ${policy.attempts} in ${wait} ms`);
    await sleep(wait, policy.signal);
  }
}

function withoutBodyHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !/^content-(type|length)$/i.test(name)),
  );
}

/** Reads the body into memory, failing once it passes `limit` bytes (the rest is never read). */
export async function readLimited(answer: HttpAnswer, limit: number): Promise<Buffer> {
  const declared = Number(answer.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await discard(answer.body);
    answer.done();
    throw tooLarge(answer.url, limit, `it declares ${declared} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    if (answer.body === null) return Buffer.alloc(0);
    const reader = answer.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(answer.url, limit, `more than ${limit} bytes arrived`);
      }
      chunks.push(Buffer.from(value));
    }
    return Buffer.concat(chunks);
  } catch (error) {
    if (error instanceof PwError) throw error;
    throw new PwError(
      'PW_HTTP_UNAVAILABLE',
      `${redactUrl(answer.url)}: the body did not arrive completely (${(error as Error).message})`,
      {
        hint: 'The server stopped sending or the timeout passed; raise timeout for a slow server.',
        cause: error,
      },
    );
  } finally {
    answer.done();
  }
}

export function tooLarge(url: string, limit: number, found: string): PwError {
  return new PwError(
    'PW_HTTP_TOO_LARGE',
    `${redactUrl(url)}: the response is larger than ${limit} bytes (${found})`,
    {
      hint: 'Raise max_size (or download.max_size) if the size is expected; nothing of it was kept.',
    },
  );
}
