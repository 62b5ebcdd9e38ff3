/**
 * Named parameters (`:name` in the SQL, `params: { name: value }` in the step) turned into each
 * driver's positional placeholders (`$1` for PostgreSQL, `?` for MariaDB and SQLite), so values are
 * always bound and never spliced into the text. A small lexer skips string literals, quoted
 * identifiers, comments, PostgreSQL dollar quotes and `::` casts, so `'10:30'` or `x::date` are left
 * alone.
 */
import { PwError } from '../../core/errors/pw-error.js';
import type { SqlDialect } from './config.js';

export type ParamValue = string | number | boolean | null;

export interface BoundSql {
  text: string;
  values: unknown[];
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** `$n` for PostgreSQL, `?` for the others. */
export function placeholder(dialect: SqlDialect, index: number): string {
  return dialect === 'postgres' ? `$${index}` : '?';
}

/**
 * Replaces `:name` placeholders; `firstIndex` is the number of the first PostgreSQL placeholder. Every
 * name must be in `params`; names in `params` that the text never uses are returned as `unused`.
 */
export function bindNamed(
  dialect: SqlDialect,
  sql: string,
  params: Readonly<Record<string, unknown>>,
  options: { firstIndex?: number; field?: string } = {},
): BoundSql & { unused: string[] } {
  const values: unknown[] = [];
  const numbers = new Map<string, number>();
  const used = new Set<string>();
  let out = '';
  let i = 0;
  const firstIndex = options.firstIndex ?? 1;
  const backslashEscapes = dialect === 'mariadb';
  while (i < sql.length) {
    const ch = sql[i] ?? '';
    const next = sql[i + 1] ?? '';
    // Comments.
    if ((ch === '-' && next === '-') || (ch === '#' && dialect === 'mariadb')) {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    // Quoted text: strings, identifiers (and MariaDB's double-quoted strings).
    if (ch === "'" || ch === '"' || ch === '`') {
      const escapes =
        backslashEscapes ||
        (dialect === 'postgres' &&
          ch === "'" &&
          /[eE]$/.test(sql.slice(0, i)) &&
          !/[A-Za-z0-9_][eE]$/.test(sql.slice(0, i)));
      const stop = endOfQuoted(sql, i, ch, escapes && ch !== '`');
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    // PostgreSQL dollar quotes: $tag$ … $tag$.
    if (ch === '$' && dialect === 'postgres') {
      const tag = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/y;
      tag.lastIndex = i;
      const match = tag.exec(sql);
      if (match && !/[A-Za-z0-9_]$/.test(sql.slice(0, i))) {
        const end = sql.indexOf(match[0], i + match[0].length);
        const stop = end === -1 ? sql.length : end + match[0].length;
        out += sql.slice(i, stop);
        i = stop;
        continue;
      }
    }
    if (ch === ':' && next === ':') {
      out += '::';
      i += 2;
      continue;
    }
    if (ch === ':' && sql[i - 1] !== ':') {
      NAME.lastIndex = i + 1;
      const match = NAME.exec(sql);
      if (match) {
        const name = match[0];
        if (!Object.hasOwn(params, name)) throw unknownParam(name, params, options.field);
        used.add(name);
        if (dialect === 'postgres') {
          let number = numbers.get(name);
          if (number === undefined) {
            number = firstIndex + values.length;
            numbers.set(name, number);
            values.push(params[name]);
          }
          out += `$${number}`;
        } else {
          values.push(params[name]);
          out += '?';
        }
        i += 1 + name.length;
        continue;
      }
    }
    out += ch;
    i += 1;
  }
  return { text: out, values, unused: Object.keys(params).filter((name) => !used.has(name)) };
}

function endOfQuoted(sql: string, start: number, quote: string, backslash: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslash && ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  return sql.length;
}

function unknownParam(
  name: string,
  params: Readonly<Record<string, unknown>>,
  field = 'with.query',
): PwError {
  const known = Object.keys(params);
  return new PwError('PW_SPEC_TYPE', `The SQL uses the parameter :${name}, which params does not define`, {
    path: field,
    expected:
      known.length > 0
        ? `one of ${known.map((key) => `:${key}`).join(', ')}`
        : 'parameters defined under params:',
    found: `:${name}`,
    hint: `Add it under params: (e.g. params: { ${name}: "{{ params.${name} }}" }). If ':${name}' is not meant as a parameter, write a space after the colon.`,
  });
}
