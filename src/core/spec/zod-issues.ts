/**
 * Zod issues → SpecIssues that point into the YAML file. Zod knows what failed; this module adds what
 * a user needs to fix it: the line and column, the path written as in the file, what was found, and a
 * hint (the field name they probably meant, how to quote a value, how to write a duration).
 * Used for the pipeline schema, each step type's `with:` schema and the project file alike.
 */
import type { z } from 'zod';
import type { SpecIssue } from '../errors/pw-error.js';
import type { ErrorCode } from '../errors/codes.js';
import { durationSchema, IDENTIFIER, PIPELINE_ID } from './pipeline-schema.js';
import { DURATION_EXPECTED, durationHint } from './checks.js';
import { didYouMean, listQuoted } from './hints.js';
import type { Locate } from './parse-yaml.js';
import {
  describeExpectedType,
  describeValue,
  formatPath,
  isSensitivePath,
  valueAt,
  type FieldPath,
} from './paths.js';

type ZodIssue = z.core.$ZodIssue;

export interface IssueContext {
  file: string;
  locate: Locate;
  /** The whole parsed document, to describe what was found at a path. */
  root: unknown;
  /** Where the value checked by `schema` sits in the document (`['steps', 2, 'with']`). */
  prefix: FieldPath;
  schema: z.ZodType;
}

// Zod's def is a union per schema kind; only these structural fields are read, to walk a path.
interface LooseDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  items?: z.ZodType[];
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
}

function defOf(schema: z.ZodType): LooseDef {
  return schema._zod.def as unknown as LooseDef;
}

/** Strips optional/default/pipe/lazy wrappers down to the schema that describes the value itself. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let guard = 0; guard < 50; guard++) {
    const def = defOf(current);
    const next = def.innerType ?? def.in ?? (def.type === 'lazy' ? def.getter?.() : undefined);
    if (next === undefined) break;
    current = next;
  }
  return current;
}

/** The schema that checks the value at `path` below `schema`, when it can be told. */
export function schemaAt(schema: z.ZodType, path: FieldPath): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    if (current === undefined) return undefined;
    const def = defOf(unwrapSchema(current));
    if (def.shape !== undefined) current = def.shape[String(segment)];
    else if (def.element !== undefined) current = def.element;
    else if (def.valueType !== undefined) current = def.valueType;
    else if (def.items !== undefined && typeof segment === 'number') current = def.items[segment];
    else if (def.options !== undefined)
      current = def.options.map((option) => schemaAt(option, [segment])).find(Boolean);
    else if (def.left !== undefined)
      current = schemaAt(def.left, [segment]) ?? (def.right && schemaAt(def.right, [segment]));
    else return undefined;
  }
  return current;
}

function objectKeys(schema: z.ZodType | undefined): string[] {
  if (schema === undefined) return [];
  const def = defOf(unwrapSchema(schema));
  if (def.shape !== undefined) return Object.keys(def.shape);
  if (def.options !== undefined) return [...new Set(def.options.flatMap(objectKeys))];
  if (def.left !== undefined && def.right !== undefined)
    return [...objectKeys(def.left), ...objectKeys(def.right)];
  return [];
}

export function isDurationSchema(schema: z.ZodType | undefined): boolean {
  return schema !== undefined && unwrapSchema(schema) === durationSchema;
}

function toPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
}

function where(path: FieldPath): string {
  return path.length === 0 ? 'the document' : formatPath(path);
}

function suggestIdentifier(value: string, pattern: string): string | undefined {
  let fixed: string;
  if (pattern === IDENTIFIER.source) fixed = value.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_');
  else if (pattern === PIPELINE_ID.source)
    fixed = value
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-')
      .replace(/^[-_]+/, '');
  else return undefined;
  return fixed !== value && fixed !== '' ? fixed : undefined;
}

/** Whether a quoted string would have been the expected type without its quotes. */
function looksLike(expected: string, text: string): boolean {
  if (expected === 'boolean') return text === 'true' || text === 'false';
  if (expected === 'number' || expected === 'int') return text.trim() !== '' && Number.isFinite(Number(text));
  return false;
}

