/**
 * The state store: one interface, implemented by a SQLite adapter (embedded default) and, later, a
 * PostgreSQL adapter with the same migrations. Everything the engine, CLI, API and UI know about
 * pipelines and runs goes through here. Times are Date objects at this boundary; adapters store them
 * as UTC ISO-8601 text so both dialects sort and compare them the same way.
 */

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StepStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ErrorInfo {
  code: string;
  message: string;
  hint?: string | undefined;
  stepId?: string | undefined;
}

/** What a caller gives to store a revision; the store assigns the revision number. */
export interface NewPipelineRevision {
  pipelineId: string;
  hash: string;
  definition: unknown;
  sourcePath: string;
  at: Date;
}

export interface PipelineRevision {
  pipelineId: string;
  revision: number;
  /** sha256 of the normalised definition (keys sorted, defaults applied). */
  hash: string;
  definition: unknown;
  sourcePath: string;
  createdAt: Date;
}

export interface RunRecord {
  id: string;
  pipelineId: string;
  revision: number;
  status: RunStatus;
  /** `manual:cli`, `schedule`, `api:<token name>`, `resume:<run id>` … */
  trigger: string;
  params: Record<string, unknown>;
  scheduledFor: Date;
  queuedAt: Date;
  startedAt?: Date | undefined;
  finishedAt?: Date | undefined;
  /** Which attempt of the whole run this is (a resume increments it). */
  attempt: number;
  workspace?: string | undefined;
  /** The worker holding the run's lease and until when; a lease not renewed in time expires. */
  leaseOwner?: string | undefined;
  leaseExpiresAt?: Date | undefined;
  /** Set when someone asked to cancel; the worker executing the run aborts it. */
  cancelRequestedAt?: Date | undefined;
  /** Host and process that execute the run, so a crashed one can be recognised and resumed. */
  host?: string | undefined;
  pid?: number | undefined;
  error?: ErrorInfo | undefined;
  /** What fired the run, as templates see it (`trigger`): for a watched file `{ file, name, … }`. */
  triggerData?: Record<string, unknown> | undefined;
}

export interface NewRun {
  id: string;
  pipelineId: string;
  revision: number;
  status: RunStatus;
  trigger: string;
  params: Record<string, unknown>;
  scheduledFor: Date;
  queuedAt: Date;
  startedAt?: Date;
  workspace?: string;
  host?: string;
  pid?: number;
  triggerData?: Record<string, unknown>;
}

/** A key present with the value `undefined` clears that field (e.g. a resumed run drops its error). */
export type RunPatch = Partial<
  Pick<
    RunRecord,
    | 'status'
    | 'startedAt'
    | 'finishedAt'
    | 'attempt'
    | 'workspace'
    | 'leaseOwner'
    | 'leaseExpiresAt'
    | 'cancelRequestedAt'
    | 'host'
    | 'pid'
    | 'error'
  >
>;

export interface RunFilter {
  pipelineId?: string | undefined;
  status?: RunStatus | undefined;
  limit?: number | undefined;
  /** Only runs queued before this instant (for paging backwards). */
  before?: Date | undefined;
  /** Only runs queued at or after this instant. */
  from?: Date | undefined;
  /** Only runs in one of these statuses (together with `status`, both must hold). */
  statuses?: readonly RunStatus[] | undefined;
}

export interface StepAttemptRecord {
  runId: string;
  stepId: string;
  attempt: number;
  /** Which run attempt executed this step attempt. */
  runAttempt: number;
  status: StepStatus;
  startedAt: Date;
  finishedAt?: Date | undefined;
  rows?: number | undefined;
  bytes?: number | undefined;
  /** JSON-serialisable results made available to later templates (`steps.<id>.outputs`). */
  outputs?: Record<string, unknown> | undefined;
  warnings?: string[] | undefined;
  error?: ErrorInfo | undefined;
}

export type StepAttemptPatch = Partial<
  Pick<StepAttemptRecord, 'status' | 'finishedAt' | 'rows' | 'bytes' | 'outputs' | 'warnings' | 'error'>
>;

