/**
 * `sql`: DuckDB SQL over the run's datasets. Several statements may be given; every one runs in
 * order and the last one must be a query, whose result becomes this step's dataset. Earlier
 * datasets are tables named after their steps; run parameters are also DuckDB variables
 * (`getvariable('low')`), which keeps values out of the SQL text.
 */
import { z } from 'zod';
import type { StatementType } from '@duckdb/node-api';
import { defineStep, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { mentionedIdentifiers, referencedSteps, splitStatements, type SqlStatement } from './sql-text.js';
import { sqlError } from './duckdb-errors.js';
import { setParamVariables } from './param-variables.js';

/**
 * Statements DuckDB reports as queries that cannot follow `CREATE TABLE … AS` as written, but can
 * as a subquery (`FROM (DESCRIBE t)`).
 */
const WRAPPED_QUERIES = new Set(['describe', 'desc', 'summarize', 'show']);
/** Statements DuckDB reports as queries but that cannot be stored in a table or view at all. */
const NOT_STORABLE = new Set(['pragma', 'explain', 'call']);

export const sqlStep = defineStep({
  type: 'sql',
  kind: 'transform',
  description: 'Runs DuckDB SQL over earlier datasets; the last statement (a query) becomes the dataset.',
  config: z.strictObject({
    query: z
      .string()
      .min(1)
      .describe(
        'DuckDB SQL. Several statements may be separated by `;`; the last must be a SELECT (or WITH … SELECT).',
      ),
    materialize: z
      .enum(['table', 'view'])
      .default('table')
      .describe('`table` stores the result (default); `view` stores the query and computes it when read.'),
  }),
  inputs: (config, knownSteps) => referencedSteps(config.query, knownSteps),
  async run(ctx, config) {
    const statements = splitStatements(config.query);
    const last = statements.at(-1);
    if (!last) {
      throw new PwError('PW_SQL_ERROR', 'The query holds no statement', {
        hint: 'Write at least one SELECT.',
      });
    }
    const connection = ctx.datasets.connection;
    ctx.signal.throwIfAborted();
    await setParamVariables(connection, ctx.run.params);

    for (const statement of statements.slice(0, -1)) {
      ctx.signal.throwIfAborted();
      try {
        await connection.run(statement.text);
      } catch (cause) {
        throw sqlError(cause, statement.line, `Statement at line ${statement.line}`);
      }
    }

    ctx.signal.throwIfAborted();
    const { StatementType: StatementTypes } = await import('@duckdb/node-api');
    let statementType: StatementType;
    try {
      const prepared = await connection.prepare(last.text);
      statementType = prepared.statementType;
      prepared.destroySync();
    } catch (cause) {
      throw sqlError(cause, last.line, `Query at line ${last.line}`);
    }
    const firstWord = (/^[A-Za-z]+/.exec(last.text)?.[0] ?? '').toLowerCase();
    if (statementType !== StatementTypes.SELECT || NOT_STORABLE.has(firstWord)) {
      const found = NOT_STORABLE.has(firstWord)
        ? firstWord.toUpperCase()
        : (StatementTypes[statementType] ?? 'non-query');
      throw new PwError(
        'PW_SQL_ERROR',
        `The last statement (line ${last.line}) is not a query, so there is no dataset to keep`,
        {
          expected: 'a SELECT or WITH … SELECT as the last statement',
          found: `a ${found} statement`,
          hint:
            firstWord === 'pragma'
              ? "Use the table-function form instead, e.g. SELECT * FROM pragma_table_info('x')."
              : 'End the script with the SELECT whose result this step should produce.',
        },
      );
    }
    // A newline before the closing parenthesis ends a trailing `-- comment` of the query.
    const query = WRAPPED_QUERIES.has(firstWord) ? `FROM (${last.text}\n)` : `${last.text}\n`;
    if (config.materialize === 'view') await assertViewable(ctx, last);

    const rows = await publish(ctx, config.materialize, query, last);
    ctx.log.info(`${rows} rows`);
    return { rows };
  },
});

/**
 * A view is computed when read, later and on another connection, where this step's run parameters
 * and temporary tables do not exist: a view that used them would read NULLs or fail.
 */
async function assertViewable(ctx: StepContext, last: SqlStatement): Promise<void> {
  const mentioned = mentionedIdentifiers(last.text);
  if (mentioned.has('getvariable')) {
    throw new PwError(
      'PW_SQL_ERROR',
      `The query at line ${last.line} reads run parameters with getvariable(), which a view cannot keep`,
      {
        expected: 'a query without getvariable() for materialize: view',
        found: 'getvariable()',
        hint: 'Use materialize: table, which computes the result while the parameters are set.',
      },
    );
  }
  const temporary = await ctx.datasets.query<{ name: string }>(
    'SELECT table_name AS name FROM duckdb_tables() WHERE temporary UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal',
  );
  const used = temporary.map((row) => row.name).filter((name) => mentioned.has(name.toLowerCase()));
  if (used.length > 0) {
    throw new PwError(
      'PW_SQL_ERROR',
      `The query at line ${last.line} reads the temporary ${used.join(', ')}, which a view cannot keep`,
      {
        expected: 'a view over datasets (tables that outlive this step)',
        found: `temporary ${used.join(', ')}`,
        hint: 'Use materialize: table, or a WITH clause instead of the temporary table.',
      },
    );
  }
}

/**
 * Publishes the result as this step's dataset through the engine's atomic replace, so a failed query
 * leaves the previous dataset (table or view) as it was and re-running never appends.
 */
function publish(
  ctx: StepContext,
  materialize: 'table' | 'view',
  query: string,
  last: SqlStatement,
): Promise<number> {
  const kind = materialize === 'view' ? 'VIEW' : 'TABLE';
  return ctx.datasets.replaceOutput(async (target) => {
    try {
      await ctx.datasets.connection.run(`CREATE ${kind} ${target} AS ${query}`);
    } catch (cause) {
      throw sqlError(cause, last.line, `Query at line ${last.line}`);
    }
  });
}
