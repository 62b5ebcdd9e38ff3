/**
 * POSTing one JSON payload to a webhook, with Node's fetch.
 *
 * Signature (when a secret is given): each attempt sends
 *   X-Pipewright-Timestamp: <unix seconds>
 *   X-Pipewright-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *   X-Pipewright-Delivery:  <uuid, the same for every attempt of one delivery>
 * so a receiver can verify the body, refuse old timestamps (replays) and drop repeated deliveries.
 *
 * Attempts: a timeout, a network error, 429 and 5xx are tried again (up to `attempts`) with backoff;
 * a `Retry-After` answer is honoured up to 60 seconds. Other 4xx answers fail at once: the same
 * request would be refused again. Redirects are not followed (a POST must not silently move).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { PwError } from '../../core/errors/pw-error.js';
import { DeliveryError, displayUrl, retryDelay, waitBeforeRetry } from './deliver-common.js';

export const SIGNATURE_HEADER = 'X-Pipewright-Signature';
export const TIMESTAMP_HEADER = 'X-Pipewright-Timestamp';
export const DELIVERY_HEADER = 'X-Pipewright-Delivery';
/** The longest Retry-After honoured; a server asking for more fails the delivery. */
export const MAX_RETRY_AFTER_MS = 60_000;

export interface WebhookRequest {
  url: string;
  /** The raw body, exactly as signed and sent. */
  body: string;
  headers?: Readonly<Record<string, string>> | undefined;
  secret?: string | undefined;
  timeoutMs: number;
  attempts: number;
  retryDelayMs: number;
  signal: AbortSignal;
  onRetry?: (attempt: number, waitMs: number, reason: string) => void;
  /** For tests: the clock used for the timestamp header. */
  now?: () => Date;
}

export interface WebhookResult {
  deliveryId: string;
  status: number;
  attempts: number;
  /** The first 500 characters of the answer. */
  response: string;
}

/** The signature header value for a body sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export async function sendWebhook(request: WebhookRequest): Promise<WebhookResult> {
  const deliveryId = randomUUID();
  const shown = displayUrl(request.url);
  let target: URL;
  try {
    target = new URL(request.url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new DeliveryError('PW_SPEC_TYPE', `Webhook url ${shown} is not an http(s) URL`, 0, {
      path: 'with.url',
      expected: 'https://… or http://…',
    });
  }
  const attempts = Math.max(1, request.attempts);
  for (let attempt = 1; ; attempt += 1) {
    request.signal.throwIfAborted();
    const timestamp = Math.floor((request.now?.() ?? new Date()).getTime() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Pipewright',
      [DELIVERY_HEADER]: deliveryId,
      ...request.headers,
    };
    if (request.secret !== undefined) {
      headers[TIMESTAMP_HEADER] = String(timestamp);
      headers[SIGNATURE_HEADER] = signWebhook(request.secret, timestamp, request.body);
    }
    const timeout = AbortSignal.timeout(request.timeoutMs);
    let failure: {
      message: string;
      retryAfterMs?: number | undefined;
      code: 'PW_DELIVERY_REJECTED' | 'PW_DELIVERY_UNAVAILABLE';
      transient: boolean;
      hint: string;
    };
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers,
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.any([request.signal, timeout]),
      });
      const text = (await response.text().catch(() => '')).slice(0, 500);
      if (response.status >= 200 && response.status < 300) {
        return { deliveryId, status: response.status, attempts: attempt, response: text };
      }
      const answer = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${text ? `: ${oneLine(text)}` : ''}`;
      const transient = response.status === 429 || response.status >= 500 || response.status === 408;
      failure = transient
        ? {
            code: 'PW_DELIVERY_UNAVAILABLE',
            transient,
            message: `Webhook ${shown} answered ${answer}`,
            retryAfterMs: retryAfter(response.headers.get('retry-after'), request.now?.() ?? new Date()),
            hint: 'The receiver failed or is overloaded; a retries policy on the step tries again later.',
          }
        : {
            code: 'PW_DELIVERY_REJECTED',
            transient,
            message: `Webhook ${shown} refused the request: ${answer}`,
            hint:
              response.status === 401 || response.status === 403
                ? 'Check the secret or token the receiver expects (secret:, headers:).'
                : response.status >= 300 && response.status < 400
                  ? `The receiver redirects${response.headers.get('location') ? ` to ${displayUrl(response.headers.get('location') ?? '')}` : ''}; use the final URL, redirects are not followed.`
                  : 'A 4xx answer is not retried: check the URL and the payload the receiver expects.',
          };
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason;
      const timedOut = timeout.aborted;
      const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
      failure = {
        code: 'PW_DELIVERY_UNAVAILABLE',
        transient: true,
        message: timedOut
          ? `Webhook ${shown} did not answer within ${request.timeoutMs} ms`
          : `Cannot reach webhook ${shown}: ${cause?.code ?? ''}${cause?.code && cause.message ? ' ' : ''}${cause?.message ?? (error as Error).message}`,
        hint: 'Check the URL and that the receiver is reachable from this machine; raise timeout for a slow receiver.',
      };
    }
    if (failure.transient && attempt < attempts) {
      if (failure.retryAfterMs !== undefined && failure.retryAfterMs > MAX_RETRY_AFTER_MS) {
        throw new DeliveryError(
          'PW_DELIVERY_UNAVAILABLE',
          `${failure.message}; it asks to retry after ${Math.round(failure.retryAfterMs / 1000)} s, longer than the ${MAX_RETRY_AFTER_MS / 1000} s a delivery waits`,
          attempt,
          { hint: failure.hint },
        );
      }
      const wait = failure.retryAfterMs ?? retryDelay(request.retryDelayMs, attempt + 1);
      request.onRetry?.(attempt + 1, wait, failure.message);
      await waitBeforeRetry(wait, request.signal);
      continue;
    }
    throw new DeliveryError(
      failure.code,
      attempt > 1 ? `${failure.message} (after ${attempt} attempts)` : failure.message,
      attempt,
      { hint: failure.hint },
    );
  }
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date. */
export function retryAfter(value: string | null, now: Date): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** Parses a JSON body given as text, saying where it is broken. */
export function parseJsonBody(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PwError(
      'PW_SPEC_TYPE',
      `${path} is not valid JSON after templates were rendered: ${(error as Error).message}`,
      {
        path,
        hint: 'Write body as a YAML mapping instead of a string, or use the json filter for values ({{ x | json }}).',
      },
    );
  }
}