export interface LogEntry {
  runId: string;
  stepId?: string | undefined;
  at: Date;
  level: LogLevel;
  message: string;
  data?: Record<string, unknown> | undefined;
}

export interface StoredLogEntry extends LogEntry {
  id: number;
}

export interface ArtifactRecord {
  id?: number;
  runId: string;
  stepId?: string | undefined;
  name: string;
  path: string;
  bytes: number;
  sha256?: string | undefined;
  contentType?: string | undefined;
  createdAt: Date;
  deletedAt?: Date | undefined;
}

export interface DataLoadRecord {
  id?: number;
  runId: string;
  pipelineId: string;
  stepId: string;
  /** What was loaded into: a file path, a table name, an object key. */
  target: string;
  source?: string | undefined;
  rows: number;
  bytes?: number | undefined;
  status: 'succeeded' | 'failed';
  at: Date;
  message?: string | undefined;
}

export interface ClaimRequest {
  workerId: string;
  now: Date;
  leaseMs: number;
  /**
   * Most runs in status running at once across all workers (global concurrency limit). Every run in status
   * running counts, leased or not; the limits are exact even when workers claim at the same moment.
   */
  maxRunning?: number | undefined;
  /** Per-pipeline limits: a pipeline at its limit is passed over, its runs stay queued; 0 holds it back. */
  maxRunningPerPipeline?: Readonly<Record<string, number>> | undefined;
}

export interface PipelineState {
  pipelineId: string;
  paused: boolean;
  /** Set when the newest definition in the project folder does not validate; the last valid revision keeps running. */
  invalidSince?: Date | undefined;
  invalidReason?: string | undefined;
}

export type ApiTokenScope = 'read' | 'operate' | 'admin';

/** A REST API token as stored: its sha256 only, never the token itself. */
export interface ApiTokenRecord {
  id: number;
  name: string;
  scope: ApiTokenScope;
  createdAt: Date;
  lastUsedAt?: Date | undefined;
  revokedAt?: Date | undefined;
}

// ---- metrics (GET /metrics) -------------------------------------------------------------------------

/** A finished run as the duration histogram needs it. */
export interface FinishedRunTiming {
  id: string;
  pipelineId: string;
  status: RunStatus;
  /** Undefined for a run cancelled before it ever started. */
  startedAt?: Date | undefined;
  finishedAt: Date;
}

/** Where a read of finished runs continues: after this (finishedAt, id). */
export interface FinishedRunCursor {
  finishedAt: Date;
  id: string;
}

/** A finished step attempt as the duration histogram needs it, with its run's pipeline. */
export interface FinishedStepTiming {
  runId: string;
  pipelineId: string;
  stepId: string;
  attempt: number;
  status: StepStatus;
  startedAt: Date;
  finishedAt: Date;
}

/** Where a read of finished step attempts continues: after this (finishedAt, runId, stepId, attempt). */
export interface FinishedStepCursor {
  finishedAt: Date;
  runId: string;
  stepId: string;
  attempt: number;
}

// ---- deliveries (email, webhook, notifications) -------------------------------------------------------

export type DeliveryKind = 'email' | 'webhook';
/** `outbox`: no SMTP connection was given, so the message was written to the project's outbox/ folder. */
export type DeliveryStatus = 'sent' | 'failed' | 'outbox';
/** What sent it: a step, a pipeline notification, or the scheduler's dead-man check. */
export type DeliveryEvent = 'step' | 'on_failure' | 'on_success' | 'expect';

export interface DeliveryRecord {
  id: number;
  /** Undefined for a notification that belongs to no run (the `expect` dead-man check). */
  runId?: string | undefined;
  pipelineId: string;
  /** Undefined for a pipeline notification. */
  stepId?: string | undefined;
  event: DeliveryEvent;
  kind: DeliveryKind;
  /** Recipients (comma-separated) or the URL without query string and credentials. */
  target: string;
  subject?: string | undefined;
  /** The Message-ID of an e-mail, the X-Pipewright-Delivery id of a webhook. */
  messageId?: string | undefined;
  status: DeliveryStatus;
  /** Attempts made (1 when the first one settled it). */
  attempts: number;
  /** Why it failed (redacted), or a note such as recipients the server refused. */
  error?: string | undefined;
  createdAt: Date;
}

