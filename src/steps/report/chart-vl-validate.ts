/**
 * Checks a Vega-Lite spec against Vega-Lite's own JSON Schema (`vega-lite/vega-lite-schema.json`,
 * shipped with the package), so a mistake is reported at the field that holds it instead of as one of
 * Vega-Lite's compile errors, which are often a TypeError from deep inside. The schema uses a small
 * part of draft-07 ($ref, anyOf, type, enum, const, properties, required, additionalProperties, items,
 * minimum/maximum, minItems/maxItems, minLength/maxLength, minProperties), which is all this checks.
 *
 * Vega-Lite's schema is a tree of `anyOf` alternatives. When none fits, the alternative that got
 * deepest into the value is the one the author was writing, so its problems are reported; when all
 * fail at the same place (a misspelt mark), their expectations are merged into one list.
 *
 * The schema (1.9 MB) is read on the first check only, synchronously, because zod refinements are.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describeValue, formatPath, isPlainObject, type FieldPath } from '../../core/spec/paths.js';
import { didYouMean, listQuoted } from '../../core/spec/hints.js';

export interface SpecProblem {
  /** Where in the spec, e.g. `['encoding', 'x', 'type']`. */
  path: (string | number)[];
  message: string;
  expected?: string | undefined;
  found?: string | undefined;
  hint?: string | undefined;
  /** Whether the key at `path` is the mistake (an unknown field) rather than its value. */
  atKey?: boolean;
}

type Schema = boolean | SchemaObject;
interface SchemaObject {
  $ref?: string;
  anyOf?: Schema[];
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema;
  items?: Schema;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minProperties?: number;
  definitions?: Record<string, Schema>;
}

/** A problem as found, before it is worded: `depth` decides between anyOf alternatives. */
interface Found {
  path: (string | number)[];
  kind: 'type' | 'value' | 'unknown' | 'missing' | 'range';
  /** For type/value problems: the accepted types and values, merged across alternatives. */
  types?: string[];
  values?: unknown[];
  allowedKeys?: string[];
  detail?: string;
  /** A `const` that did not match: usually the tag of another alternative (`type: boxplot`). */
  tag?: boolean;
}

let loaded: SchemaObject | undefined;

function vegaLiteSchema(): SchemaObject {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url);
    loaded = JSON.parse(
      readFileSync(require.resolve('vega-lite/vega-lite-schema.json'), 'utf8'),
    ) as SchemaObject;
  }
  return loaded;
}

