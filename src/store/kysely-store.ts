/**
 * The one StateStore implementation, written against Kysely with queries both SQLite and PostgreSQL
 * accept. An adapter folder (sqlite/, later postgres/) only opens a connection and describes its
 * driver's errors through `DialectSupport`; everything else — queries, row mapping, migrations — is here.
 */
import { Migrator, sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import { PwError } from '../core/errors/pw-error.js';
import type { Database, StoreDialect } from './database-schema.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, createMigrationProvider } from './migrations/index.js';
import type {
  ArtifactRecord,
  DataLoadRecord,
  ErrorInfo,
  LogEntry,
  LogLevel,
  NewRun,
  PipelineRevision,
  RunFilter,
  RunPatch,
  RunRecord,
  RunStatus,
  StateStore,
  StepAttemptPatch,
  StepAttemptRecord,
  StepStatus,
  StoredLogEntry,
} from './state-store.js';

/** What the shared store needs to know about a driver's errors. */
export interface DialectSupport {
  name: StoreDialect;
  /** A write lost a race (unique key taken, snapshot outdated) and is worth repeating. */
  isWriteConflict(error: unknown): boolean;
  /** Advice for a driver error, or undefined for the generic hint. */
  hintFor(error: unknown): string | undefined;
}

export interface KyselyStoreOptions {
  db: Kysely<Database>;
  dialect: DialectSupport;
  /** Where the store lives, for messages: a file path or a URL without its password. */
  location: string;
  /** Runs after Kysely is destroyed, for handles Kysely may never have taken over. */
  onClose?: () => void | Promise<void>;
}

export const DEFAULT_LIMITS = { runs: 100, runPrefix: 20, logs: 1000, dataLoads: 100 } as const;
/** Rows per INSERT: far below SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_CHUNK = 500;
const REVISION_RETRIES = 5;
const GENERIC_HINT =
  'Check that the state store is reachable and not used by an incompatible Pipewright version, then retry.';

type Row<T extends keyof Database> = Selectable<Database[T]>;
type RevisionRow = Database['pipeline_revisions'];
type RunRow = Database['runs'];
type ErrorColumns = Pick<RunRow, 'error_code' | 'error_message' | 'error_hint' | 'error_step'>;

export class KyselyStateStore implements StateStore {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectSupport;
  readonly #location: string;
  readonly #onClose: (() => void | Promise<void>) | undefined;

  constructor(options: KyselyStoreOptions) {
    this.#db = options.db;
    this.#dialect = options.dialect;
    this.#location = options.location;
    this.#onClose = options.onClose;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.#db,
      provider: createMigrationProvider(this.#dialect.name),
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
    });
    let outcome: Awaited<ReturnType<Migrator['migrateToLatest']>>;
    try {
      outcome = await migrator.migrateToLatest();
    } catch (error) {
      throw this.#failure('migrate', error);
    }
    if (outcome.error === undefined) return;
    const failed = outcome.results?.find((result) => result.status === 'Error')?.migrationName;
    const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    // Kysely reports a database migrated by newer code as "previously executed migration … is missing".
    const newer = /is missing/.test(message);
    throw this.#failure(failed === undefined ? 'migrate' : `apply migration ${failed}`, outcome.error, {
      hint: newer
        ? 'This store was migrated by a newer Pipewright; upgrade Pipewright or point `state` at another store.'
        : undefined,
    });
  }

  async close(): Promise<void> {
    try {
      await this.#db.destroy();
    } finally {
      await this.#onClose?.();
    }
  }

  savePipelineRevision(input: {
    pipelineId: string;
    hash: string;
    definition: unknown;
    sourcePath: string;
    at: Date;
  }): Promise<{ revision: PipelineRevision; created: boolean }> {
    return this.#guard('save a pipeline revision', async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#saveRevisionOnce(input);
        } catch (error) {
          // A concurrent writer took the next number; the unique key refused ours, so read again.
          if (attempt < REVISION_RETRIES && this.#dialect.isWriteConflict(error)) continue;
          throw error;
        }
      }
    });
  }

  #saveRevisionOnce(input: {
    pipelineId: string;
    hash: string;
    definition: unknown;
    sourcePath: string;
    at: Date;
  }): Promise<{ revision: PipelineRevision; created: boolean }> {
    return this.#db.transaction().execute(async (trx) => {
      const at = iso(input.at);
      await trx
        .insertInto('pipelines')
        .values({ id: input.pipelineId, created_at: at })
        .onConflict((conflict) => conflict.column('id').doNothing())
        .execute();
      const latest = await trx
        .selectFrom('pipeline_revisions')
        .selectAll()
        .where('pipeline_id', '=', input.pipelineId)
        .orderBy('revision', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (latest !== undefined && latest.hash === input.hash) {
        return { revision: toRevision(latest), created: false };
      }
      const row: RevisionRow = {
        pipeline_id: input.pipelineId,
        revision: (latest?.revision ?? 0) + 1,
        hash: input.hash,
        definition: JSON.stringify(input.definition ?? null),
        source_path: input.sourcePath,
        created_at: at,
      };
      await trx.insertInto('pipeline_revisions').values(row).execute();
      return { revision: toRevision(row), created: true };
    });
  }

  getPipelineRevision(pipelineId: string, revision: number): Promise<PipelineRevision | undefined> {
    return this.#guard('read a pipeline revision', async () => {
      const row = await this.#db
        .selectFrom('pipeline_revisions')
        .selectAll()
        .where('pipeline_id', '=', pipelineId)
        .where('revision', '=', revision)
        .executeTakeFirst();
      return row === undefined ? undefined : toRevision(row);
    });
  }

  latestPipelineRevision(pipelineId: string): Promise<PipelineRevision | undefined> {
    return this.#guard('read the latest pipeline revision', async () => {
      const row = await this.#db
        .selectFrom('pipeline_revisions')
        .selectAll()
        .where('pipeline_id', '=', pipelineId)
        .orderBy('revision', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toRevision(row);
    });
  }

  createRun(run: NewRun): Promise<RunRecord> {
    return this.#guard(`create run ${run.id}`, async () => {
      const row: RunRow = {
        id: run.id,
        pipeline_id: run.pipelineId,
        revision: run.revision,
        status: run.status,
        trigger: run.trigger,
        params: JSON.stringify(run.params),
        scheduled_for: iso(run.scheduledFor),
        queued_at: iso(run.queuedAt),
        started_at: isoOrNull(run.startedAt),
        finished_at: null,
        attempt: 1,
        workspace: run.workspace ?? null,
        host: run.host ?? null,
        pid: run.pid ?? null,
        ...errorColumns(undefined),
      };
      await this.#db.insertInto('runs').values(row).execute();
      return toRun(row);
    });
  }

  updateRun(id: string, patch: RunPatch): Promise<void> {
    return this.#guard(`update run ${id}`, async () => {
      const values: Updateable<RunRow> = {};
      if (patch.status !== undefined) values.status = patch.status;
      if (patch.attempt !== undefined) values.attempt = patch.attempt;
      // A key present with `undefined` clears the column (a resumed run drops its old finish and error).
      if ('startedAt' in patch) values.started_at = isoOrNull(patch.startedAt);
      if ('finishedAt' in patch) values.finished_at = isoOrNull(patch.finishedAt);
      if ('workspace' in patch) values.workspace = patch.workspace ?? null;
      if ('host' in patch) values.host = patch.host ?? null;
      if ('pid' in patch) values.pid = patch.pid ?? null;
      if ('error' in patch) Object.assign(values, errorColumns(patch.error));
      if (Object.keys(values).length === 0) return;
      const result = await this.#db.updateTable('runs').set(values).where('id', '=', id).executeTakeFirst();
      if (result.numUpdatedRows === 0n) {
        throw new PwError(
          'PW_RUN_NOT_FOUND',
          `No run with id '${id}' in the state store at ${this.#location}`,
          {
            hint: 'List runs with `pipewright runs` to find the id.',
          },
        );
      }
    });
  }

  getRun(id: string): Promise<RunRecord | undefined> {
    return this.#guard(`read run ${id}`, async () => {
      const row = await this.#db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toRun(row);
    });
  }

  findRunsByIdPrefix(prefix: string, limit: number = DEFAULT_LIMITS.runPrefix): Promise<RunRecord[]> {
    return this.#guard('find runs by id prefix', async () => {
      const pattern = `${prefix.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      const rows = await this.#db
        .selectFrom('runs')
        .selectAll()
        .where(sql<boolean>`id like ${pattern} escape '\\'`)
        // SQLite's LIKE ignores ASCII case and PostgreSQL's does not; this makes both exact.
        .where(sql<boolean>`substr(id, 1, length(cast(${prefix} as text))) = ${prefix}`)
        .orderBy('queued_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toRun);
    });
  }

  listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    return this.#guard('list runs', async () => {
      let query = this.#db.selectFrom('runs').selectAll();
      if (filter.pipelineId !== undefined) query = query.where('pipeline_id', '=', filter.pipelineId);
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (filter.before !== undefined) query = query.where('queued_at', '<', iso(filter.before));
      const rows = await query
        .orderBy('queued_at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? DEFAULT_LIMITS.runs)
        .execute();
      return rows.map(toRun);
    });
  }

  startStepAttempt(attempt: Omit<StepAttemptRecord, 'status'> & { status?: StepStatus }): Promise<void> {
    const what = `start step ${attempt.stepId} attempt ${attempt.attempt} of run ${attempt.runId}`;
    return this.#guard(what, async () => {
      await this.#db
        .insertInto('step_attempts')
        .values({
          run_id: attempt.runId,
          step_id: attempt.stepId,
          attempt: attempt.attempt,
          run_attempt: attempt.runAttempt,
          status: attempt.status ?? 'running',
          started_at: iso(attempt.startedAt),
          finished_at: isoOrNull(attempt.finishedAt),
          rows: attempt.rows ?? null,
          bytes: attempt.bytes ?? null,
          outputs: jsonOrNull(attempt.outputs),
          warnings: jsonOrNull(attempt.warnings),
          ...errorColumns(attempt.error),
        })
        .execute();
    });
  }

  finishStepAttempt(runId: string, stepId: string, attempt: number, patch: StepAttemptPatch): Promise<void> {
    return this.#guard(`finish step ${stepId} attempt ${attempt} of run ${runId}`, async () => {
      const values: Updateable<Database['step_attempts']> = {};
      if (patch.status !== undefined) values.status = patch.status;
      if ('finishedAt' in patch) values.finished_at = isoOrNull(patch.finishedAt);
      if ('rows' in patch) values.rows = patch.rows ?? null;
      if ('bytes' in patch) values.bytes = patch.bytes ?? null;
      if ('outputs' in patch) values.outputs = jsonOrNull(patch.outputs);
      if ('warnings' in patch) values.warnings = jsonOrNull(patch.warnings);
      if ('error' in patch) Object.assign(values, errorColumns(patch.error));
      if (Object.keys(values).length === 0) return;
      const result = await this.#db
        .updateTable('step_attempts')
        .set(values)
        .where('run_id', '=', runId)
        .where('step_id', '=', stepId)
        .where('attempt', '=', attempt)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) {
        throw new PwError(
          'PW_INTERNAL',
          `Step ${stepId} attempt ${attempt} of run ${runId} was never started`,
          {
            hint: 'This is a bug in Pipewright: startStepAttempt must precede finishStepAttempt.',
          },
        );
      }
    });
  }

  listStepAttempts(runId: string): Promise<StepAttemptRecord[]> {
    return this.#guard(`list step attempts of run ${runId}`, async () => {
      const rows = await this.#db
        .selectFrom('step_attempts')
        .selectAll()
        .where('run_id', '=', runId)
        .orderBy('started_at')
        .orderBy('run_attempt')
        .orderBy('attempt')
        .orderBy('step_id')
        .execute();
      return rows.map(toStepAttempt);
    });
  }

  appendLogs(entries: readonly LogEntry[]): Promise<void> {
    return this.#guard('append logs', async () => {
      if (entries.length === 0) return;
      const rows = entries.map((entry) => ({
        run_id: entry.runId,
        step_id: entry.stepId ?? null,
        at: iso(entry.at),
        level: entry.level,
        message: entry.message,
        data: jsonOrNull(entry.data),
      }));
      // One transaction: a batch is stored whole or not at all, and SQLite syncs once instead of per row.
      await this.#db.transaction().execute(async (trx) => {
        for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
          await trx
            .insertInto('logs')
            .values(rows.slice(start, start + INSERT_CHUNK))
            .execute();
        }
      });
    });
  }

  listLogs(
    runId: string,
    options: { afterId?: number; limit?: number; stepId?: string } = {},
  ): Promise<StoredLogEntry[]> {
    return this.#guard(`list logs of run ${runId}`, async () => {
      let query = this.#db.selectFrom('logs').selectAll().where('run_id', '=', runId);
      if (options.afterId !== undefined) query = query.where('id', '>', options.afterId);
      if (options.stepId !== undefined) query = query.where('step_id', '=', options.stepId);
      const rows = await query
        .orderBy('id')
        .limit(options.limit ?? DEFAULT_LIMITS.logs)
        .execute();
      return rows.map(toLog);
    });
  }

  addArtifact(artifact: Omit<ArtifactRecord, 'id'>): Promise<ArtifactRecord> {
    return this.#guard(`add artifact ${artifact.name} of run ${artifact.runId}`, async () => {
      const row = {
        run_id: artifact.runId,
        step_id: artifact.stepId ?? null,
        name: artifact.name,
        path: artifact.path,
        bytes: artifact.bytes,
        sha256: artifact.sha256 ?? null,
        content_type: artifact.contentType ?? null,
        created_at: iso(artifact.createdAt),
        deleted_at: isoOrNull(artifact.deletedAt),
      };
      const { id } = await this.#db
        .insertInto('artifacts')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow();
      return toArtifact({ ...row, id });
    });
  }

  listArtifacts(runId: string): Promise<ArtifactRecord[]> {
    return this.#guard(`list artifacts of run ${runId}`, async () => {
      const rows = await this.#db
        .selectFrom('artifacts')
        .selectAll()
        .where('run_id', '=', runId)
        .orderBy('id')
        .execute();
      return rows.map(toArtifact);
    });
  }

  listExpiredArtifacts(before: Date): Promise<ArtifactRecord[]> {
    return this.#guard('list expired artifacts', async () => {
      const rows = await this.#db
        .selectFrom('artifacts')
        .innerJoin('runs', 'runs.id', 'artifacts.run_id')
        .selectAll('artifacts')
        .where('runs.queued_at', '<', iso(before))
        .where('artifacts.deleted_at', 'is', null)
        .orderBy('artifacts.id')
        .execute();
      return rows.map(toArtifact);
    });
  }

  markArtifactDeleted(id: number, at: Date): Promise<void> {
    return this.#guard(`mark artifact ${id} deleted`, async () => {
      // Keeps the first deletion time when two cleanups overlap.
      await this.#db
        .updateTable('artifacts')
        .set({ deleted_at: iso(at) })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .execute();
    });
  }

  recordDataLoad(load: Omit<DataLoadRecord, 'id'>): Promise<DataLoadRecord> {
    return this.#guard(`record a data load of run ${load.runId}`, async () => {
      const row = {
        run_id: load.runId,
        pipeline_id: load.pipelineId,
        step_id: load.stepId,
        target: load.target,
        source: load.source ?? null,
        rows: load.rows,
        bytes: load.bytes ?? null,
        status: load.status,
        at: iso(load.at),
        message: load.message ?? null,
      };
      const { id } = await this.#db
        .insertInto('data_loads')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow();
      return toDataLoad({ ...row, id });
    });
  }

  listDataLoads(
    filter: { runId?: string; pipelineId?: string; limit?: number } = {},
  ): Promise<DataLoadRecord[]> {
    return this.#guard('list data loads', async () => {
      let query = this.#db.selectFrom('data_loads').selectAll();
      if (filter.runId !== undefined) query = query.where('run_id', '=', filter.runId);
      if (filter.pipelineId !== undefined) query = query.where('pipeline_id', '=', filter.pipelineId);
      const rows = await query
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? DEFAULT_LIMITS.dataLoads)
        .execute();
      return rows.map(toDataLoad);
    });
  }

  /** Every driver error leaves the store as a PW_STORE error that says which store and what failed. */
  async #guard<T>(operation: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      if (error instanceof PwError) throw error;
      throw this.#failure(operation, error);
    }
  }

  #failure(operation: string, cause: unknown, details: { hint?: string | undefined } = {}): PwError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new PwError('PW_STORE', `State store ${this.#location}: could not ${operation}: ${reason}`, {
      hint: details.hint ?? this.#dialect.hintFor(cause) ?? GENERIC_HINT,
      cause,
    });
  }
}