export type NewDelivery = Omit<DeliveryRecord, 'id'>;

// ---- step history (a report's change against the previous run) ------------------------------------

/** A step's outputs in an earlier run, as `previousStepOutputs` finds them. */
export interface PreviousStepOutputsRecord {
  runId: string;
  scheduledFor: Date;
  finishedAt: Date | undefined;
  outputs: Record<string, unknown>;
}

// ---- incremental marks (sql.query `incremental:`) ---------------------------------------------------

/** A pipeline step's committed high-water mark. */
export interface IncrementalMarkRecord {
  pipelineId: string;
  stepId: string;
  /** JSON text, as the step proposed it. */
  value: string;
  /** The run whose success committed it. */
  runId: string;
  updatedAt: Date;
}

export interface IncrementalMarkProposal {
  runId: string;
  pipelineId: string;
  stepId: string;
  /** The committed mark (JSON text) the step read before proposing; undefined when there was none. */
  base: string | undefined;
  value: string;
  at: Date;
}

/** What became of one proposal when its run succeeded. */
export interface IncrementalMarkCommit {
  stepId: string;
  /** `superseded`: another run committed a mark since this one read its base, so this one was dropped. */
  status: 'committed' | 'superseded';
  value: string;
}

// ---- watched folders (pipeline `triggers: [{ watch: … }]`) ----------------------------------------

/**
 * Where a watched file is: `claimed` (ledger written, maybe not yet moved to processing/ nor queued),
 * `queued` (its run is queued or running), `finishing` (run ended; being moved to `finalPath`),
 * `succeeded` / `failed` (moved to processed/… or failed/), `duplicate` (same content as a file
 * already succeeded or in flight; moved to duplicates/), `lost` (gone from the folder before it was
 * moved: nothing to process).
 */
export type WatchedFileState =
  'claimed' | 'queued' | 'finishing' | 'succeeded' | 'failed' | 'duplicate' | 'lost';

export interface WatchedFileRecord {
  id: string;
  pipelineId: string;
  dir: string;
  name: string;
  size: number;
  mtime: Date;
  sha256: string;
  state: WatchedFileState;
  /** The run this file gets (chosen when the file is claimed, so queuing it again is a no-op). */
  runId: string;
  processingPath: string;
  finalPath?: string | undefined;
  message?: string | undefined;
  claimedAt: Date;
  finishedAt?: Date | undefined;
}

export type WatchedFilePatch = Partial<
  Pick<WatchedFileRecord, 'state' | 'finalPath' | 'message' | 'finishedAt'>
>;

// ---- web UI sessions ---------------------------------------------------------------------------------

/** A signed-in browser: the sha256 of its session id (never the id), its token and its CSRF token. */
export interface UiSessionRecord {
  idHash: string;
  tokenId: number;
  csrfToken: string;
  createdAt: Date;
  /** The absolute limit; the idle limit is counted from lastSeenAt. */
  expiresAt: Date;
  lastSeenAt: Date;
}

/** Where a read of the data-load ledger continues: after this (at, id), newest first. */
export interface DataLoadCursor {
  at: Date;
  id: number;
}

// ---- inbox batches (POST /api/inboxes/<inbox>/batches) ----------------------------------------------

export type InboxBatchStatus = 'received' | 'stored' | 'rejected';

export interface InboxBatchFile {
  name: string;
  stored_as: string;
  bytes: number;
  sha256: string;
}

export interface InboxBatchRecord {
  id: string;
  inbox: string;
  receivedAt: Date;
  /** Size of the raw payload. */
  bytes: number;
  status: InboxBatchStatus;
  files: InboxBatchFile[];
  error?: string | undefined;
  runId?: string | undefined;
}

export interface StateStore {
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Stores a new revision when the hash differs from the latest one; returns the current revision. */
  savePipelineRevision(input: NewPipelineRevision): Promise<{ revision: PipelineRevision; created: boolean }>;
  getPipelineRevision(pipelineId: string, revision: number): Promise<PipelineRevision | undefined>;
  latestPipelineRevision(pipelineId: string): Promise<PipelineRevision | undefined>;