function resolveRef(root: SchemaObject, ref: string): Schema {
  const name = /^#\/definitions\/(.+)$/.exec(ref)?.[1];
  const target = name === undefined ? undefined : root.definitions?.[decodeURIComponent(name)];
  if (target === undefined) throw new Error(`Vega-Lite schema: cannot resolve ${ref}`);
  return target;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(expected: string, value: unknown): boolean {
  const actual = typeOf(value);
  if (expected === actual) return true;
  return expected === 'number' && actual === 'integer';
}

function depthOf(problem: Found): number {
  // An unknown or missing key is a problem of the object that holds it: deeper than an alternative
  // that does not even take an object there, shallower than one that fails inside one of its values.
  // A mismatched tag says the alternative is a different kind of object altogether.
  if (problem.tag === true) return problem.path.length - 1;
  return problem.path.length - (problem.kind === 'unknown' || problem.kind === 'missing' ? 0.5 : 0);
}

function samePath(a: readonly (string | number)[], b: readonly (string | number)[]): boolean {
  return a.length === b.length && a.every((segment, index) => segment === b[index]);
}

class Checker {
  readonly #root: SchemaObject;

  constructor(root: SchemaObject) {
    this.#root = root;
  }

  check(schema: Schema, value: unknown, path: (string | number)[]): Found[] {
    if (schema === true) return [];
    if (schema === false) return [{ path, kind: 'type', types: [] }];
    if (schema.$ref !== undefined) return this.check(resolveRef(this.#root, schema.$ref), value, path);
    if (schema.anyOf !== undefined) return this.#anyOf(schema.anyOf, value, path);

    if (schema.const !== undefined && value !== schema.const)
      return [{ path, kind: 'value', values: [schema.const], tag: true }];
    if (schema.enum !== undefined && !schema.enum.includes(value))
      return [{ path, kind: 'value', values: [...schema.enum] }];
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      if (!types.some((type) => typeMatches(type, value))) return [{ path, kind: 'type', types }];
    }

    if (typeof value === 'number') {
      if (schema.minimum !== undefined && value < schema.minimum)
        return [{ path, kind: 'range', detail: `a number of at least ${schema.minimum}` }];
      if (schema.maximum !== undefined && value > schema.maximum)
        return [{ path, kind: 'range', detail: `a number of at most ${schema.maximum}` }];
    }
    if (typeof value === 'string') {
      if (schema.minLength !== undefined && value.length < schema.minLength)
        return [{ path, kind: 'range', detail: `text of at least ${schema.minLength} character(s)` }];
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        return [{ path, kind: 'range', detail: `text of at most ${schema.maxLength} character(s)` }];
    }
    if (Array.isArray(value)) return this.#array(schema, value, path);
    if (isPlainObject(value)) return this.#object(schema, value, path);
    return [];
  }

  #array(schema: SchemaObject, value: unknown[], path: (string | number)[]): Found[] {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      return [{ path, kind: 'range', detail: `a list of at least ${schema.minItems} item(s)` }];
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      return [{ path, kind: 'range', detail: `a list of at most ${schema.maxItems} item(s)` }];
    if (schema.items === undefined) return [];
    const problems: Found[] = [];
    value.forEach((item, index) => problems.push(...this.check(schema.items!, item, [...path, index])));
    return problems;
  }

  #object(schema: SchemaObject, value: Record<string, unknown>, path: (string | number)[]): Found[] {
    const problems: Found[] = [];
    const properties = schema.properties ?? {};
    const allowedKeys = Object.keys(properties);
    for (const key of schema.required ?? []) {
      if (value[key] === undefined) problems.push({ path: [...path, key], kind: 'missing' });
    }
    if (schema.minProperties !== undefined && Object.keys(value).length < schema.minProperties)
      problems.push({
        path,
        kind: 'range',
        detail: `a mapping with at least ${schema.minProperties} field(s)`,
      });
    for (const [key, child] of Object.entries(value)) {
      if (child === undefined) continue;
      const property = properties[key];
      if (property !== undefined) problems.push(...this.check(property, child, [...path, key]));
      else if (schema.additionalProperties === false)
        problems.push({ path: [...path, key], kind: 'unknown', allowedKeys });
      else if (schema.additionalProperties !== undefined)
        problems.push(...this.check(schema.additionalProperties, child, [...path, key]));
    }
    return problems;
  }

  #anyOf(options: Schema[], value: unknown, path: (string | number)[]): Found[] {
    const failures: Found[][] = [];
    for (const option of options) {
      const problems = this.check(option, value, path);
      if (problems.length === 0) return [];
      failures.push(problems);
    }
    const deepest = (problems: Found[]): number => Math.max(...problems.map(depthOf));
    const best = Math.max(...failures.map(deepest));
    const candidates = failures.filter((problems) => deepest(problems) === best);
    // Every alternative stopped at this very value: say everything it could have been.
    const atValue = candidates.every((problems) =>
      problems.every(
        (problem) => samePath(problem.path, path) && (problem.kind === 'type' || problem.kind === 'value'),
      ),
    );
    if (atValue) {
      const types = new Set<string>();
      const values: unknown[] = [];
      for (const problem of candidates.flat()) {
        for (const type of problem.types ?? []) types.add(type);
        for (const entry of problem.values ?? []) if (!values.includes(entry)) values.push(entry);
      }
      return [{ path, kind: values.length > 0 ? 'value' : 'type', types: [...types], values }];
    }
    return candidates.reduce((fewest, problems) => (problems.length < fewest.length ? problems : fewest));
  }
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'text',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  null: 'null',
};

