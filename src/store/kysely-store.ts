/**
 * The one StateStore implementation, written against Kysely with queries both SQLite and PostgreSQL
 * accept. An adapter folder (sqlite/, postgres/) only opens a connection and describes its driver's
 * errors through `DialectSupport`; everything else — queries, migrations — is here, and row mapping is
 * in row-mapping.ts. Where the dialects must differ (claiming from the run queue) both variants sit
 * side by side in one method.
 */
import { Migrator, sql, type ExpressionBuilder, type Kysely, type Selectable, type Updateable } from 'kysely';
import { PwError } from '../core/errors/pw-error.js';
import type { Database, StoreDialect } from './database-schema.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, createMigrationProvider } from './migrations/index.js';
import {
  countLeaseExpiry,
  countRunsByStatus,
  leaseExpiryCount,
  listFinishedRuns,
  listFinishedStepAttempts,
  queueDepth,
  withLeaseExpiries,
} from './metrics-queries.js';
import {
  errorColumns,
  int,
  iso,
  isoOrNull,
  jsonOrNull,
  toApiToken,
  toArtifact,
  toDataLoad,
  toLog,
  toPipelineState,
  toRevision,
  toRun,
  toStepAttempt,
  type RevisionRow,
  type RunRow,
} from './row-mapping.js';
import type {
  ApiTokenRecord,
  ApiTokenScope,
  ArtifactRecord,
  ClaimRequest,
  DataLoadRecord,
  DeliveryRecord,
  FinishedRunCursor,
  FinishedRunTiming,
  FinishedStepCursor,
  FinishedStepTiming,
  LogEntry,
  NewRun,
  PipelineRevision,
  PipelineState,
  RunFilter,
  RunPatch,
  RunRecord,
  RunStatus,
  StateStore,
  StepAttemptPatch,
  StepAttemptRecord,
  StepStatus,
  StoredLogEntry,
  NewPipelineRevision,
  NewDelivery,
  InboxBatchRecord,
} from './state-store.js';

// Step history (previousStepOutputs) imports on its own lines, apart from the shared lists above.
import type { PreviousStepOutputsRecord } from './state-store.js';
import { dateOrUndefined, parseJson } from './row-mapping.js';

// Watched folders import on their own lines too.
import type { WatchedFilePatch, WatchedFileRecord, WatchedFileState } from './state-store.js';
// The web UI's sessions and lists (ui-queries.ts) import on their own lines too.
import type { DataLoadCursor, UiSessionRecord } from './state-store.js';
import * as uiQueries from './ui-queries.js';

// Incremental marks (sql.query `incremental:`) import on their own lines too.
import type { IncrementalMarkCommit, IncrementalMarkProposal, IncrementalMarkRecord } from './state-store.js';

/** What the shared store needs to know about a driver's errors. */
export interface DialectSupport {
  name: StoreDialect;
  /** A write lost a race (unique key taken, snapshot outdated) and is worth repeating. */
  isWriteConflict(error: unknown): boolean;
  /** Advice for a driver error, or undefined for the generic hint. */
  hintFor(error: unknown): string | undefined;
  /** The server could not be reached (refused, reset, lost): the same request may work shortly. */
  isUnreachable(error: unknown): boolean;
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
/** The trigger of runs queued by the scheduler; only these are unique per (pipeline, scheduled_for). */
const SCHEDULE_TRIGGER = 'schedule';
const CANCELLED_MESSAGE = 'The run was cancelled before it started';
/**
 * PostgreSQL transaction advisory-lock key ('pwclaims' in ASCII) taken by claims that check concurrency
 * limits, so two workers cannot both count the same free slot. In `pg_locks`: classid 1886872428, objid 1634299251.
 */
const POSTGRES_CLAIM_LOCK_KEY = '8104055371618413939';

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

