/**
 * The one mapping from errors to HTTP: every failure leaves the API as an RFC 9457 problem
 * (`application/problem+json`) with the same code and hint the CLI prints. The status follows the code
 * where it says more (auth, not found, conflict), else the kind: user 400, operational 503, internal 500.
 * Internal errors keep their message out of the response (it may quote anything); the log has it.
 */
import { ERROR_CODES, type ErrorCode } from '../core/errors/codes.js';
import { PwError, toPwError } from '../core/errors/pw-error.js';
import { ParamError } from '../core/params.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  hint?: string;
  /** PW_PARAM_INVALID: each bad run parameter. */
  errors?: { field: string; message: string }[];
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  PW_AUTH_REQUIRED: 401,
  PW_AUTH_FORBIDDEN: 403,
  PW_CSRF_REJECTED: 403,
  PW_AUTH_THROTTLED: 429,
  PW_PARAM_INVALID: 422,
  PW_NOT_FOUND: 404,
  PW_PIPELINE_NOT_FOUND: 404,
  PW_RUN_NOT_FOUND: 404,
  PW_TOKEN_NOT_FOUND: 404,
  PW_TOKEN_NAME_TAKEN: 409,
  PW_RUN_NOT_RESUMABLE: 409,
  PW_WATCH_FILE_MISSING: 409,
  PW_REQUEST_TOO_LARGE: 413,
  PW_INBOX_NOT_FOUND: 404,
};

const STATUS_BY_KIND = { user: 400, operational: 503, internal: 500 } as const;

export function statusFor(error: PwError): number {
  return STATUS_BY_CODE[error.code] ?? STATUS_BY_KIND[error.kind];
}

export function problemFor(thrown: unknown): Problem {
  const error = toPwError(thrown);
  const internal = error.kind === 'internal';
  const problem: Problem = {
    type: `https://pipewright.dev/docs/errors#${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: ERROR_CODES[error.code].title,
    status: statusFor(error),
    detail: internal ? 'An unexpected error occurred; the server log has the details.' : error.message,
    code: error.code,
  };
  if (error.hint !== undefined && !internal) problem.hint = error.hint;
  if (error instanceof ParamError) problem.errors = error.problems.map((item) => ({ ...item }));
  return problem;
}

/** Fastify's own errors (malformed JSON, body too large, bad content type) as PwErrors. */
export function fromFastifyError(error: unknown): PwError {
  if (error instanceof PwError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new PwError('PW_REQUEST_TOO_LARGE', 'The request body is larger than the server accepts', {
      hint: 'Request bodies are limited to 1 MB.',
    });
  }
  if (typeof code === 'string' && code.startsWith('FST_ERR_CTP_')) {
    return new PwError('PW_REQUEST_INVALID', `The request body cannot be read: ${message}`, {
      hint: 'Send a JSON body with Content-Type: application/json.',
    });
  }
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new PwError('PW_REQUEST_INVALID', message);
  }
  return toPwError(error);
}
