/**
 * Turns liquidjs exceptions into PwErrors that say where inside the template the problem is, what was
 * expected and what to do. The line/column are relative to the template text, so the spec layer can
 * add the template's own offset inside the YAML file.
 */
import type { ErrorCode } from '../errors/codes.js';
import { PwError, type PwErrorDetails } from '../errors/pw-error.js';
import { closestNames, orList } from './suggest.js';

export class TemplateError extends PwError {
  /** 1-based line inside the template text, when known. */
  readonly templateLine: number | undefined;
  readonly templateColumn: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: PwErrorDetails,
    position: readonly number[] | undefined,
  ) {
    const [line, column] = position ?? [];
    super(
      code,
      line === undefined ? message : `${message} (template line ${line}, column ${column ?? 1})`,
      details,
    );
    this.name = 'TemplateError';
    this.templateLine = line;
    this.templateColumn = column;
  }
}

/** Thrown by the replacement `include`/`render`/`layout` tags while parsing. */
export class RefusedTagError extends Error {
  constructor(readonly tag: string) {
    super(`the ${tag} tag is not allowed`);
    this.name = 'RefusedTagError';
  }
}

interface LiquidLikeError {
  name: string;
  message: string;
  originalError?: unknown;
  token?: { getPosition?: () => number[] };
}

function asLiquidError(error: unknown): LiquidLikeError | undefined {
  if (!(error instanceof Error)) return undefined;
  return error as LiquidLikeError;
}

/** liquidjs appends ", line:1, col:4" to its messages; we report the position ourselves. */
function bareMessage(message: string): string {
  return message.replace(/, line:\d+, col:\d+$/, '');
}

export interface ErrorContext {
  /** Field path of the template inside the definition, e.g. `steps[1].with.query`. */
  path?: string | undefined;
  scope?: Readonly<Record<string, unknown>>;
  filterNames?: readonly string[];
}

export function convertLiquidError(error: unknown, context: ErrorContext): PwError {
  if (error instanceof PwError) return error;
  const liquid = asLiquidError(error);
  if (liquid === undefined)
    return new PwError('PW_TEMPLATE_RENDER', `Template failed: ${String(error)}`, { path: context.path });
  const position = liquid.token?.getPosition?.();
  const original = liquid.originalError;
  const path = context.path;

  if (original instanceof PwError) {
    return new TemplateError(
      original.code,
      original.message,
      {
        path,
        expected: original.expected,
        found: original.found,
        hint: original.hint,
        cause: original,
      },
      position,
    );
  }
  if (original instanceof RefusedTagError) {
    return new TemplateError(
      'PW_SPEC_TEMPLATE',
      `The \`${original.tag}\` tag is not allowed in Pipewright templates`,
      {
        path,
        expected: 'a self-contained template',
        found: `{% ${original.tag} %}`,
        hint: 'Templates cannot read other files. Put shared text in a pipeline parameter, or build the text in a step.',
      },
      position,
    );
  }
  if (liquid.name === 'UndefinedVariableError') {
    const name = (original as { variableName?: unknown } | undefined)?.variableName;
    return unknownVariable(typeof name === 'string' ? name : bareMessage(liquid.message), context, position);
  }
  const message = bareMessage(liquid.message);
  const filter = /^undefined filter: (\S+)/.exec(message)?.[1];
  if (filter !== undefined) {
    const close = closestNames(filter, context.filterNames ?? []);
    return new TemplateError(
      'PW_SPEC_TEMPLATE',
      `Unknown filter \`${filter}\``,
      {
        path,
        expected: 'a Liquid or Pipewright filter',
        found: filter,
        hint:
          close.length > 0
            ? `Did you mean ${orList(close)}?`
            : 'Pipewright adds date, date_add, start_of, iso, sql_string and json to the standard Liquid filters.',
      },
      position,
    );
  }
  if (liquid.name === 'TokenizationError' || liquid.name === 'ParseError') {
    return new TemplateError(
      'PW_SPEC_TEMPLATE',
      `Template does not parse: ${message}`,
      {
        path,
        expected: 'valid Liquid: {{ value | filter }} and {% tag %} … {% endtag %}',
        found: message,
        hint: 'Check that every {{ has a }}, every {% has a %}, quotes are closed and blocks such as if/for have their end tag.',
      },
      position,
    );
  }
  return new TemplateError(
    'PW_TEMPLATE_RENDER',
    `Template failed to render: ${message}`,
    { path, found: message },
    position,
  );
}

const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

function readOwn(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  return Object.prototype.hasOwnProperty.call(value, key)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** liquidjs joins the failing path with dots; show list indexes the way they are written. */
function displayName(segments: readonly string[]): string {
  return segments.reduce(
    (out, segment, i) =>
      i > 0 && /^\d+$/.test(segment) ? `${out}[${segment}]` : i === 0 ? segment : `${out}.${segment}`,
    '',
  );
}

function unknownVariable(
  dotted: string,
  context: ErrorContext,
  position: readonly number[] | undefined,
): TemplateError {
  const segments = dotted.split('.');
  const name = displayName(segments);
  const missing = segments[segments.length - 1] ?? name;
  const parentPath = segments.slice(0, -1);
  const details = {
    path: context.path,
    found: name,
    hint: undefined as string | undefined,
    expected: undefined as string | undefined,
  };

  let parent: unknown = context.scope;
  for (const segment of parentPath) parent = readOwn(parent, segment);
  const parentName = displayName(parentPath);

  if (PROTOTYPE_NAMES.has(missing)) {
    details.hint = 'Templates see only the data itself, not JavaScript object internals.';
  } else if (parentPath.length === 0 && missing === 'env') {
    details.hint =
      'Environment variables are not visible to templates. Use a secret reference such as ${env:NAME} in the definition, or a pipeline parameter.';
  } else if (parent instanceof Date) {
    details.hint = `\`${parentName}\` is a date and has no fields; format it instead, e.g. {{ ${parentName} | date: 'yyyy-MM-dd' }}.`;
  } else if (Array.isArray(parent)) {
    details.hint = `\`${parentName}\` is a list of ${parent.length} item${parent.length === 1 ? '' : 's'}; use an index from 0 to ${parent.length - 1}, or first/last/size.`;
  } else if (parent !== null && typeof parent === 'object') {
    const keys = Object.keys(parent);
    const prefix = parentName === '' ? '' : `${parentName}.`;
    const close = closestNames(missing, keys).map((key) => prefix + key);
    details.expected = parentName === '' ? 'a variable in scope' : `a field of \`${parentName}\``;
    if (close.length > 0) details.hint = `Did you mean ${orList(close)}?`;
    else if (keys.length === 0)
      details.hint = parentName === '' ? 'No variables are in scope.' : `\`${parentName}\` is empty.`;
    else {
      const shown = keys
        .slice(0, 12)
        .map((key) => `\`${prefix}${key}\``)
        .join(', ');
      details.hint = `Available: ${shown}${keys.length > 12 ? ', …' : ''}.`;
    }
  } else if (parent !== undefined && parentName !== '') {
    const kind = parent === null ? 'nil' : typeof parent === 'string' ? 'text' : `a ${typeof parent}`;
    details.hint = `\`${parentName}\` is ${kind}, which has no field \`${missing}\`.`;
  }
  return new TemplateError('PW_TEMPLATE_UNKNOWN_VARIABLE', `Unknown variable \`${name}\``, details, position);
}
