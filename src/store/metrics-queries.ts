/**
 * The state-store queries behind `GET /metrics`, used by the Kysely store: runs by status, the queue,
 * finished runs and step attempts in finish order after a cursor (served by the indexes of migration
 * 0004, so a scrape reads only what finished since the last one), and the lease expiries that
 * `requeueExpiredLeases` counts on each run it takes back (0004's `runs.lease_expiries`). Dialect-neutral
 * like the rest.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from './database-schema.js';
import { int, iso } from './row-mapping.js';
import type {
  FinishedRunCursor,
  FinishedRunTiming,
  FinishedStepCursor,
  FinishedStepTiming,
  RunStatus,
  StepStatus,
} from './state-store.js';

/**
 * From migration 0004: how many times a worker's lease on the run expired and the run was taken back.
 * A type alias, not an interface: `withTables` needs its implicit index signature.
 */
type LeaseExpiryColumn = { runs: { lease_expiries: number } };

const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const FINISHED_STEP_STATUSES: readonly StepStatus[] = ['succeeded', 'failed', 'cancelled', 'skipped'];

/**
 * The store with the runs column of migration 0004 that `requeueExpiredLeases` increments; the column is
 * typed here, beside the only queries that use it.
 */
export function withLeaseExpiries(db: Kysely<Database>): Kysely<Database & LeaseExpiryColumn> {
  return db.withTables<LeaseExpiryColumn>();
}

/** `lease_expiries + 1`, for the statement that takes a run back (counted with it, so exactly once). */
export function countLeaseExpiry(): RawBuilder<number> {
  return sql<number>`lease_expiries + 1`;
}

export async function countRunsByStatus(db: Kysely<Database>): Promise<Record<RunStatus, number>> {
  const rows = await db
    .selectFrom('runs')
    .select((eb) => ['status', eb.fn.countAll<number | string>().as('n')])
    .groupBy('status')
    .execute();
  const counts = Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as Record<RunStatus, number>;
  for (const row of rows) {
    if (Object.hasOwn(counts, row.status)) counts[row.status as RunStatus] = int(row.n);
  }
  return counts;
}

export async function queueDepth(
  db: Kysely<Database>,
): Promise<{ queued: number; oldestQueuedAt: Date | undefined }> {
  // Both aggregates are read from the claim index (status, queued_at, id) of migration 0002.
  const row = await db
    .selectFrom('runs')
    .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min('queued_at').as('oldest')])
    .where('status', '=', 'queued')
    .executeTakeFirstOrThrow();
  return { queued: int(row.n), oldestQueuedAt: row.oldest == null ? undefined : new Date(row.oldest) };
}

export async function listFinishedRuns(
  db: Kysely<Database>,
  after: FinishedRunCursor | undefined,
  limit: number,
): Promise<FinishedRunTiming[]> {
  // No condition on status (only finished runs have a finished_at): SQLite would pick the claim index
  // for it, then read and sort every finished run instead of walking runs_finished_idx from the cursor.
  let query = db.selectFrom('runs').select(['id', 'pipeline_id', 'status', 'started_at', 'finished_at']);
  if (after === undefined) {
    query = query.where('finished_at', 'is not', null);
  } else {
    const at = iso(after.finishedAt);
    // The `>=` bounds the index range; the row comparison continues within an instant.
    query = query
      .where('finished_at', '>=', at)
      .where(({ eb, refTuple, tuple }) => eb(refTuple('finished_at', 'id'), '>', tuple(at, after.id)));
  }
  const rows = await query.orderBy('finished_at').orderBy('id').limit(limit).execute();
  return rows.map((row) => ({
    id: row.id,
    pipelineId: row.pipeline_id,
    status: row.status as RunStatus,
    ...(row.started_at === null ? {} : { startedAt: new Date(row.started_at) }),
    finishedAt: new Date(row.finished_at ?? 0),
  }));
}

export async function listFinishedStepAttempts(
  db: Kysely<Database>,
  after: FinishedStepCursor | undefined,
  limit: number,
): Promise<FinishedStepTiming[]> {
  let query = db
    .selectFrom('step_attempts as s')
    .innerJoin('runs as r', 'r.id', 's.run_id')
    .select([
      's.run_id',
      'r.pipeline_id',
      's.step_id',
      's.attempt',
      's.status',
      's.started_at',
      's.finished_at',
    ])
    .where('s.status', 'in', FINISHED_STEP_STATUSES);
  if (after === undefined) {
    query = query.where('s.finished_at', 'is not', null);
  } else {
    const at = iso(after.finishedAt);
    query = query
      .where('s.finished_at', '>=', at)
      .where(({ eb, refTuple, tuple }) =>
        eb(
          refTuple('s.finished_at', 's.run_id', 's.step_id', 's.attempt'),
          '>',
          tuple(at, after.runId, after.stepId, after.attempt),
        ),
      );
  }
  const rows = await query
    .orderBy('s.finished_at')
    .orderBy('s.run_id')
    .orderBy('s.step_id')
    .orderBy('s.attempt')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    runId: row.run_id,
    pipelineId: row.pipeline_id,
    stepId: row.step_id,
    attempt: int(row.attempt),
    status: row.status as StepStatus,
    startedAt: new Date(row.started_at),
    finishedAt: new Date(row.finished_at ?? 0),
  }));
}

/** Every lease expiry ever counted; read from the partial index of migration 0004 (runs with one or more). */
export async function leaseExpiryCount(db: Kysely<Database>): Promise<number> {
  const row = await withLeaseExpiries(db)
    .selectFrom('runs')
    .select((eb) => eb.fn.sum<number | string | null>('lease_expiries').as('n'))
    // A literal, so PostgreSQL proves the partial index's condition from the query.
    .where('lease_expiries', '>', sql.lit(0))
    .executeTakeFirstOrThrow();
  return row.n === null ? 0 : int(row.n);
}
