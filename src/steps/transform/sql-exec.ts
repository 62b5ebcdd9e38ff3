/**
 * The `sql.exec` step: runs statements on a PostgreSQL, MariaDB or SQLite connection (DDL, a stored
 * procedure, `REFRESH MATERIALIZED VIEW`, a cleanup DELETE), by default inside one transaction. It
 * produces no dataset; `outputs.rows_affected` counts the rows the statements changed where the
 * database reports it.
 */
import { z } from 'zod';
import { defineStep } from '../../core/step.js';
import { bindNamed } from '../../connectors/sql/params.js';
import { connectForStep } from '../../connectors/sql/step-support.js';
import { sqlParamsSchema } from '../extract/sql-query-schema.js';

export const sqlExecConfig = z.strictObject({
  connection: z
    .string()
    .min(1)
    .describe('A connection of type postgres, mariadb or sqlite from pipewright.yaml.'),
  statements: z
    .string()
    .min(1)
    .describe(
      'One or more statements separated by ";" (with params: exactly one), in the database’s own SQL.',
    ),
  params: sqlParamsSchema.optional(),
  transaction: z
    .boolean()
    .default(true)
    .describe(
      'Run the statements in one transaction (default true). Set false for statements that refuse one (REFRESH MATERIALIZED VIEW CONCURRENTLY, VACUUM, a procedure that commits).',
    ),
});

export const sqlExecStep = defineStep({
  type: 'sql.exec',
  kind: 'transform',
  description: 'Runs statements (DDL, procedures, REFRESH MATERIALIZED VIEW) on a database connection.',
  config: sqlExecConfig,
  producesDataset: false,
  async run(ctx, config) {
    const connection = await connectForStep(ctx, config.connection, { multipleStatements: true });
    const { driver } = connection;
    try {
      const bound =
        config.params === undefined
          ? { text: config.statements, values: [], unused: [] }
          : bindNamed(driver.dialect, config.statements, config.params, { field: 'with.statements' });
      if (bound.unused.length > 0)
        ctx.log.warn(`params ${bound.unused.map((name) => `'${name}'`).join(', ')} not used`);
      let affected: number | undefined;
      try {
        if (config.transaction) await driver.begin();
        affected = await driver.execute(bound.text, bound.values);
        if (config.transaction) await driver.commit();
      } catch (error) {
        if (config.transaction) await driver.rollback().catch(() => undefined);
        throw connection.fail(error, {
          phase: 'exec',
          what: config.transaction ? 'statements (rolled back)' : 'statements',
          sql: bound.text,
        });
      }
      ctx.log.info(`statements ran${affected === undefined ? '' : `, ${affected} rows affected`}`);
      return affected === undefined
        ? { outputs: { rows_affected: null } }
        : { rows: affected, outputs: { rows_affected: affected } };
    } finally {
      await driver.close();
    }
  },
});