  savePipelineRevision(
    input: NewPipelineRevision,
  ): Promise<{ revision: PipelineRevision; created: boolean }> {
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

  #saveRevisionOnce(input: NewPipelineRevision): Promise<{ revision: PipelineRevision; created: boolean }> {
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
      const row = newRunRow(run);
      await this.#db.insertInto('runs').values(row).execute();
      return toRun(row);
    });
  }

  updateRun(id: string, patch: RunPatch): Promise<void> {
    return this.#guard(`update run ${id}`, async () => {
      const values = runPatchValues(patch);
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
      if (filter.from !== undefined) query = query.where('queued_at', '>=', iso(filter.from));
      if (filter.statuses !== undefined) query = query.where('status', 'in', [...filter.statuses]);
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
        // Repeating the insert after a lost reply must not fail: the row it wanted is already there.
        .onConflict((conflict) => conflict.columns(['run_id', 'step_id', 'attempt']).doNothing())
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

  // ---- run queue ----------------------------------------------------------------------------------

  enqueueRun(run: NewRun & { status: 'queued' }): Promise<RunRecord | undefined> {
    return this.#guard(`queue run ${run.id}`, async () => {
      // The conflict target names the partial unique index of migration 0002, so only a taken schedule
      // slot is skipped; a taken run id still fails. No exception means no aborted PostgreSQL transaction.
      const inserted = await this.#db
        .insertInto('runs')
        .values(newRunRow(run))
        .onConflict((conflict) =>
          conflict
            .columns(['pipeline_id', 'scheduled_for'])
            .where(sql.ref('trigger'), '=', sql.lit(SCHEDULE_TRIGGER))
            .doNothing(),
        )
        .returningAll()
        .executeTakeFirst();
      return inserted === undefined ? undefined : toRun(inserted);
    });
  }

  claimRun(request: ClaimRequest): Promise<RunRecord | undefined> {
    return this.#guard(`claim a queued run for worker ${request.workerId}`, async () => {
      const limited =
        request.maxRunning !== undefined || Object.keys(request.maxRunningPerPipeline ?? {}).length > 0;
      if (this.#dialect.name === 'postgres' && limited) {
        // Under READ COMMITTED two claims could each count the same free slot before either commits;
        // the lock makes claims that check limits take turns. Unlimited claims need only SKIP LOCKED.
        return this.#db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(${POSTGRES_CLAIM_LOCK_KEY}::bigint)`.execute(trx);
          return this.#claimStatement(trx, request);
        });
      }
      // SQLite: one UPDATE holds the database's single write lock from its first read to its commit,
      // so the choice, the limit counts and the write can never interleave with another claim.
      return this.#claimStatement(this.#db, request);
    });
  }

  /** One statement: `update runs set … where id = (oldest claimable queued run) and status = 'queued'`. */
  async #claimStatement(db: Kysely<Database>, request: ClaimRequest): Promise<RunRecord | undefined> {
    const now = iso(request.now);
    const oldestClaimable = db
      .selectFrom('runs as q')
      .select('q.id')
      .where('q.status', '=', 'queued')
      .where((eb) => eb.and(limitConditions(eb, request)))
      .orderBy('q.queued_at')
      .orderBy('q.id')
      .limit(1)
      // PostgreSQL: lock the chosen row and pass over rows other claims have locked, instead of waiting
      // for them and then finding them taken. SQLite has no row locks and needs none.
      .$if(this.#dialect.name === 'postgres', (query) => query.forUpdate().skipLocked());
    const row = await db
      .updateTable('runs')
      .set((eb) => ({
        status: 'running',
        lease_owner: request.workerId,
        lease_expires_at: iso(new Date(request.now.getTime() + request.leaseMs)),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
      }))
      .where('id', '=', oldestClaimable)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : toRun(row);
  }

  renewLease(runId: string, workerId: string, until: Date): Promise<boolean> {
    return this.#guard(`renew the lease of run ${runId}`, async () => {
      const result = await this.#db
        .updateTable('runs')
        .set({ lease_expires_at: iso(until) })
        .where('id', '=', runId)
        .where('lease_owner', '=', workerId)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  requeueExpiredLeases(
    now: Date,
    maxAttempts: number,
  ): Promise<{ requeued: RunRecord[]; failed: RunRecord[] }> {
    return this.#guard('take back runs whose lease expired', async () => {
      const at = iso(now);
      // Each run taken back counts a lease expiry (GET /metrics) in the same statement, so exactly once.
      const db = withLeaseExpiries(this.#db);
      // Each UPDATE re-checks `status = 'running'` on the row it writes (PostgreSQL re-reads a row another
      // transaction changed meanwhile; SQLite runs one writer at a time), so of two schedulers calling this
      // at once, exactly one takes back each run. The two statements select disjoint runs by attempt.
      const failed = await db
        .updateTable('runs')
        .set({
          status: 'failed',
          lease_expiries: countLeaseExpiry(),
          finished_at: at,
          lease_owner: null,
          lease_expires_at: null,
          ...errorColumns({
            code: 'PW_PROCESS_LOST',
            message: `The worker running this run stopped renewing its lease, and the run had used all ${maxAttempts} attempts`,
            hint: 'Look at the logs of the host and pid shown on the run for why the worker stopped, then retry the run.',
          }),
        })
        .where('status', '=', 'running')
        .where('lease_expires_at', '<', at)
        .where('attempt', '>=', maxAttempts)
        .returningAll()
        .execute();
      const requeued = await db
        .updateTable('runs')
        .set((eb) => ({
          status: 'queued',
          lease_expiries: countLeaseExpiry(),
          attempt: eb('attempt', '+', 1),
          lease_owner: null,
          lease_expires_at: null,
        }))
        .where('status', '=', 'running')
        .where('lease_expires_at', '<', at)
        .where('attempt', '<', maxAttempts)
        .returningAll()
        .execute();
      return { requeued: inQueueOrder(requeued), failed: inQueueOrder(failed) };
    });
  }

  requestCancel(runId: string, at: Date): Promise<RunRecord | undefined> {
    return this.#guard(`cancel run ${runId}`, async () => {
      const when = iso(at);
      // One statement, so a run that changes between queued and running meanwhile is still handled
      // as what it is when the cancel lands. Every CASE reads the row's values from before the update.
      const row = await this.#db
        .updateTable('runs')
        .set((eb) => {
          const ifQueued = () => eb.case().when('status', '=', 'queued');
          return {
            status: ifQueued().then('cancelled').else(eb.ref('status')).end(),
            finished_at: ifQueued().then(when).else(eb.ref('finished_at')).end(),
            error_code: ifQueued().then('PW_CANCELLED').else(eb.ref('error_code')).end(),
            error_message: ifQueued().then(CANCELLED_MESSAGE).else(eb.ref('error_message')).end(),
            error_hint: ifQueued().then(null).else(eb.ref('error_hint')).end(),
            cancel_requested_at: eb.fn.coalesce('cancel_requested_at', eb.val(when)),
          };
        })
        .where('id', '=', runId)
        .where('status', 'in', ['queued', 'running'])
        .returningAll()
        .executeTakeFirst();
      if (row !== undefined) return toRun(row);
      const finished = await this.#db
        .selectFrom('runs')
        .selectAll()
        .where('id', '=', runId)
        .executeTakeFirst();
      return finished === undefined ? undefined : toRun(finished);
    });
  }

  lastScheduledSlot(pipelineId: string): Promise<Date | undefined> {
    return this.#guard(`read the last scheduled slot of ${pipelineId}`, async () => {
      const row = await this.#db
        .selectFrom('runs')
        .select((eb) => eb.fn.max('scheduled_for').as('slot'))
        .where('pipeline_id', '=', pipelineId)
        .where('trigger', '=', SCHEDULE_TRIGGER)
        .executeTakeFirst();
      return row?.slot == null ? undefined : new Date(row.slot);
    });
  }

  countRuns(filter: { status?: RunStatus; pipelineId?: string } = {}): Promise<number> {
    return this.#guard('count runs', async () => {
      let query = this.#db.selectFrom('runs').select((eb) => eb.fn.countAll<number | string>().as('n'));
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (filter.pipelineId !== undefined) query = query.where('pipeline_id', '=', filter.pipelineId);
      const row = await query.executeTakeFirstOrThrow();
      return int(row.n);
    });
  }

  // ---- pipeline state -----------------------------------------------------------------------------

  getPipelineState(pipelineId: string): Promise<PipelineState | undefined> {
    return this.#guard(`read the state of pipeline ${pipelineId}`, async () => {
      const row = await this.#db
        .selectFrom('pipeline_state')
        .selectAll()
        .where('pipeline_id', '=', pipelineId)
        .executeTakeFirst();
      return row === undefined ? undefined : toPipelineState(row);
    });
  }

  listPipelineStates(): Promise<PipelineState[]> {
    return this.#guard('list pipeline states', async () => {
      const rows = await this.#db.selectFrom('pipeline_state').selectAll().orderBy('pipeline_id').execute();
      return rows.map(toPipelineState);
    });
  }

  setPipelinePaused(pipelineId: string, paused: boolean): Promise<void> {
    return this.#guard(`${paused ? 'pause' : 'resume'} pipeline ${pipelineId}`, async () => {
      await this.#db
        .insertInto('pipeline_state')
        .values({ pipeline_id: pipelineId, paused: paused ? 1 : 0, updated_at: iso(new Date()) })
        .onConflict((conflict) =>
          conflict.column('pipeline_id').doUpdateSet((eb) => ({
            paused: eb.ref('excluded.paused'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    });
  }

  setPipelineInvalid(pipelineId: string, reason: string | undefined, at: Date): Promise<void> {
    const what = `mark pipeline ${pipelineId} ${reason === undefined ? 'valid' : 'invalid'}`;
    return this.#guard(what, async () => {
      if (reason === undefined) {
        // No row already means valid, so there is nothing to insert.
        await this.#db
          .updateTable('pipeline_state')
          .set({ invalid_since: null, invalid_reason: null, updated_at: iso(at) })
          .where('pipeline_id', '=', pipelineId)
          .execute();
        return;
      }
      await this.#db
        .insertInto('pipeline_state')
        .values({
          pipeline_id: pipelineId,
          paused: 0,
          invalid_since: iso(at),
          invalid_reason: reason,
          updated_at: iso(at),
        })
        .onConflict((conflict) =>
          conflict.column('pipeline_id').doUpdateSet((eb) => ({
            // Still invalid after another edit: keep when it first broke, show the newest reason.
            invalid_since: eb.fn.coalesce('pipeline_state.invalid_since', 'excluded.invalid_since'),
            invalid_reason: eb.ref('excluded.invalid_reason'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    });
  }

  // ---- API tokens -----------------------------------------------------------------------------------

  createApiToken(input: {
    name: string;
    scope: ApiTokenScope;
    hash: string;
    at: Date;
  }): Promise<ApiTokenRecord> {
    return this.#guard(`create API token ${input.name}`, async () => {
      const taken = () =>
        new PwError('PW_TOKEN_NAME_TAKEN', `An API token named '${input.name}' already exists`, {
          hint: 'Pick another --name, or revoke the old token first (names stay taken after a revoke).',
        });
      const existing = await this.#db
        .selectFrom('api_tokens')
        .select('id')
        .where('name', '=', input.name)
        .executeTakeFirst();
      if (existing !== undefined) throw taken();
      try {
        const row = await this.#db
          .insertInto('api_tokens')
          .values({ name: input.name, scope: input.scope, hash: input.hash, created_at: iso(input.at) })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toApiToken(row);
      } catch (error) {
        // Two creators raced for the name: the unique key decided.
        if (this.#dialect.isWriteConflict(error)) throw taken();
        throw error;
      }
    });
  }

  listApiTokens(): Promise<ApiTokenRecord[]> {
    return this.#guard('list API tokens', async () => {
      const rows = await this.#db.selectFrom('api_tokens').selectAll().orderBy('name').execute();
      return rows.map(toApiToken);
    });
  }

  findApiTokenByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    return this.#guard('look up an API token', async () => {
      const row = await this.#db
        .selectFrom('api_tokens')
        .selectAll()
        .where('hash', '=', hash)
        .executeTakeFirst();
      return row === undefined ? undefined : toApiToken(row);
    });
  }

  revokeApiToken(name: string, at: Date): Promise<boolean> {
    return this.#guard(`revoke API token ${name}`, async () => {
      const row = await this.#db
        .selectFrom('api_tokens')
        .select(['id', 'revoked_at'])
        .where('name', '=', name)
        .executeTakeFirst();
      if (row === undefined) return false;
      if (row.revoked_at === null) {
        await this.#db
          .updateTable('api_tokens')
          .set({ revoked_at: iso(at) })
          .where('id', '=', row.id)
          .where('revoked_at', 'is', null)
          .execute();
      }
      return true;
    });
  }

  touchApiToken(id: number, at: Date): Promise<void> {
    return this.#guard(`record the use of API token ${id}`, async () => {
      await this.#db
        .updateTable('api_tokens')
        .set({ last_used_at: iso(at) })
        .where('id', '=', id)
        .execute();
    });
  }

  // ---- web UI sessions and lists (the queries are in ui-queries.ts) ---------------------------------

  createUiSession(session: UiSessionRecord): Promise<void> {
    return this.#guard('create a web UI session', () => uiQueries.createUiSession(this.#db, session));
  }

  findUiSession(idHash: string): Promise<{ session: UiSessionRecord; token: ApiTokenRecord } | undefined> {
    return this.#guard('look up a web UI session', () => uiQueries.findUiSession(this.#db, idHash));
  }

  touchUiSession(idHash: string, at: Date): Promise<void> {
    return this.#guard('record the use of a web UI session', () =>
      uiQueries.touchUiSession(this.#db, idHash, at),
    );
  }

  deleteUiSession(idHash: string): Promise<void> {
    return this.#guard('delete a web UI session', () => uiQueries.deleteUiSession(this.#db, idHash));
  }

  listRecentRunsByPipeline(pipelineIds: readonly string[], perPipeline: number): Promise<RunRecord[]> {
    return this.#guard('list the recent runs of each pipeline', () =>
      uiQueries.listRecentRunsByPipeline(this.#db, this.#dialect.name, pipelineIds, perPipeline),
    );
  }

  listDataLoadsPage(
    pipelineId: string,
    after: DataLoadCursor | undefined,
    limit: number,
  ): Promise<DataLoadRecord[]> {
    return this.#guard(`list the data loads of pipeline ${pipelineId}`, () =>
      uiQueries.listDataLoadsPage(this.#db, pipelineId, after, limit),
    );
  }

  listRecentDeliveries(options: { failedOnly: boolean; limit: number }): Promise<DeliveryRecord[]> {
    return this.#guard('list recent deliveries', async () => {
      let query = this.#db.selectFrom('deliveries').selectAll();
      if (options.failedOnly) query = query.where('status', '=', 'failed');
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(options.limit)
        .execute();
      return rows.map(toDelivery);
    });
  }

  // ---- metrics (GET /metrics; the queries are in metrics-queries.ts) --------------------------------

  countRunsByStatus(): Promise<Record<RunStatus, number>> {
    return this.#guard('count runs by status', () => countRunsByStatus(this.#db));
  }

  queueDepth(): Promise<{ queued: number; oldestQueuedAt: Date | undefined }> {
    return this.#guard('read the queue depth', () => queueDepth(this.#db));
  }

  listFinishedRuns(after: FinishedRunCursor | undefined, limit: number): Promise<FinishedRunTiming[]> {
    return this.#guard('list finished runs', () => listFinishedRuns(this.#db, after, limit));
  }

  listFinishedStepAttempts(
    after: FinishedStepCursor | undefined,
    limit: number,
  ): Promise<FinishedStepTiming[]> {
    return this.#guard('list finished step attempts', () => listFinishedStepAttempts(this.#db, after, limit));
  }

  leaseExpiryCount(): Promise<number> {
    return this.#guard('count lease expiries', () => leaseExpiryCount(this.#db));
  }

  // ---- deliveries (email, webhook, notifications) -------------------------------------------------

  recordDelivery(delivery: NewDelivery): Promise<DeliveryRecord> {
    return this.#guard(`record a delivery of pipeline ${delivery.pipelineId}`, async () => {
      const row = {
        run_id: delivery.runId ?? null,
        pipeline_id: delivery.pipelineId,
        step_id: delivery.stepId ?? null,
        event: delivery.event,
        kind: delivery.kind,
        target: delivery.target,
        subject: delivery.subject ?? null,
        message_id: delivery.messageId ?? null,
        status: delivery.status,
        attempts: delivery.attempts,
        error: delivery.error ?? null,
        created_at: iso(delivery.createdAt),
      };
      const { id } = await this.#db
        .insertInto('deliveries')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow();
      return toDelivery({ ...row, id });
    });
  }

  listDeliveries(
    filter: { runId?: string | undefined; pipelineId?: string | undefined; limit?: number | undefined } = {},
  ): Promise<DeliveryRecord[]> {
    return this.#guard('list deliveries', async () => {
      let query = this.#db.selectFrom('deliveries').selectAll();
      if (filter.runId !== undefined) query = query.where('run_id', '=', filter.runId);
      if (filter.pipelineId !== undefined) query = query.where('pipeline_id', '=', filter.pipelineId);
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? DEFAULT_DELIVERIES_LIMIT)
        .execute();
      return rows.map(toDelivery);
    });
  }

  // ---- end of deliveries ----------------------------------------------------------------------------

  // ---- step history (a report's change against the previous run) ----------------------------------

  previousStepOutputs(query: {
    pipelineId: string;
    stepId: string;
    scheduledBefore: Date;
    excludeRunId: string;
  }): Promise<PreviousStepOutputsRecord | undefined> {
    const what = `read the previous outputs of step ${query.stepId} of pipeline ${query.pipelineId}`;
    return this.#guard(what, async () => {
      const row = await this.#db
        .selectFrom('runs')
        .innerJoin('step_attempts', 'step_attempts.run_id', 'runs.id')
        .select([
          'runs.id as run_id',
          'runs.scheduled_for as scheduled_for',
          'runs.finished_at as finished_at',
          'step_attempts.outputs as outputs',
        ])
        .where('runs.pipeline_id', '=', query.pipelineId)
        .where('runs.status', '=', 'succeeded')
        .where('runs.id', '<>', query.excludeRunId)
        .where('runs.scheduled_for', '<', iso(query.scheduledBefore))
        .where('step_attempts.step_id', '=', query.stepId)
        .where('step_attempts.status', '=', 'succeeded')
        .orderBy('runs.scheduled_for', 'desc')
        .orderBy('runs.finished_at', 'desc')
        .orderBy('step_attempts.finished_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      return {
        runId: row.run_id,
        scheduledFor: new Date(row.scheduled_for),
        finishedAt: dateOrUndefined(row.finished_at),
        outputs: parseJson<Record<string, unknown>>(row.outputs) ?? {},
      };
    });
  }

  // ---- end of step history ------------------------------------------------------------------------

  // ---- incremental marks (sql.query `incremental:`) -----------------------------------------------

  getIncrementalMark(pipelineId: string, stepId: string): Promise<IncrementalMarkRecord | undefined> {
    return this.#guard(`read the incremental mark of step ${stepId} of pipeline ${pipelineId}`, async () => {
      const row = await this.#db
        .selectFrom('incremental_marks')
        .selectAll()
        .where('pipeline_id', '=', pipelineId)
        .where('step_id', '=', stepId)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      return {
        pipelineId: row.pipeline_id,
        stepId: row.step_id,
        value: row.value,
        runId: row.run_id,
        updatedAt: new Date(row.updated_at),
      };
    });
  }

  proposeIncrementalMark(proposal: IncrementalMarkProposal): Promise<void> {
    return this.#guard(
      `propose an incremental mark for step ${proposal.stepId} of run ${proposal.runId}`,
      async () => {
        const row = {
          run_id: proposal.runId,
          step_id: proposal.stepId,
          pipeline_id: proposal.pipelineId,
          base: proposal.base ?? null,
          value: proposal.value,
          proposed_at: iso(proposal.at),
        };
        await this.#db
          .insertInto('incremental_proposals')
          .values(row)
          .onConflict((conflict) =>
            conflict.columns(['run_id', 'step_id']).doUpdateSet({
              base: row.base,
              value: row.value,
              proposed_at: row.proposed_at,
            }),
          )
          .execute();
      },
    );
  }

  commitIncrementalMarks(runId: string, at: Date): Promise<IncrementalMarkCommit[]> {
    return this.#guard(`commit the incremental marks of run ${runId}`, () =>
      this.#db.transaction().execute(async (trx) => {
        const proposals = await trx
          .selectFrom('incremental_proposals')
          .selectAll()
          .where('run_id', '=', runId)
          .orderBy('step_id')
          .execute();
        const results: IncrementalMarkCommit[] = [];
        for (const proposal of proposals) {
          const current = await trx
            .selectFrom('incremental_marks')
            .select('value')
            .where('pipeline_id', '=', proposal.pipeline_id)
            .where('step_id', '=', proposal.step_id)
            .executeTakeFirst();
          const unchanged = (current?.value ?? null) === proposal.base;
          if (unchanged) {
            const mark = {
              pipeline_id: proposal.pipeline_id,
              step_id: proposal.step_id,
              value: proposal.value,
              run_id: runId,
              updated_at: iso(at),
            };
            // Compare-and-set: the update matches only the base this run read (or inserts the first mark).
            if (current === undefined) {
              await trx
                .insertInto('incremental_marks')
                .values(mark)
                .onConflict((conflict) => conflict.columns(['pipeline_id', 'step_id']).doNothing())
                .execute();
            } else {
              await trx
                .updateTable('incremental_marks')
                .set({ value: mark.value, run_id: mark.run_id, updated_at: mark.updated_at })
                .where('pipeline_id', '=', mark.pipeline_id)
                .where('step_id', '=', mark.step_id)
                .where('value', '=', current.value)
                .execute();
            }
          }
          results.push({
            stepId: proposal.step_id,
            status: unchanged ? 'committed' : 'superseded',
            value: proposal.value,
          });
        }
        await trx.deleteFrom('incremental_proposals').where('run_id', '=', runId).execute();
        return results;
      }),
    );
  }

  // ---- end of incremental marks -------------------------------------------------------------------

  // ---- watched folders ----------------------------------------------------------------------------

  recordWatchedFile(entry: WatchedFileRecord): Promise<void> {
    return this.#guard(`record watched file ${entry.name}`, async () => {
      await this.#db
        .insertInto('watched_files')
        .values({
          id: entry.id,
          pipeline_id: entry.pipelineId,
          dir: entry.dir,
          name: entry.name,
          size: entry.size,
          mtime: iso(entry.mtime),
          sha256: entry.sha256,
          state: entry.state,
          run_id: entry.runId,
          processing_path: entry.processingPath,
          final_path: entry.finalPath ?? null,
          message: entry.message ?? null,
          claimed_at: iso(entry.claimedAt),
          finished_at: isoOrNull(entry.finishedAt),
        })
        .execute();
    });
  }

  updateWatchedFile(id: string, patch: WatchedFilePatch): Promise<void> {
    return this.#guard(`update watched file ${id}`, async () => {
      const values: Updateable<Database['watched_files']> = {};
      if ('state' in patch && patch.state !== undefined) values.state = patch.state;
      if ('finalPath' in patch) values.final_path = patch.finalPath ?? null;
      if ('message' in patch) values.message = patch.message ?? null;
      if ('finishedAt' in patch) values.finished_at = isoOrNull(patch.finishedAt);
      if (Object.keys(values).length === 0) return;
      await this.#db.updateTable('watched_files').set(values).where('id', '=', id).execute();
    });
  }

  queueWatchedFileRun(id: string, run: NewRun & { status: 'queued' }): Promise<void> {
    return this.#guard(`queue run ${run.id} for watched file ${id}`, () =>
      this.#db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('runs')
          .select('id')
          .where('id', '=', run.id)
          .executeTakeFirst();
        if (existing === undefined) await trx.insertInto('runs').values(newRunRow(run)).execute();
        await trx.updateTable('watched_files').set({ state: 'queued' }).where('id', '=', id).execute();
      }),
    );
  }

  retryWatchedFileRun(id: string, runId: string, runPatch: RunPatch): Promise<boolean> {
    return this.#guard(`queue run ${runId} again for watched file ${id}`, () =>
      this.#db.transaction().execute(async (trx) => {
        const moved = await trx
          .updateTable('watched_files')
          .set({ state: 'queued', final_path: null, message: null, finished_at: null })
          .where('id', '=', id)
          .where('state', '=', 'failed')
          .executeTakeFirst();
        if (moved.numUpdatedRows === 0n) return false;
        const values = runPatchValues(runPatch);
        const updated = await trx.updateTable('runs').set(values).where('id', '=', runId).executeTakeFirst();
        if (updated.numUpdatedRows === 0n) {
          throw new PwError(
            'PW_RUN_NOT_FOUND',
            `No run with id '${runId}' in the state store at ${this.#location}`,
          );
        }
        return true;
      }),
    );
  }

  listWatchedFiles(filter: {
    dir?: string;
    states?: readonly WatchedFileState[];
    pipelineId?: string;
    runId?: string;
  }): Promise<WatchedFileRecord[]> {
    return this.#guard('list watched files', async () => {
      let query = this.#db.selectFrom('watched_files').selectAll();
      if (filter.dir !== undefined) query = query.where('dir', '=', filter.dir);
      if (filter.runId !== undefined) query = query.where('run_id', '=', filter.runId);
      if (filter.pipelineId !== undefined) query = query.where('pipeline_id', '=', filter.pipelineId);
      if (filter.states !== undefined) {
        if (filter.states.length === 0) return [];
        query = query.where('state', 'in', [...filter.states]);
      }
      const rows = await query.orderBy('claimed_at').orderBy('id').execute();
      return rows.map(toWatchedFile);
    });
  }

  listRecentWatchedFiles(limit: number): Promise<WatchedFileRecord[]> {
    return this.#guard('list recent watched files', async () => {
      const rows = await this.#db
        .selectFrom('watched_files')
        .selectAll()
        .orderBy('claimed_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toWatchedFile);
    });
  }

  findWatchedFileByHash(
    pipelineId: string,
    sha256: string,
    states: readonly WatchedFileState[],
  ): Promise<WatchedFileRecord | undefined> {
    return this.#guard('look up a watched file by content', async () => {
      if (states.length === 0) return undefined;
      const row = await this.#db
        .selectFrom('watched_files')
        .selectAll()
        .where('pipeline_id', '=', pipelineId)
        .where('sha256', '=', sha256)
        .where('state', 'in', [...states])
        .orderBy('claimed_at', 'desc')
        .orderBy('id', 'desc')
        .executeTakeFirst();
      return row === undefined ? undefined : toWatchedFile(row);
    });
  }

  // ---- end of watched folders ---------------------------------------------------------------------

  // ---- inbox batches ------------------------------------------------------------------------------

  recordInboxBatch(batch: InboxBatchRecord): Promise<void> {
    return this.#guard(`record batch ${batch.id} of inbox ${batch.inbox}`, async () => {
      await this.#db
        .insertInto('inbox_batches')
        .values({
          id: batch.id,
          inbox: batch.inbox,
          received_at: iso(batch.receivedAt),
          bytes: batch.bytes,
          status: batch.status,
          files: JSON.stringify(batch.files),
          error: batch.error ?? null,
          run_id: batch.runId ?? null,
        })
        .execute();
    });
  }

  updateInboxBatch(
    id: string,
    patch: Partial<Pick<InboxBatchRecord, 'status' | 'files' | 'error' | 'runId'>>,
  ): Promise<void> {
    return this.#guard(`update batch ${id}`, async () => {
      const values: Record<string, string | null> = {};
      if (patch.status !== undefined) values.status = patch.status;
      if (patch.files !== undefined) values.files = JSON.stringify(patch.files);
      if ('error' in patch) values.error = patch.error ?? null;
      if ('runId' in patch) values.run_id = patch.runId ?? null;
      if (Object.keys(values).length === 0) return;
      await this.#db.updateTable('inbox_batches').set(values).where('id', '=', id).execute();
    });
  }

  getInboxBatch(id: string): Promise<InboxBatchRecord | undefined> {
    return this.#guard(`read batch ${id}`, async () => {
      const row = await this.#db
        .selectFrom('inbox_batches')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row === undefined ? undefined : toInboxBatch(row);
    });
  }

  listUnfinishedInboxBatches(): Promise<InboxBatchRecord[]> {
    return this.#guard('list unfinished batches', async () => {
      const rows = await this.#db
        .selectFrom('inbox_batches')
        .leftJoin('runs', 'runs.id', 'inbox_batches.run_id')
        .selectAll('inbox_batches')
        .where((eb) =>
          eb.or([
            eb('inbox_batches.status', '=', 'received'),
            eb.and([
              eb('inbox_batches.status', '=', 'stored'),
              eb('inbox_batches.run_id', 'is not', null),
              eb('runs.id', 'is', null),
            ]),
          ]),
        )
        .orderBy('inbox_batches.received_at')
        .orderBy('inbox_batches.id')
        .execute();
      return rows.map(toInboxBatch);
    });
  }

  listRecentInboxBatches(limit: number): Promise<InboxBatchRecord[]> {
    return this.#guard('list recent batches', async () => {
      const rows = await this.#db
        .selectFrom('inbox_batches')
        .selectAll()
        .orderBy('received_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toInboxBatch);
    });
  }

  // ---- end of inbox batches -----------------------------------------------------------------------

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
    const code = this.#dialect.isUnreachable(cause) ? 'PW_STORE_UNREACHABLE' : 'PW_STORE';
    return new PwError(code, `State store ${this.#location}: could not ${operation}: ${reason}`, {
      hint: details.hint ?? this.#dialect.hintFor(cause) ?? GENERIC_HINT,
      cause,
    });
  }
}