export function zodIssuesToSpecIssues(issues: readonly ZodIssue[], context: IssueContext): SpecIssue[] {
  const out: SpecIssue[] = [];
  const add = (
    code: ErrorCode,
    path: FieldPath,
    at: 'key' | 'value',
    message: string,
    extra: { expected?: string | undefined; found?: string | undefined; hint?: string | undefined } = {},
  ): void => {
    const { line, column } = context.locate(path, at);
    out.push({
      code,
      message,
      location: { file: context.file, line, column },
      path: formatPath(path),
      ...extra,
    });
  };

  const visit = (issue: ZodIssue, basePath: FieldPath): void => {
    const local = [...basePath, ...toPath(issue.path)];
    const path = [...context.prefix, ...local];
    const value = valueAt(context.root, path);
    const found = describeValue(value, isSensitivePath(path));
    const fieldSchema = schemaAt(context.schema, local);

    if (isDurationSchema(fieldSchema) && value !== undefined) {
      add('PW_SPEC_DURATION', path, 'value', `Invalid duration at ${where(path)}`, {
        expected: DURATION_EXPECTED,
        found,
        hint: durationHint(value),
      });
      return;
    }

    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = objectKeys(schemaAt(context.schema, local));
        for (const key of issue.keys) {
          const suggestion = didYouMean(key, allowed);
          add('PW_SPEC_UNKNOWN_FIELD', [...path, key], 'key', `Unknown field '${key}' in ${where(path)}`, {
            expected: allowed.length > 0 ? `one of ${listQuoted(allowed)}` : undefined,
            hint:
              suggestion !== undefined
                ? `did you mean '${suggestion}'?`
                : allowed.length > 0
                  ? `Remove it; the accepted fields are ${listQuoted(allowed, 'and')}.`
                  : 'Remove it.',
          });
        }
        return;
      }
      case 'invalid_type': {
        const expected = describeExpectedType(issue.expected);
        if (value === undefined) {
          const field = String(path[path.length - 1]);
          const parent = path.slice(0, -1);
          const parentMissing = parent.length > 0 && valueAt(context.root, parent) === undefined;
          add('PW_SPEC_TYPE', path, 'value', `Missing required field '${field}' in ${where(parent)}`, {
            expected,
            found,
            hint: parentMissing
              ? `Add a \`${String(parent[parent.length - 1])}:\` block with \`${field}:\` (${expected}).`
              : `Add \`${field}:\` with ${expected}.`,
          });
          return;
        }
        let hint: string | undefined;
        if (value === null) hint = 'The value is empty; give it a value or remove the key.';
        else if (issue.expected === 'string' && typeof value !== 'object')
          hint = 'Put the value in quotes to make it a string.';
        else if (typeof value === 'string' && looksLike(issue.expected, value))
          hint = `Remove the quotes around ${JSON.stringify(value)}.`;
        else if (issue.expected === 'array' && !Array.isArray(value))
          hint = 'Write it as a list: [a, b], or one "- item" per line.';
        add(
          'PW_SPEC_TYPE',
          path,
          'value',
          `Wrong type at ${where(path)}: expected ${expected}, found ${found}`,
          {
            expected,
            found,
            hint,
          },
        );
        return;
      }
      case 'invalid_value': {
        const strings = issue.values.filter((entry): entry is string => typeof entry === 'string');
        const suggestion = typeof value === 'string' ? didYouMean(value, strings) : undefined;
        add('PW_SPEC_TYPE', path, 'value', `Invalid value at ${where(path)}`, {
          expected:
            issue.values.length === 1 ? listQuoted(issue.values) : `one of ${listQuoted(issue.values)}`,
          found,
          hint: suggestion === undefined ? undefined : `did you mean '${suggestion}'?`,
        });
        return;
      }
      case 'too_small':
      case 'too_big': {
        const small = issue.code === 'too_small';
        const limit = Number(small ? issue.minimum : issue.maximum);
        const custom = !/^Too (small|big)/.test(issue.message);
        const bound = small
          ? issue.inclusive === false
            ? 'more than'
            : 'at least'
          : issue.inclusive === false
            ? 'less than'
            : 'at most';
        const unit = issue.origin === 'array' ? ' item(s)' : issue.origin === 'string' ? ' character(s)' : '';
        add(
          'PW_SPEC_TYPE',
          path,
          'value',
          custom ? `${issue.message} (${where(path)})` : `Value out of range at ${where(path)}`,
          {
            expected: `${bound} ${limit}${unit}`,
            found,
          },
        );
        return;
      }
      case 'invalid_format': {
        const pattern =
          'pattern' in issue && typeof issue.pattern === 'string'
            ? issue.pattern.replace(/^\/|\/[a-z]*$/g, '')
            : '';
        const custom = !issue.message.startsWith('Invalid');
        const fixed = typeof value === 'string' ? suggestIdentifier(value, pattern) : undefined;
        add('PW_SPEC_TYPE', path, 'value', `Invalid value at ${where(path)}`, {
          expected: custom
            ? issue.message
            : `text in the format ${issue.format}${pattern ? ` (${pattern})` : ''}`,
          found,
          hint: fixed === undefined ? undefined : `Try '${fixed}'.`,
        });
        return;
      }
      case 'invalid_key': {
        const key = path[path.length - 1];
        const inner = issue.issues[0];
        const innerPattern =
          inner !== undefined && 'pattern' in inner && typeof inner.pattern === 'string' ? inner.pattern : '';
        const fixed =
          typeof key === 'string'
            ? suggestIdentifier(key, innerPattern.replace(/^\/|\/[a-z]*$/g, ''))
            : undefined;
        add('PW_SPEC_TYPE', path, 'key', `Invalid name '${String(key)}' in ${where(path.slice(0, -1))}`, {
          expected:
            inner?.message.startsWith('Invalid') === false
              ? inner.message
              : 'letters, digits and underscores, not starting with a digit',
          hint: fixed === undefined ? undefined : `Try '${fixed}'.`,
        });
        return;
      }
      case 'invalid_union': {
        const branches = issue.errors.filter((branch) => branch.length > 0);
        const simple = branches.every(
          (branch) =>
            branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0,
        );
        if (!simple && branches.length > 0) {
          // The branch the user was writing: one whose type the value has (its problems lie deeper
          // than a type mismatch of the whole value), then the one with the fewest problems.
          const wrongType = (branch: (typeof branches)[number]): number =>
            branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0) ? 1 : 0;
          const closest = [...branches].sort(
            (a, b) => wrongType(a) - wrongType(b) || a.length - b.length,
          )[0]!;
          for (const inner of closest) visit(inner, local);
          return;
        }
        const expected = [
          ...new Set(
            branches.map((branch) =>
              branch[0]?.code === 'invalid_type' ? describeExpectedType(branch[0].expected) : '',
            ),
          ),
        ].filter(Boolean);
        add('PW_SPEC_TYPE', path, 'value', `Wrong type at ${where(path)}`, {
          expected: expected.length > 0 ? expected.join(' or ') : undefined,
          found,
        });
        return;
      }
      default: {
        add('PW_SPEC_TYPE', path, 'value', `${issue.message} (${where(path)})`, { found });
      }
    }
  };

  for (const issue of issues) visit(issue, []);
  return out;
}
