/**
 * What the two MongoDB steps share: resolving the named connection (secrets masked from then on),
 * connecting under the step's signal (an abort closes the client, ending a wait for the server), and
 * reading a cursor into the dataset with driver errors turned into PwErrors of this step.
 */
import type { AbstractCursor, Document } from 'mongodb';
import type { StepContext, StepResult } from '../../core/step.js';
import { parseDuration } from '../../core/duration.js';
import { PwError } from '../../core/errors/pw-error.js';
import { MONGODB_CONNECTION_TYPES, mongoSettings, type MongoSettings } from './config.js';
import { openMongo, type MongoSession } from './client.js';
import { mongoLabel, toMongoError, type MongoErrorContext } from './errors.js';
import { streamDocumentsIntoDataset } from './document-sink.js';
import { finishIncremental, type IncrementalRead, type MongoIncrementalConfig } from './incremental.js';

export interface MongoStepConfig {
  connection: string;
  database?: string | undefined;
  collection: string;
  flatten: boolean;
  nested: 'json' | 'struct';
  columns?: Record<string, string> | undefined;
  batch_size: number;
  max_time?: string | undefined;
  incremental?: MongoIncrementalConfig | undefined;
}

export interface MongoStepConnection {
  session: MongoSession;
  settings: MongoSettings;
  label: string;
  fail(error: unknown, context: Omit<MongoErrorContext, 'settings' | 'stepId'>): Error;
}

export function mongoStepSettings(ctx: StepContext, name: string): MongoSettings {
  return mongoSettings(name, ctx.connection(name, MONGODB_CONNECTION_TYPES), ctx.projectDir);
}

/**
 * Runs `prepare` (reading the step's Extended JSON, so bad input fails before connecting), then `read`
 * with a connected session, and closes it whatever happens.
 */
export async function withMongo<P, T>(
  ctx: StepContext,
  config: MongoStepConfig,
  prepare: (label: string) => Promise<P>,
  read: (connection: MongoStepConnection, prepared: P) => Promise<T>,
): Promise<T> {
  const settings = mongoStepSettings(ctx, config.connection);
  const label = mongoLabel({ settings, stepId: ctx.stepId });
  const fail = (error: unknown, context: Omit<MongoErrorContext, 'settings' | 'stepId'>): Error =>
    toMongoError(error, { ...context, settings, stepId: ctx.stepId });
  const database = config.database ?? settings.database;
  if (database === undefined) {
    throw new PwError('PW_SPEC_TYPE', `${label}: no database to read from`, {
      path: 'with.database',
      expected: 'database in the step, or in the connection (its field or the URL path)',
      hint: `Add database: … to the step, or to connection '${config.connection}' (mongodb://host/database).`,
    });
  }
  const prepared = await prepare(label);
  ctx.signal.throwIfAborted();
  const started = Date.now();
  let session: MongoSession;
  try {
    session = await openMongo(settings, database);
  } catch (error) {
    throw fail(error, { phase: 'connect' });
  }
  const onAbort = (): void => void session.close().catch(() => undefined);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  ctx.log.debug(`connected to ${label.replace(/^Step '[^']*', /, '')} in ${Date.now() - started} ms`);
  try {
    return await read({ session, settings, label, fail }, prepared);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await session.close().catch(() => undefined);
  }
}

/** Cursor options every read uses: BSON numbers kept wrapped so their types survive; regexes as BSON. */
export function readOptions(config: MongoStepConfig): {
  batchSize: number;
  promoteValues: false;
  bsonRegExp: true;
  maxTimeMS?: number;
} {
  const maxTime = config.max_time === undefined ? undefined : parseDuration(config.max_time);
  return {
    batchSize: config.batch_size,
    promoteValues: false,
    bsonRegExp: true,
    ...(maxTime === undefined ? {} : { maxTimeMS: maxTime }),
  };
}

/**
 * Streams the cursor into the dataset and reports rows, columns and notes as the step's result; an
 * incremental read also keeps the largest cursor value and proposes it as the next mark.
 */
export async function readCursor(
  ctx: StepContext,
  config: MongoStepConfig,
  connection: MongoStepConnection,
  cursor: AbstractCursor<Document>,
  what: string,
  incremental?: IncrementalRead,
): Promise<StepResult> {
  async function* guarded(): AsyncGenerator<Document> {
    try {
      for await (const document of cursor) {
        incremental?.tracker.observe(document);
        yield document;
      }
    } catch (error) {
      throw connection.fail(error, { phase: 'query', what });
    }
  }
  try {
    const sink = await streamDocumentsIntoDataset(ctx, guarded(), {
      batchSize: config.batch_size,
      flatten: config.flatten,
      nested: config.nested,
      columns: config.columns ?? {},
      label: connection.label,
    });
    for (const note of sink.notes) ctx.log.warn(note);
    ctx.log.info(`${sink.rows} documents from ${what}, ${connection.label.replace(/^Step '[^']*', /, '')}`);
    const marks =
      incremental === undefined
        ? {}
        : { incremental: await finishIncremental(ctx, incremental, sink.rows, connection.label) };
    return {
      rows: sink.rows,
      outputs: { ...marks, columns: sink.columns.map((column) => column.name) },
      ...(sink.notes.length > 0 ? { warnings: sink.notes } : {}),
    };
  } finally {
    await cursor.close().catch(() => undefined);
  }
}