// ---- query pieces -------------------------------------------------------------------------------

/** The columns a run patch sets; a key present with `undefined` clears its column. */
function runPatchValues(patch: RunPatch): Updateable<RunRow> {
  const values: Updateable<RunRow> = {};
  if (patch.status !== undefined) values.status = patch.status;
  if (patch.attempt !== undefined) values.attempt = patch.attempt;
  // A resumed run drops its old finish and error.
  if ('startedAt' in patch) values.started_at = isoOrNull(patch.startedAt);
  if ('finishedAt' in patch) values.finished_at = isoOrNull(patch.finishedAt);
  if ('workspace' in patch) values.workspace = patch.workspace ?? null;
  if ('leaseOwner' in patch) values.lease_owner = patch.leaseOwner ?? null;
  if ('leaseExpiresAt' in patch) values.lease_expires_at = isoOrNull(patch.leaseExpiresAt);
  if ('cancelRequestedAt' in patch) values.cancel_requested_at = isoOrNull(patch.cancelRequestedAt);
  if ('host' in patch) values.host = patch.host ?? null;
  if ('pid' in patch) values.pid = patch.pid ?? null;
  if ('error' in patch) Object.assign(values, errorColumns(patch.error));
  return values;
}

function toInboxBatch(row: Selectable<Database['inbox_batches']>): InboxBatchRecord {
  const record: InboxBatchRecord = {
    id: row.id,
    inbox: row.inbox,
    receivedAt: new Date(row.received_at),
    bytes: Number(row.bytes),
    status: row.status as InboxBatchRecord['status'],
    files: parseJson(row.files) as InboxBatchRecord['files'],
  };
  if (row.error !== null) record.error = row.error;
  if (row.run_id !== null) record.runId = row.run_id;
  return record;
}