  createRun(run: NewRun): Promise<RunRecord>;
  updateRun(id: string, patch: RunPatch): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /**
   * Runs whose id starts with the prefix, case-sensitively (so users can type the first characters of an
   * id); newest first, default limit 20.
   */
  findRunsByIdPrefix(prefix: string, limit?: number): Promise<RunRecord[]>;
  /** Newest first (queued_at, then id); default limit 100. */
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;

  startStepAttempt(attempt: Omit<StepAttemptRecord, 'status'> & { status?: StepStatus }): Promise<void>;
  finishStepAttempt(runId: string, stepId: string, attempt: number, patch: StepAttemptPatch): Promise<void>;
  /** In start order. */
  listStepAttempts(runId: string): Promise<StepAttemptRecord[]>;

  appendLogs(entries: readonly LogEntry[]): Promise<void>;
  /** In order; `afterId` continues a previous read (for following a live run); default limit 1000. */
  listLogs(
    runId: string,
    options?: { afterId?: number; limit?: number; stepId?: string },
  ): Promise<StoredLogEntry[]>;

  addArtifact(artifact: Omit<ArtifactRecord, 'id'>): Promise<ArtifactRecord>;
  listArtifacts(runId: string): Promise<ArtifactRecord[]>;
  /** Artifacts of runs queued before `before` that are not yet deleted (for retention). */
  listExpiredArtifacts(before: Date): Promise<ArtifactRecord[]>;
  markArtifactDeleted(id: number, at: Date): Promise<void>;

  recordDataLoad(load: Omit<DataLoadRecord, 'id'>): Promise<DataLoadRecord>;
  /** Newest first; default limit 100. */
  listDataLoads(filter?: { runId?: string; pipelineId?: string; limit?: number }): Promise<DataLoadRecord[]>;

  /**
   * Adds a queued run. A run triggered by the schedule (trigger exactly 'schedule') is unique per
   * (pipeline, scheduledFor): when that slot was already queued by anyone, nothing is added and undefined
   * is returned. Other triggers may share an instant. A run id already taken is still an error.
   */
  enqueueRun(run: NewRun & { status: 'queued' }): Promise<RunRecord | undefined>;
  /**
   * Atomically takes the oldest queued run (queuedAt, then id; respecting the limits) for `workerId`:
   * status running, lease until now + leaseMs, startedAt set unless a previous attempt set it. At most one
   * worker ever gets a given queued run. Host and pid are the caller's to set (updateRun). Undefined when
   * nothing is claimable.
   */
  claimRun(request: ClaimRequest): Promise<RunRecord | undefined>;
  /**
   * Extends the lease; false when the worker no longer holds it (expired and requeued, or finished). A
   * lease past its expiry that nobody took back yet is still the owner's to renew.
   */
  renewLease(runId: string, workerId: string, until: Date): Promise<boolean>;
  /**
   * Runs still `running` whose lease expired before `now` go back to queued with attempt + 1 (they
   * resume from their checkpoint), or to failed with PW_PROCESS_LOST once `maxAttempts` is reached.
   * The lease is cleared; queuedAt is kept, so a requeued run is claimed before newer ones. A pending
   * cancel request stays on the run, so whoever claims it next stops it. Safe to call from several
   * schedulers at once: each run is taken back by exactly one call. Both lists are in queue order.
   * Each run taken back has its lease expiries counted (`leaseExpiryCount`) in the same statement.
   */
  requeueExpiredLeases(
    now: Date,
    maxAttempts: number,
  ): Promise<{ requeued: RunRecord[]; failed: RunRecord[] }>;
  /**
   * Marks a queued run cancelled at once (finishedAt and error PW_CANCELLED), or asks the worker of a
   * running one to stop (cancelRequestedAt; the first request's time is kept). A finished run is left
   * as it is. Returns the run as it is now; undefined for an unknown id.
   */
  requestCancel(runId: string, at: Date): Promise<RunRecord | undefined>;
  /** The newest scheduled slot queued for a pipeline (trigger 'schedule'), for catch-up. */
  lastScheduledSlot(pipelineId: string): Promise<Date | undefined>;
  countRuns(filter?: { status?: RunStatus; pipelineId?: string }): Promise<number>;

