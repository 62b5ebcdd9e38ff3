/** Quoting identifiers per dialect, and `schema.table` names as written in a step. */
import { PwError } from '../../core/errors/pw-error.js';
import type { SqlDialect } from './config.js';

export interface TableName {
  /** The schema (PostgreSQL), database (MariaDB) or attached database (SQLite); undefined for the default. */
  schema: string | undefined;
  name: string;
}

export function quoteName(dialect: SqlDialect, name: string): string {
  return dialect === 'mariadb' ? `\`${name.replaceAll('`', '``')}\`` : `"${name.replaceAll('"', '""')}"`;
}

export function quoteTable(dialect: SqlDialect, table: TableName): string {
  return table.schema === undefined
    ? quoteName(dialect, table.name)
    : `${quoteName(dialect, table.schema)}.${quoteName(dialect, table.name)}`;
}

/** `public.sales` as written in messages. */
export function showTable(table: TableName): string {
  return table.schema === undefined ? table.name : `${table.schema}.${table.name}`;
}

/**
 * `sales`, `analytics.sales`, or with quotes for names holding a dot: `"my.schema"."sales"` (double
 * quotes or backticks). Names are used exactly as written, case included.
 */
export function parseTableName(text: string, field = 'with.table'): TableName {
  const parts: string[] = [];
  let i = 0;
  const bad = (why: string) =>
    new PwError('PW_SPEC_TYPE', `'${text}' is not a table name: ${why}`, {
      path: field,
      expected: 'table or schema.table (quote a part holding a dot: "my.schema".sales)',
      found: text,
    });
  while (i <= text.length) {
    const ch = text[i];
    let part = '';
    if (ch === '"' || ch === '`') {
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw bad('a quote is not closed');
        if (text[j] === ch) {
          if (text[j + 1] === ch) {
            part += ch;
            j += 2;
            continue;
          }
          break;
        }
        part += text[j];
        j += 1;
      }
      i = j + 1;
    } else {
      const end = text.indexOf('.', i);
      part = (end === -1 ? text.slice(i) : text.slice(i, end)).trim();
      i = end === -1 ? text.length : end;
    }
    if (part === '') throw bad('an empty part');
    parts.push(part);
    if (i >= text.length) break;
    if (text[i] !== '.') throw bad(`unexpected '${text[i] ?? ''}'`);
    i += 1;
  }
  if (parts.length > 2) throw bad('more than schema and table');
  const [first, second] = parts;
  if (first === undefined) throw bad('empty');
  return second === undefined ? { schema: undefined, name: first } : { schema: first, name: second };
}
