/**
 * Walks configuration values (parsed YAML: plain objects, arrays, scalars) and names each string by
 * its field path, in the `steps[2].with.path` notation error messages use.
 */

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function childPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (IDENTIFIER.test(key)) return base === '' ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(key)}]`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Returns a copy of `value` with every string replaced by `map(string, path)`. Plain objects and arrays
 * are rebuilt (same keys, same order); everything else (numbers, booleans, null, Dates) is kept as is.
 */
export function mapStrings<T>(value: T, map: (text: string, path: string) => string, path = ''): T {
  if (typeof value === 'string') return map(value, path) as T;
  if (Array.isArray(value))
    return value.map((item: unknown, index) => mapStrings(item, map, childPath(path, index))) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // defineProperty, not assignment: a key named __proto__ must stay data.
      Object.defineProperty(out, key, {
        value: mapStrings(item, map, childPath(path, key)),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out as T;
  }
  return value;
}

/** Calls `visit` for every string, with its field path, without copying anything. */
export function forEachString(value: unknown, visit: (text: string, path: string) => void, path = ''): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value))
    value.forEach((item: unknown, index) => forEachString(item, visit, childPath(path, index)));
  else if (isPlainObject(value))
    for (const [key, item] of Object.entries(value)) forEachString(item, visit, childPath(path, key));
}
