/**
 * The collector every validation check writes into. It turns a field path into file:line:column
 * once, in one place, and hands the issues back de-duplicated and in file order, because a report
 * that jumps around the file is harder to work through than one read top to bottom.
 */
import type { z } from 'zod';
import type { SpecIssue } from '../errors/pw-error.js';
import type { ErrorCode } from '../errors/codes.js';
import type { Problem } from './checks.js';
import type { Locate } from './parse-yaml.js';
import { describeValue, formatPath, type FieldPath } from './paths.js';
import { zodIssuesToSpecIssues } from './zod-issues.js';

export interface IssueExtra {
  expected?: string | undefined;
  found?: string | undefined;
  hint?: string | undefined;
}

export class IssueList {
  readonly list: SpecIssue[] = [];

  constructor(
    readonly file: string,
    readonly locate: Locate,
  ) {}

  add(
    code: ErrorCode,
    path: FieldPath,
    message: string,
    extra: IssueExtra = {},
    at: 'key' | 'value' = 'value',
  ): void {
    const { line, column } = this.locate(path, at);
    this.list.push({
      code,
      message,
      location: { file: this.file, line, column },
      path: formatPath(path),
      ...extra,
    });
  }

  /** A value check's finding, with the value itself as what was found. */
  problem(code: ErrorCode, path: FieldPath, problem: Problem, found: unknown): void {
    this.add(code, path, problem.message, {
      expected: problem.expected,
      found: describeValue(found),
      hint: problem.hint,
    });
  }

  /** Zod's issues for the value at `prefix`, checked by `schema`. */
  zod(issues: readonly z.core.$ZodIssue[], root: unknown, prefix: FieldPath, schema: z.ZodType): void {
    this.list.push(
      ...zodIssuesToSpecIssues(issues, { file: this.file, locate: this.locate, root, prefix, schema }),
    );
  }

  sorted(): SpecIssue[] {
    const seen = new Set<string>();
    return this.list
      .filter((issue) => {
        const key = `${issue.code}|${issue.path}|${issue.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort(
        (a, b) =>
          (a.location.line ?? 0) - (b.location.line ?? 0) ||
          (a.location.column ?? 0) - (b.location.column ?? 0),
      );
  }
}
