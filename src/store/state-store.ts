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
  /** Host and process that execute the run, so a crashed one can be recognised and resumed. */
  host?: string | undefined;
  pid?: number | undefined;
  error?: ErrorInfo | undefined;
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
}

/** A key present with the value `undefined` clears that field (e.g. a resumed run drops its error). */
export type RunPatch = Partial<
  Pick<RunRecord, 'status' | 'startedAt' | 'finishedAt' | 'attempt' | 'workspace' | 'host' | 'pid' | 'error'>
>;

export interface RunFilter {
  pipelineId?: string | undefined;
  status?: RunStatus | undefined;
  limit?: number | undefined;
  /** Only runs queued before this instant (for paging backwards). */
  before?: Date | undefined;
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

export interface StateStore {
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Stores a new revision when the hash differs from the latest one; returns the current revision. */
  savePipelineRevision(input: {
    pipelineId: string;
    hash: string;
    definition: unknown;
    sourcePath: string;
    at: Date;
  }): Promise<{ revision: PipelineRevision; created: boolean }>;
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
  listLogs(runId: string, options?: { afterId?: number; limit?: number; stepId?: string }): Promise<StoredLogEntry[]>;

  addArtifact(artifact: Omit<ArtifactRecord, 'id'>): Promise<ArtifactRecord>;
  listArtifacts(runId: string): Promise<ArtifactRecord[]>;
  /** Artifacts of runs queued before `before` that are not yet deleted (for retention). */
  listExpiredArtifacts(before: Date): Promise<ArtifactRecord[]>;
  markArtifactDeleted(id: number, at: Date): Promise<void>;

  recordDataLoad(load: Omit<DataLoadRecord, 'id'>): Promise<DataLoadRecord>;
  /** Newest first; default limit 100. */
  listDataLoads(filter?: { runId?: string; pipelineId?: string; limit?: number }): Promise<DataLoadRecord[]>;
}