function toWatchedFile(row: Selectable<Database['watched_files']>): WatchedFileRecord {
  const record: WatchedFileRecord = {
    id: row.id,
    pipelineId: row.pipeline_id,
    dir: row.dir,
    name: row.name,
    size: int(row.size),
    mtime: new Date(row.mtime),
    sha256: row.sha256,
    state: row.state as WatchedFileState,
    runId: row.run_id,
    processingPath: row.processing_path,
    claimedAt: new Date(row.claimed_at),
  };
  if (row.final_path !== null) record.finalPath = row.final_path;
  if (row.message !== null) record.message = row.message;
  if (row.finished_at !== null) record.finishedAt = new Date(row.finished_at);
  return record;
}

function newRunRow(run: NewRun): RunRow {
  return {
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
    lease_owner: null,
    lease_expires_at: null,
    cancel_requested_at: null,
    trigger_data: jsonOrNull(run.triggerData),
    host: run.host ?? null,
    pid: run.pid ?? null,
    ...errorColumns(undefined),
  };
}

/**
 * The concurrency limits as conditions on the candidate run `q`: fewer than `maxRunning` runs running
 * overall, and for each limited pipeline, either `q` belongs to another pipeline or that pipeline has
 * fewer running runs than its limit. Counted inside the claiming statement, never beforehand.
 */
