/**
 * A small client for the REST API of `pipewright serve`, for the CLI's `--server` mode: Node's fetch,
 * a bearer token, JSON in and out, and every failure as a PwError. An RFC 9457 problem answered by the
 * server becomes the PwError it was made from (same code, message and hint), so the CLI prints the
 * same block and exits with the same code as when it works on the store itself. A server that cannot
 * be reached is an operational error naming its URL. The token is sent, never printed.
 */
import { ERROR_CODES, type ErrorCode } from '../../core/errors/codes.js';
import { PwError } from '../../core/errors/pw-error.js';
import { readSse, type SseEvent } from './sse.js';

/** How long a request may take, and how long a followed log may stay silent (the server sends a comment every 15 s). */
export const REQUEST_TIMEOUT_MS = 30_000;
export const STREAM_IDLE_TIMEOUT_MS = 60_000;

/** The code of a server that cannot be reached or answers nonsense: remotely, it is the CLI's store. */
const UNREACHABLE: ErrorCode = 'PW_SERVER_UNREACHABLE';

/**
 * The API's base URL from what a user typed: `http(s)://host[:port][/prefix]`, `host:port` (http), or
 * the `…/api` address `serve` prints; no user name, password, query or fragment.
 */
export function normaliseServerUrl(input: string): string {
  const text = input.trim();
  const invalid = (why: string) =>
    new PwError('PW_USAGE', `--server expects the address of \`pipewright serve\`, found '${text}': ${why}`, {
      hint: 'Example: --server http://127.0.0.1:8080 (or set PIPEWRIGHT_SERVER).',
    });
  if (text === '') throw invalid('it is empty');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('only http and https work');
  if (url.username !== '' || url.password !== '') {
    throw new PwError('PW_USAGE', '--server must not contain a user name or password', {
      hint: 'Pass the API token with PIPEWRIGHT_TOKEN or --token-file instead.',
    });
  }
  if (url.search !== '' || url.hash !== '') throw invalid('a query or fragment does not belong there');
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
  return `${url.origin}${path}`;
}

/** A problem+json body (or anything else a server answered with an error status) as a PwError. */
export function problemToPwError(body: unknown, status: number, server: string): PwError {
  const problem = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const text = (key: string) => (typeof problem[key] === 'string' ? problem[key] : undefined);
  const given = text('code');
  const code: ErrorCode =
    given !== undefined && Object.hasOwn(ERROR_CODES, given) ? (given as ErrorCode) : codeForStatus(status);
  const message =
    text('detail') ?? text('title') ?? `The server at ${server} answered HTTP ${status} without details`;
  return new PwError(code, message, { hint: authHint(code) ?? text('hint') ?? FALLBACK_HINTS[code] });
}

/** Where the API says less than the CLI would locally. */
const FALLBACK_HINTS: Partial<Record<ErrorCode, string>> = {
  PW_SPEC_INVALID: "`pipewright validate` in the server's project folder lists every problem.",
};

/** For a code this CLI does not know (a newer server) or a response that is not a problem. */
function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'PW_AUTH_REQUIRED';
  if (status === 403) return 'PW_AUTH_FORBIDDEN';
  if (status === 404) return 'PW_NOT_FOUND';
  if (status >= 400 && status < 500) return 'PW_REQUEST_INVALID';
  if (status === 500) return 'PW_INTERNAL';
  return UNREACHABLE;
}

/** The API's own hints speak of headers; on the command line the token comes from options. */
function authHint(code: ErrorCode): string | undefined {
  if (code === 'PW_AUTH_REQUIRED') {
    return 'Check the token in PIPEWRIGHT_TOKEN, --token-file or --token; `pipewright token list` on the server shows which tokens exist and which are revoked.';
  }
  return undefined;
}

function unreachable(server: string, error: unknown, timeoutMs: number): PwError {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const name = (error as { name?: unknown }).name;
  let why: string;
  if (name === 'TimeoutError') why = `no answer within ${timeoutMs / 1000} s`;
  else if (typeof cause?.code === 'string') why = REASONS[cause.code] ?? cause.code;
  else why = typeof cause?.message === 'string' ? cause.message : String((error as Error).message);
  return new PwError(UNREACHABLE, `Cannot reach the Pipewright server at ${server}: ${why}`, {
    hint: 'Check that `pipewright serve` runs there and that --server (or PIPEWRIGHT_SERVER) is its address.',
    cause: error,
  });
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (ECONNREFUSED)',
  ECONNRESET: 'the connection was reset (ECONNRESET)',
  ENOTFOUND: 'the host name is unknown (ENOTFOUND)',
  EAI_AGAIN: 'the host name cannot be resolved now (EAI_AGAIN)',
  EHOSTUNREACH: 'the host is unreachable (EHOSTUNREACH)',
  ENETUNREACH: 'the network is unreachable (ENETUNREACH)',
  ETIMEDOUT: 'the connection timed out (ETIMEDOUT)',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection was closed',
};

export type Query = Readonly<Record<string, string | number | undefined>>;