  /** Undefined when the pipeline was never paused nor reported invalid: it runs and is valid. */
  getPipelineState(pipelineId: string): Promise<PipelineState | undefined>;
  /** Every pipeline with a stored state, by id. */
  listPipelineStates(): Promise<PipelineState[]>;
  setPipelinePaused(pipelineId: string, paused: boolean): Promise<void>;
  /**
   * A reason marks the pipeline invalid (invalidSince keeps the first report's `at` while it stays
   * invalid); undefined marks it valid again.
   */
  setPipelineInvalid(pipelineId: string, reason: string | undefined, at: Date): Promise<void>;

  /** Stores a new token by its sha256; a name already taken (even by a revoked token) is PW_TOKEN_NAME_TAKEN. */
  createApiToken(input: {
    name: string;
    scope: ApiTokenScope;
    hash: string;
    at: Date;
  }): Promise<ApiTokenRecord>;
  /** Every token, revoked ones included, by name. */
  listApiTokens(): Promise<ApiTokenRecord[]>;
  /** The token with this sha256, revoked or not (the caller refuses revoked ones). */
  findApiTokenByHash(hash: string): Promise<ApiTokenRecord | undefined>;
  /** Revokes a token by name; false when no such token exists. Revoking twice keeps the first time. */
  revokeApiToken(name: string, at: Date): Promise<boolean>;
  /** Records that a token was used (last_used_at). */
  touchApiToken(id: number, at: Date): Promise<void>;

  // ---- web UI sessions ----

  /** Stores a new session; sessions past their absolute expiry are deleted on the way. */
  createUiSession(session: UiSessionRecord): Promise<void>;
  /** The session with this id hash and the token it was opened with, revoked or not. */
  findUiSession(idHash: string): Promise<{ session: UiSessionRecord; token: ApiTokenRecord } | undefined>;
  touchUiSession(idHash: string, at: Date): Promise<void>;
  deleteUiSession(idHash: string): Promise<void>;

  // ---- the web UI's lists ----

  /**
   * Up to `perPipeline` most recent runs (queued_at, then id, newest first) of each pipeline, in one
   * query; grouped by pipeline, newest first within each.
   */
  listRecentRunsByPipeline(pipelineIds: readonly string[], perPipeline: number): Promise<RunRecord[]>;
  /** The data-load ledger of a pipeline, newest first (at, then id), strictly after `after`. */
  listDataLoadsPage(
    pipelineId: string,
    after: DataLoadCursor | undefined,
    limit: number,
  ): Promise<DataLoadRecord[]>;
  /** Deliveries across runs, newest first; `failedOnly` restricts them to status failed. */
  listRecentDeliveries(options: { failedOnly: boolean; limit: number }): Promise<DeliveryRecord[]>;

  // ---- metrics (GET /metrics): cheap reads at scrape time, for every process sharing the store ----

  /** How many runs are in each status; every status is present, 0 when no run has it. One GROUP BY. */
  countRunsByStatus(): Promise<Record<RunStatus, number>>;
  /** How many runs are queued, and when the oldest of them was queued (undefined when none is). */
  queueDepth(): Promise<{ queued: number; oldestQueuedAt: Date | undefined }>;
  /**
   * Finished runs (those with a finishedAt) in (finishedAt, id) order, strictly after `after`
   * (from the first when undefined), at most `limit`. A run finished again after a retry has a new
   * finishedAt and comes again.
   */
  listFinishedRuns(after: FinishedRunCursor | undefined, limit: number): Promise<FinishedRunTiming[]>;
  /** Finished step attempts in (finishedAt, runId, stepId, attempt) order, strictly after `after`, at most `limit`. */
  listFinishedStepAttempts(
    after: FinishedStepCursor | undefined,
    limit: number,
  ): Promise<FinishedStepTiming[]>;
  /**
   * How many times `requeueExpiredLeases` took a run back (requeued or failed it), ever, by whichever
   * process sharing the store; each run keeps its own count, so this is their sum.
   */
  leaseExpiryCount(): Promise<number>;

  // ---- deliveries (email, webhook, notifications) ----