/** At most `max` names, then how many more: Vega-Lite's objects have dozens of fields. */
function listSome(values: readonly unknown[], max = 16): string {
  if (values.length <= max) return listQuoted(values);
  const quoted = values
    .slice(0, max)
    .map((value) => (typeof value === 'string' ? `'${value}'` : String(value)));
  return `${quoted.join(', ')}, … (${values.length - max} more)`;
}

function expectedText(problem: Found): string {
  const shown = problem.values ?? [];
  // A value list already says "text"; a type that only repeats that adds nothing.
  const types = (problem.types ?? []).filter(
    (type) => !(shown.length > 0 && shown.every((value) => typeof value === 'string') && type === 'string'),
  );
  const typeWords = [...new Set(types.map((type) => TYPE_WORDS[type] ?? type))];
  const valueText =
    shown.length === 0 ? '' : shown.length === 1 ? listQuoted(shown) : `one of ${listSome(shown, 24)}`;
  return [valueText, ...typeWords].filter(Boolean).join(', or ') || 'nothing (no value is allowed here)';
}

function word(problem: Found, spec: unknown): SpecProblem {
  const at = formatPath(problem.path) || 'the spec';
  const value = valueAtPath(spec, problem.path);
  switch (problem.kind) {
    case 'unknown': {
      const key = String(problem.path[problem.path.length - 1]);
      const allowed = problem.allowedKeys ?? [];
      const suggestion = didYouMean(key, allowed);
      return {
        path: problem.path,
        message: `Vega-Lite does not know the field '${key}' in ${formatPath(problem.path.slice(0, -1)) || 'the spec'}`,
        expected: allowed.length > 0 ? `one of ${listSome(allowed)}` : undefined,
        found: `'${key}'`,
        hint: suggestion !== undefined ? `did you mean '${suggestion}'?` : 'Remove it.',
        atKey: true,
      };
    }
    case 'missing': {
      const key = String(problem.path[problem.path.length - 1]);
      return {
        path: problem.path,
        message: `Vega-Lite needs the field '${key}' in ${formatPath(problem.path.slice(0, -1)) || 'the spec'}`,
        expected: `a '${key}' field`,
        found: 'nothing (the field is missing)',
        hint: `Add \`${key}:\`.`,
      };
    }
    case 'range':
      return {
        path: problem.path,
        message: `Vega-Lite value out of range at ${at}`,
        expected: problem.detail,
        found: describeValue(value),
      };
    default: {
      const strings = (problem.values ?? []).filter((entry): entry is string => typeof entry === 'string');
      const suggestion = typeof value === 'string' ? didYouMean(value, strings) : undefined;
      return {
        path: problem.path,
        message: `Invalid Vega-Lite value at ${at}`,
        expected: expectedText(problem),
        found: describeValue(value),
        hint: suggestion !== undefined ? `did you mean '${suggestion}'?` : undefined,
      };
    }
  }
}

function valueAtPath(root: unknown, path: FieldPath): unknown {
  let node = root;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (isPlainObject(node)) node = node[String(segment)];
    else return undefined;
  }
  return node;
}

/**
 * The problems of a Vega-Lite spec, at most `limit`, in document order. The spec is checked as
 * given; the caller adds the `data` it will inject (a `{ name }` placeholder is enough).
 */
export function validateVegaLite(spec: unknown, limit = 5): SpecProblem[] {
  const root = vegaLiteSchema();
  const found = new Checker(root).check(root, spec, []);
  return found.slice(0, limit).map((problem) => word(problem, spec));
}

/** `encoding.x.type: expected …, found …; hint` — one line, for refinements and logs. */
export function problemLine(problem: SpecProblem): string {
  const parts = [problem.message];
  if (problem.expected !== undefined) parts.push(`expected ${problem.expected}`);
  if (problem.found !== undefined) parts.push(`found ${problem.found}`);
  let line = parts.join('; ');
  if (problem.hint !== undefined) line += ` (${problem.hint})`;
  return line;
}