// ---- mapping between rows and records -------------------------------------------------------------

function iso(date: Date): string {
  return date.toISOString();
}

function isoOrNull(date: Date | undefined): string | null {
  return date === undefined ? null : date.toISOString();
}

function dateOrUndefined(text: string | null): Date | undefined {
  return text === null ? undefined : new Date(text);
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function parseJson<T>(text: string | null): T | undefined {
  return text === null ? undefined : (JSON.parse(text) as T);
}

function int(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

function intOrUndefined(value: number | string | null): number | undefined {
  return value === null ? undefined : int(value);
}

function orUndefined<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

/**
 * Drops keys whose value is undefined, so a record read back deep-equals the one written and optional
 * fields are absent rather than present-but-undefined.
 */
function compact<T extends object>(record: T): T {
  for (const key of Object.keys(record) as (keyof T)[]) {
    if (record[key] === undefined) delete record[key];
  }
  return record;
}

function errorColumns(error: ErrorInfo | undefined): ErrorColumns {
  return {
    error_code: error?.code ?? null,
    error_message: error?.message ?? null,
    error_hint: error?.hint ?? null,
    error_step: error?.stepId ?? null,
  };
}

function toError(row: ErrorColumns): ErrorInfo | undefined {
  if (row.error_code === null) return undefined;
  return compact({
    code: row.error_code,
    message: row.error_message ?? '',
    hint: orUndefined(row.error_hint),
    stepId: orUndefined(row.error_step),
  });
}

function toRevision(row: RevisionRow): PipelineRevision {
  return {
    pipelineId: row.pipeline_id,
    revision: int(row.revision),
    hash: row.hash,
    definition: JSON.parse(row.definition) as unknown,
    sourcePath: row.source_path,
    createdAt: new Date(row.created_at),
  };
}

function toRun(row: RunRow): RunRecord {
  return compact<RunRecord>({
    id: row.id,
    pipelineId: row.pipeline_id,
    revision: int(row.revision),
    status: row.status as RunStatus,
    trigger: row.trigger,
    params: JSON.parse(row.params) as Record<string, unknown>,
    scheduledFor: new Date(row.scheduled_for),
    queuedAt: new Date(row.queued_at),
    startedAt: dateOrUndefined(row.started_at),
    finishedAt: dateOrUndefined(row.finished_at),
    attempt: int(row.attempt),
    workspace: orUndefined(row.workspace),
    host: orUndefined(row.host),
    pid: intOrUndefined(row.pid),
    error: toError(row),
  });
}

function toStepAttempt(row: Row<'step_attempts'>): StepAttemptRecord {
  return compact<StepAttemptRecord>({
    runId: row.run_id,
    stepId: row.step_id,
    attempt: int(row.attempt),
    runAttempt: int(row.run_attempt),
    status: row.status as StepStatus,
    startedAt: new Date(row.started_at),
    finishedAt: dateOrUndefined(row.finished_at),
    rows: intOrUndefined(row.rows),
    bytes: intOrUndefined(row.bytes),
    outputs: parseJson<Record<string, unknown>>(row.outputs),
    warnings: parseJson<string[]>(row.warnings),
    error: toError(row),
  });
}

function toLog(row: Row<'logs'>): StoredLogEntry {
  return compact<StoredLogEntry>({
    id: int(row.id),
    runId: row.run_id,
    stepId: orUndefined(row.step_id),
    at: new Date(row.at),
    level: row.level as LogLevel,
    message: row.message,
    data: parseJson<Record<string, unknown>>(row.data),
  });
}

function toArtifact(row: Row<'artifacts'>): ArtifactRecord {
  return compact<ArtifactRecord>({
    id: int(row.id),
    runId: row.run_id,
    stepId: orUndefined(row.step_id),
    name: row.name,
    path: row.path,
    bytes: int(row.bytes),
    sha256: orUndefined(row.sha256),
    contentType: orUndefined(row.content_type),
    createdAt: new Date(row.created_at),
    deletedAt: dateOrUndefined(row.deleted_at),
  });
}

function toDataLoad(row: Row<'data_loads'>): DataLoadRecord {
  return compact<DataLoadRecord>({
    id: int(row.id),
    runId: row.run_id,
    pipelineId: row.pipeline_id,
    stepId: row.step_id,
    target: row.target,
    source: orUndefined(row.source),
    rows: int(row.rows),
    bytes: intOrUndefined(row.bytes),
    status: row.status as DataLoadRecord['status'],
    at: new Date(row.at),
    message: orUndefined(row.message),
  });
}