function limitConditions(eb: ExpressionBuilder<Database & { q: RunRow }, 'q'>, request: ClaimRequest) {
  const running = (pipelineId?: string) => {
    let count = eb
      .selectFrom('runs as r')
      .select((inner) => inner.fn.countAll<number>().as('n'))
      .where('r.status', '=', 'running');
    if (pipelineId !== undefined) count = count.where('r.pipeline_id', '=', pipelineId);
    return count;
  };
  const conditions = [];
  if (request.maxRunning !== undefined) conditions.push(eb(running(), '<', request.maxRunning));
  for (const [pipelineId, max] of Object.entries(request.maxRunningPerPipeline ?? {})) {
    conditions.push(eb.or([eb('q.pipeline_id', '<>', pipelineId), eb(running(pipelineId), '<', max)]));
  }
  return conditions;
}

function inQueueOrder(rows: RunRow[]): RunRecord[] {
  return rows
    .sort((a, b) =>
      a.queued_at === b.queued_at ? compareText(a.id, b.id) : compareText(a.queued_at, b.queued_at),
    )
    .map(toRun);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const DEFAULT_DELIVERIES_LIMIT = 100;

/** A `deliveries` row as a record (kept here with the deliveries block rather than in row-mapping.ts). */
function toDelivery(row: Selectable<Database['deliveries']>): DeliveryRecord {
  const record: DeliveryRecord = {
    id: int(row.id),
    pipelineId: row.pipeline_id,
    event: row.event as DeliveryRecord['event'],
    kind: row.kind as DeliveryRecord['kind'],
    target: row.target,
    status: row.status as DeliveryRecord['status'],
    attempts: int(row.attempts),
    createdAt: new Date(row.created_at),
  };
  if (row.run_id !== null) record.runId = row.run_id;
  if (row.step_id !== null) record.stepId = row.step_id;
  if (row.subject !== null) record.subject = row.subject;
  if (row.message_id !== null) record.messageId = row.message_id;
  if (row.error !== null) record.error = row.error;
  return record;
}
