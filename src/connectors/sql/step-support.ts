/**
 * What the three SQL steps share: resolving the named connection (secrets masked from then on),
 * opening its driver under the step's signal, and the label every message starts with.
 */
import type { StepContext } from '../../core/step.js';
import { sqlSettings, SQL_CONNECTION_TYPES, type SqlSettings } from './config.js';
import { openSqlDriver, type OpenOptions, type SqlDriver } from './driver.js';
import { connectionLabel, toDbError, type DbErrorContext } from './errors.js';

export interface StepConnection {
  driver: SqlDriver;
  settings: SqlSettings;
  /** `Step 'x', connection 'warehouse' (postgres, app@db:5432/sales)` */
  label: string;
  /** A driver error as a PwError of this step and connection. */
  fail(error: unknown, context: Omit<DbErrorContext, 'settings' | 'stepId'>): Error;
}

/** Settings of the step's connection, before anything connects. */
export function stepSettings(ctx: StepContext, name: string): SqlSettings {
  return sqlSettings(name, ctx.connection(name, SQL_CONNECTION_TYPES), ctx.projectDir);
}

export async function connectForStep(
  ctx: StepContext,
  name: string,
  options: Omit<OpenOptions, 'signal'> = {},
): Promise<StepConnection> {
  const settings = stepSettings(ctx, name);
  // When the step was aborted the engine reports the abort's reason instead of this error.
  const fail = (error: unknown, context: Omit<DbErrorContext, 'settings' | 'stepId'>): Error =>
    toDbError(error, { ...context, settings, stepId: ctx.stepId });
  const started = Date.now();
  let driver: SqlDriver;
  try {
    driver = await openSqlDriver(settings, { ...options, signal: ctx.signal });
  } catch (error) {
    throw fail(error, { phase: 'connect' });
  }
  const label = connectionLabel({ settings, stepId: ctx.stepId });
  ctx.log.debug(`connected to ${label.replace(/^Step '[^']*', /, '')} in ${Date.now() - started} ms`);
  return { driver, settings, label, fail };
}
