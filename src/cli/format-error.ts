/**
 * Prints errors as one clear block, like a compiler: code and message, where, what was expected and
 * found, a hint. Stacks only with --verbose.
 */
import { relative } from 'node:path';
import { type PwError, SpecError, type SourceLocation, type SpecIssue } from '../core/errors/pw-error.js';
import { StepError } from '../core/errors/pw-error.js';
import type { Style } from './style.js';

function where(location: SourceLocation | undefined, cwd: string): string | undefined {
  if (!location) return undefined;
  const file = location.file.startsWith('/') ? relative(cwd, location.file) || location.file : location.file;
  return [file, location.line, location.column].filter((part) => part !== undefined).join(':');
}

function block(
  style: Style,
  parts: {
    code: string;
    message: string;
    location?: string | undefined;
    path?: string | undefined;
    expected?: string | undefined;
    found?: string | undefined;
    hint?: string | undefined;
  },
): string {
  const lines = [`${style.red(`error[${parts.code}]`)}: ${style.bold(parts.message.split('\n')[0] ?? '')}`];
  for (const extra of parts.message.split('\n').slice(1)) lines.push(`  ${extra}`);
  if (parts.location || parts.path) {
    lines.push(
      `  ${style.dim('-->')} ${[parts.location, parts.path ? `(${parts.path})` : undefined].filter(Boolean).join(' ')}`,
    );
  }
  if (parts.expected !== undefined) lines.push(`  ${style.dim('expected:')} ${parts.expected}`);
  if (parts.found !== undefined) lines.push(`  ${style.dim('found:   ')} ${parts.found}`);
  if (parts.hint !== undefined) lines.push(`  ${style.cyan('hint:')} ${parts.hint}`);
  return lines.join('\n');
}

export function formatIssue(issue: SpecIssue, style: Style, cwd = process.cwd()): string {
  return block(style, { ...issue, location: where(issue.location, cwd) });
}

export function formatError(
  error: PwError,
  style: Style,
  options: { verbose?: boolean; cwd?: string } = {},
): string {
  const cwd = options.cwd ?? process.cwd();
  if (error instanceof SpecError) {
    const issues = error.issues.map((issue) => formatIssue(issue, style, cwd));
    return `${issues.join('\n\n')}\n\n${style.red(`${error.issues.length} problem${error.issues.length === 1 ? '' : 's'} found`)}`;
  }
  const prefix = error instanceof StepError ? `step '${error.stepId}' (attempt ${error.attempt}): ` : '';
  let text = block(style, {
    code: error.code,
    message: `${prefix}${error.message}`,
    location: where(error.location, cwd),
    path: error.path,
    expected: error.expected,
    found: error.found,
    hint: error.hint,
  });
  if (options.verbose) {
    let cause: unknown = error;
    while (cause instanceof Error) {
      text += `\n${style.dim(cause.stack ?? cause.message)}`;
      cause = cause.cause;
    }
  }
  return text;
}