export interface ApiClientOptions {
  /** As typed by the user; normalised here. */
  server: string;
  token: string;
  timeoutMs?: number;
  streamIdleTimeoutMs?: number;
  fetch?: typeof fetch;
}

export class ApiClient {
  /** The normalised base URL, for messages: it never contains the token. */
  readonly server: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #idleMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.server = normaliseServerUrl(options.server);
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#idleMs = options.streamIdleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS;
    this.#fetch = options.fetch ?? fetch;
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.#json<T>('GET', path, query, undefined);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.#json<T>('POST', path, {}, body);
  }

  /**
   * POSTs a body produced piece by piece (a batch payload), never held whole; the answer is JSON. The
   * whole exchange may take `timeoutMs` (default 10 minutes: the upload is part of it).
   */
  async postStream<T>(
    path: string,
    body: AsyncIterable<Uint8Array>,
    contentType: string,
    timeoutMs = 10 * 60_000,
  ): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(new URL(`${this.server}${path}`), {
        method: 'POST',
        signal,
        redirect: 'error',
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${this.#token}`,
          'content-type': contentType,
        },
        body: body as unknown as RequestInit['body'],
        duplex: 'half',
      } as RequestInit);
    } catch (error) {
      throw unreachable(this.server, error, timeoutMs);
    }
    if (!response.ok) throw await this.#failure(response);
    try {
      return (await response.json()) as T;
    } catch (error) {
      throw this.#nonsense('a body that is not JSON', error);
    }
  }

  /**
   * Reads a Server-Sent Events stream, handing each event to `onEvent` (an exception from it ends the
   * stream and propagates), until the server ends it or `signal` aborts, which is not an error. The
   * server must answer within the request timeout and then send something (a comment will do) at least
   * once per idle timeout.
   */
  async stream(
    path: string,
    query: Query,
    onEvent: (event: SseEvent) => void,
    signal?: AbortSignal,
  ): Promise<'ended' | 'aborted'> {
    const controller = new AbortController();
    const abort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', abort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    let timedOut = false;
    const arm = (ms: number) => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException(`No data within ${ms} ms`, 'TimeoutError'));
      }, ms);
    };
    try {
      arm(this.#timeoutMs);
      const response = await this.#send('GET', path, query, undefined, controller.signal, {
        accept: 'text/event-stream',
      });
      if (!response.ok) throw await this.#failure(response);
      if (response.body === null) throw this.#nonsense('an empty body');
      arm(this.#idleMs);
      await readSse(response.body, onEvent, () => arm(this.#idleMs));
      return 'ended';
    } catch (error) {
      if (signal?.aborted === true) return 'aborted';
      // A timeout before the answer is already "no answer within …"; after it, the stream went quiet.
      if (timedOut && !(error instanceof PwError)) {
        throw new PwError(UNREACHABLE, `The Pipewright server at ${this.server} stopped sending the log`, {
          hint: 'Check that `pipewright serve` still runs there, then follow the run again.',
          cause: error,
        });
      }
      throw error;
    } finally {
      clearTimeout(idle);
      signal?.removeEventListener('abort', abort);
    }
  }

  async #json<T>(method: 'GET' | 'POST', path: string, query: Query, body: unknown): Promise<T> {
    const response = await this.#send(method, path, query, body, AbortSignal.timeout(this.#timeoutMs), {
      accept: 'application/json',
    });
    if (!response.ok) throw await this.#failure(response);
    try {
      return (await response.json()) as T;
    } catch (error) {
      if ((error as { name?: unknown }).name === 'TimeoutError') {
        throw unreachable(this.server, error, this.#timeoutMs);
      }
      throw this.#nonsense('a body that is not JSON', error);
    }
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    query: Query,
    body: unknown,
    signal: AbortSignal,
    headers: Record<string, string>,
  ): Promise<Response> {
    const url = new URL(`${this.server}${path}`);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const init: RequestInit = {
      method,
      signal,
      redirect: 'error',
      headers: {
        ...headers,
        authorization: `Bearer ${this.#token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    };
    try {
      return await this.#fetch(url, init);
    } catch (error) {
      if (signal.aborted && (signal.reason as { name?: unknown } | undefined)?.name !== 'TimeoutError') {
        throw error;
      }
      throw unreachable(this.server, error, this.#timeoutMs);
    }
  }

  async #failure(response: Response): Promise<PwError> {
    const type = response.headers.get('content-type') ?? '';
    let body: unknown;
    if (/json/i.test(type)) body = await response.json().catch(() => undefined);
    else await response.body?.cancel().catch(() => undefined);
    if (body === undefined && response.status >= 500) {
      return new PwError(
        UNREACHABLE,
        `The Pipewright server at ${this.server} answered HTTP ${response.status} ${response.statusText}`.trimEnd(),
        { hint: 'Check the server, or the proxy in front of it.' },
      );
    }
    return problemToPwError(body, response.status, this.server);
  }

  #nonsense(what: string, cause?: unknown): PwError {
    return new PwError(UNREACHABLE, `The server at ${this.server} answered with ${what}`, {
      hint: 'Check that --server (or PIPEWRIGHT_SERVER) is the address of `pipewright serve`.',
      cause,
    });
  }
}