  /** Records one message sent or attempted by a step or a notification. */
  recordDelivery(delivery: NewDelivery): Promise<DeliveryRecord>;
  /** Newest first (createdAt, then id); default limit 100. */
  listDeliveries(filter?: {
    runId?: string | undefined;
    pipelineId?: string | undefined;
    limit?: number | undefined;
  }): Promise<DeliveryRecord[]>;

  // ---- step history ----

  /**
   * The outputs step `stepId` recorded in the latest succeeded run of `pipelineId` scheduled strictly
   * before `scheduledBefore` (never `excludeRunId` itself) in which that step succeeded: latest
   * scheduled_for first, then latest finished. Undefined when there is none.
   */
  previousStepOutputs(query: {
    pipelineId: string;
    stepId: string;
    scheduledBefore: Date;
    excludeRunId: string;
  }): Promise<PreviousStepOutputsRecord | undefined>;

  // ---- incremental marks ----

  /** The committed high-water mark of a pipeline step, if any. */
  getIncrementalMark(pipelineId: string, stepId: string): Promise<IncrementalMarkRecord | undefined>;
  /** Records (or replaces) this run's proposed mark for a step; it counts only once the run succeeds. */
  proposeIncrementalMark(proposal: IncrementalMarkProposal): Promise<void>;
  /**
   * Commits the marks a succeeded run proposed, each only if the step's committed mark is still the
   * proposal's base (otherwise it is superseded and dropped); the proposals are removed either way.
   */
  commitIncrementalMarks(runId: string, at: Date): Promise<IncrementalMarkCommit[]>;

  // ---- watched folders ----

  /** Adds a ledger row (a file id or run id already taken is an error). */
  recordWatchedFile(entry: WatchedFileRecord): Promise<void>;
  updateWatchedFile(id: string, patch: WatchedFilePatch): Promise<void>;
  /** In one transaction: queues `run` unless a run with its id exists, and marks the entry `queued`. */
  queueWatchedFileRun(id: string, run: NewRun & { status: 'queued' }): Promise<void>;
  /** Ledger rows of one watched folder in the given states, oldest claim first. */
  listWatchedFiles(filter: {
    dir?: string;
    states?: readonly WatchedFileState[];
    pipelineId?: string;
    /** The row of the file a run got (a run has at most one). */
    runId?: string;
  }): Promise<WatchedFileRecord[]>;
  /**
   * A retry of a watched file's run, in one transaction: the ledger row goes from `failed` back to
   * `queued` (its end, target and message cleared; the file is back in processing/ by then) and the run
   * gets `runPatch` (queued again). False, and nothing changed, when the row was no longer `failed`.
   */
  retryWatchedFileRun(id: string, runId: string, runPatch: RunPatch): Promise<boolean>;
  /** The most recent ledger rows across all watched folders, newest claim first (activity page). */
  listRecentWatchedFiles(limit: number): Promise<WatchedFileRecord[]>;
  /** The newest ledger row of a pipeline with this content hash in one of the states, if any. */
  findWatchedFileByHash(
    pipelineId: string,
    sha256: string,
    states: readonly WatchedFileState[],
  ): Promise<WatchedFileRecord | undefined>;

  // ---- inbox batches ----

  /** Records a batch whose raw payload was just stored. */
  recordInboxBatch(batch: InboxBatchRecord): Promise<void>;
  /** Sets how unpacking ended, the stored files and the queued run. */
  updateInboxBatch(
    id: string,
    patch: Partial<Pick<InboxBatchRecord, 'status' | 'files' | 'error' | 'runId'>>,
  ): Promise<void>;
  getInboxBatch(id: string): Promise<InboxBatchRecord | undefined>;
  /**
   * Batches a crash may have left unfinished, oldest first: `received` ones (payload stored, not yet
   * unpacked), and `stored` ones whose recorded run id names no run (the pipeline was not queued yet).
   */
  listUnfinishedInboxBatches(): Promise<InboxBatchRecord[]>;
  /** The most recent batches across all inboxes, newest first (activity page). */
  listRecentInboxBatches(limit: number): Promise<InboxBatchRecord[]>;
}
