/**
 * Field paths and value descriptions as they appear in messages. A path is written the way a user
 * would point at it in the YAML (`steps[2].with.path`), and a value is described by what YAML made of
 * it, because "expected a string, found a number (30)" explains an unquoted value better than JSON.
 */

export type FieldPath = readonly (string | number)[];

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `['steps', 2, 'with', 'path']` → `steps[2].with.path`; the document itself is `''`. */
export function formatPath(path: FieldPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** The raw value at a path, or undefined when the path leads nowhere. */
export function valueAt(root: unknown, path: FieldPath): unknown {
  let node = root;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (isPlainObject(node)) node = node[String(segment)];
    else return undefined;
  }
  return node;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Field names whose values are never echoed back: a literal secret may sit there by mistake.
const SENSITIVE = /pass|secret|token|credential|auth|private|api_?key/i;

export function isSensitivePath(path: FieldPath): boolean {
  return path.some((segment) => typeof segment === 'string' && SENSITIVE.test(segment));
}

function shorten(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What YAML produced at a place, for the "found" half of a message. */
export function describeValue(value: unknown, hideContent = false): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'a mapping';
  if (hideContent) return `a ${typeof value} (value hidden)`;
  if (typeof value === 'string') return `the text '${shorten(value)}'`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  return typeof value;
}

/** Zod's names for expected types, in the words a YAML author uses. */
export function describeExpectedType(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record':
    case 'map':
      return 'a mapping (key: value pairs)';
    case 'array':
    case 'tuple':
    case 'set':
      return 'a list';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'int':
    case 'integer':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'an empty value';
    case 'date':
      return 'a date';
    default:
      return expected;
  }
}
