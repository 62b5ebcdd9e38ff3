/**
 * The data-quality rules of the `check` step. Each rule compiles to one SQL query over the input
 * dataset that counts the offending rows and returns a few of them as samples.
 */
import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { splitStatements } from './sql-text.js';

const columnList = z.array(z.string().min(1)).min(1);
const severity = z
  .enum(['fail', 'warn'])
  .optional()
  .describe('Overrides the check-wide severity for this rule.');
const name = z.string().optional().describe('A label for messages (default: derived from the rule).');

export const ruleSchema = z.union([
  z.strictObject({
    row_count: z
      .strictObject({ min: z.int().min(0).optional(), max: z.int().min(0).optional() })
      .describe('The dataset must have at least `min` and at most `max` rows.'),
    severity,
    name,
  }),
  z.strictObject({ not_null: columnList.describe('Columns that must never be NULL.'), severity, name }),
  z.strictObject({
    unique: columnList.describe(
      'Columns whose combined values must not repeat. Rows with a NULL in any of them are not compared, as in a SQL UNIQUE constraint; add not_null to forbid NULLs.',
    ),
    severity,
    name,
  }),
  z.strictObject({
    accepted_values: z
      .strictObject({
        column: z.string(),
        values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1),
      })
      .describe('Every non-NULL value of `column` must be one of `values`.'),
    severity,
    name,
  }),
  z.strictObject({
    range: z
      .strictObject({ column: z.string(), min: z.number().optional(), max: z.number().optional() })
      .describe('Every non-NULL value of `column` must lie within [min, max].'),
    severity,
    name,
  }),
  z.strictObject({
    sql: z
      .string()
      .min(1)
      .describe('A query that must return zero rows; each row it returns is a violation.'),
    severity,
    name,
  }),
]);

export type Rule = z.output<typeof ruleSchema>;

export interface CompiledRule {
  label: string;
  /** Returns one row per violation (at most `limit` samples are read). */
  violationsSql: string;
  /** Returns a single `n` column: the number of violations. */
  countSql: string;
}

export function compileRule(
  rule: Rule,
  input: string,
): CompiledRule | { label: string; rowCount: { min?: number | undefined; max?: number | undefined } } {
  const table = quoteIdent(input);
  const wrap = (label: string, violations: string): CompiledRule => ({
    label: rule.name ?? label,
    violationsSql: violations,
    // The newline ends a trailing `-- comment` of a custom query before the closing parenthesis.
    countSql: `SELECT count(*) AS n FROM (${violations}\n)`,
  });
  if ('row_count' in rule) {
    const { min, max } = rule.row_count;
    return {
      label:
        rule.name ??
        `row_count ${[min !== undefined ? `≥ ${min}` : '', max !== undefined ? `≤ ${max}` : ''].filter(Boolean).join(' and ')}`,
      rowCount: { min, max },
    };
  }
  if ('not_null' in rule) {
    const condition = rule.not_null.map((column) => `${quoteIdent(column)} IS NULL`).join(' OR ');
    return wrap(`not_null(${rule.not_null.join(', ')})`, `SELECT * FROM ${table} WHERE ${condition}`);
  }
  if ('unique' in rule) {
    const columns = rule.unique.map(quoteIdent).join(', ');
    const present = rule.unique.map((column) => `${quoteIdent(column)} IS NOT NULL`).join(' AND ');
    return wrap(
      `unique(${rule.unique.join(', ')})`,
      `SELECT ${columns}, count(*) AS occurrences FROM ${table} WHERE ${present} GROUP BY ${columns} HAVING count(*) > 1`,
    );
  }
  if ('accepted_values' in rule) {
    const { column, values } = rule.accepted_values;
    const list = values
      .map((value) => (typeof value === 'string' ? quoteLiteral(value) : String(value)))
      .join(', ');
    return wrap(
      `accepted_values(${column})`,
      `SELECT * FROM ${table} WHERE ${quoteIdent(column)} IS NOT NULL AND ${quoteIdent(column)} NOT IN (${list})`,
    );
  }
  if ('range' in rule) {
    const { column, min, max } = rule.range;
    const bounds = [
      min !== undefined ? `${quoteIdent(column)} < ${min}` : undefined,
      max !== undefined ? `${quoteIdent(column)} > ${max}` : undefined,
    ].filter((part) => part !== undefined);
    const condition = bounds.length > 0 ? bounds.join(' OR ') : 'FALSE';
    return wrap(
      `range(${column}${min !== undefined ? ` ≥ ${min}` : ''}${max !== undefined ? ` ≤ ${max}` : ''})`,
      `SELECT * FROM ${table} WHERE ${condition}`,
    );
  }
  return wrap('custom sql', customQuery(rule.sql));
}

/**
 * The custom query without its trailing `;` (and anything after it, such as a comment), which could
 * not sit inside a subquery. Blank lines before it are kept so DuckDB's `LINE n:` matches the rule's
 * own lines. Several statements are left as written, for DuckDB to reject.
 */
function customQuery(sql: string): string {
  const statements = splitStatements(sql);
  const only = statements[0];
  if (statements.length !== 1 || only === undefined) return sql.trim();
  return `${'\n'.repeat(only.line - 1)}${only.text}`;
}
