/**
 * The one error base class. Messages read like a compiler's: where (file:line:column, step, field),
 * what was expected, what was found, and a hint. A secret never goes into any of these fields.
 */
import { kindOf, type ErrorCode, type ErrorKind } from './codes.js';

export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

export interface PwErrorDetails {
  hint?: string | undefined;
  location?: SourceLocation | undefined;
  /** Dotted field path inside the document, e.g. `steps[2].with.path`. */
  path?: string | undefined;
  expected?: string | undefined;
  found?: string | undefined;
  cause?: unknown;
}

export class PwError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;
  readonly path: string | undefined;
  readonly expected: string | undefined;
  readonly found: string | undefined;

  constructor(code: ErrorCode, message: string, details: PwErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PwError';
    this.code = code;
    this.kind = kindOf(code);
    this.hint = details.hint;
    this.location = details.location;
    this.path = details.path;
    this.expected = details.expected;
    this.found = details.found;
  }
}

/** A problem found while validating a definition; many are collected and reported together. */
export interface SpecIssue {
  code: ErrorCode;
  message: string;
  location: SourceLocation;
  path: string;
  expected?: string | undefined;
  found?: string | undefined;
  hint?: string | undefined;
}

/** Validation failed: carries every issue found, not just the first. */
export class SpecError extends PwError {
  readonly issues: readonly SpecIssue[];

  constructor(issues: readonly SpecIssue[]) {
    const first = issues[0];
    super('PW_SPEC_INVALID', `${issues.length} problem${issues.length === 1 ? '' : 's'} in definition`, {
      location: first?.location,
    });
    this.name = 'SpecError';
    this.issues = issues;
  }
}

/** A failure inside a step, with where in the pipeline it happened. */
export class StepError extends PwError {
  readonly pipelineId: string;
  readonly stepId: string;
  readonly attempt: number;

  constructor(
    inner: PwError,
    where: { pipelineId: string; stepId: string; attempt: number; location?: SourceLocation | undefined },
  ) {
    super(inner.code, inner.message, {
      hint: inner.hint,
      location: inner.location ?? where.location,
      path: inner.path,
      expected: inner.expected,
      found: inner.found,
      cause: inner,
    });
    this.name = 'StepError';
    this.pipelineId = where.pipelineId;
    this.stepId = where.stepId;
    this.attempt = where.attempt;
  }
}

/** Wraps anything thrown into a PwError; unknown throwables become internal errors. */
export function toPwError(error: unknown): PwError {
  if (error instanceof PwError) return error;
  if (error instanceof Error && error.name === 'AbortError') {
    return new PwError('PW_CANCELLED', 'The operation was cancelled', { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new PwError('PW_INTERNAL', message, {
    cause: error,
    hint: 'This is a bug in Pipewright; run again with --verbose and report the stack trace.',
  });
}

export function isRetryable(error: PwError): boolean {
  return error.kind === 'operational' && error.code !== 'PW_CANCELLED';
}
