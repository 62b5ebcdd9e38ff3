/**
 * Kysely table typings of the state store, one interface per table with snake_case columns. Times are
 * UTC ISO-8601 text with milliseconds and JSON is text, so SQLite and PostgreSQL hold identical values.
 * 64-bit integer columns may come back as strings from PostgreSQL drivers, hence `BigInt64`.
 */
import type { ColumnType } from 'kysely';

/** The dialects the one set of migrations and queries is written for. */
export type StoreDialect = 'sqlite' | 'postgres';

/** ISO-8601 UTC text, e.g. `2026-11-23T03:45:11.000Z`. */
type IsoTime = string;
/** JSON text. */
type JsonText = string;
/** A bigint column: written as a number, read as a number or (PostgreSQL) a numeric string. */
type BigInt64 = ColumnType<number | string, number, number>;
/** An auto-generated bigint key. */
type AutoId = ColumnType<number | string, never, never>;

export interface PipelinesTable {
  id: string;
  created_at: IsoTime;
}

export interface PipelineRevisionsTable {
  pipeline_id: string;
  revision: number;
  hash: string;
  definition: JsonText;
  source_path: string;
  created_at: IsoTime;
}

export interface RunsTable {
  id: string;
  pipeline_id: string;
  revision: number;
  status: string;
  trigger: string;
  params: JsonText;
  scheduled_for: IsoTime;
  queued_at: IsoTime;
  started_at: IsoTime | null;
  finished_at: IsoTime | null;
  attempt: number;
  workspace: string | null;
  host: string | null;
  pid: number | null;
  error_code: string | null;
  error_message: string | null;
  error_hint: string | null;
  error_step: string | null;
  /** From migration 0002: the queue lease and a pending cancel request. */
  lease_owner: string | null;
  lease_expires_at: IsoTime | null;
  cancel_requested_at: IsoTime | null;
  /** From migration 0008: what fired the run, as templates see it (`trigger`); JSON object text. */
  trigger_data: JsonText | null;
}

/** One row per pipeline that was ever paused or reported invalid; no row means running and valid. */
export interface PipelineStateTable {
  pipeline_id: string;
  /** 0 or 1 in both dialects. */
  paused: number;
  invalid_since: IsoTime | null;
  invalid_reason: string | null;
  updated_at: IsoTime;
}

export interface StepAttemptsTable {
  run_id: string;
  step_id: string;
  attempt: number;
  run_attempt: number;
  status: string;
  started_at: IsoTime;
  finished_at: IsoTime | null;
  rows: BigInt64 | null;
  bytes: BigInt64 | null;
  outputs: JsonText | null;
  warnings: JsonText | null;
  error_code: string | null;
  error_message: string | null;
  error_hint: string | null;
  error_step: string | null;
}

export interface LogsTable {
  id: AutoId;
  run_id: string;
  step_id: string | null;
  at: IsoTime;
  level: string;
  message: string;
  data: JsonText | null;
}

export interface ArtifactsTable {
  id: AutoId;
  run_id: string;
  step_id: string | null;
  name: string;
  path: string;
  bytes: BigInt64;
  sha256: string | null;
  content_type: string | null;
  created_at: IsoTime;
  deleted_at: IsoTime | null;
}

export interface DataLoadsTable {
  id: AutoId;
  run_id: string;
  pipeline_id: string;
  step_id: string;
  target: string;
  source: string | null;
  rows: BigInt64;
  bytes: BigInt64 | null;
  status: string;
  at: IsoTime;
  message: string | null;
}

export interface AuditTable {
  id: AutoId;
  at: IsoTime;
  actor: string;
  action: string;
  subject: string;
  detail: JsonText | null;
}

/** From migration 0003: REST API bearer tokens, stored as their sha256 only. */
export interface ApiTokensTable {
  id: AutoId;
  name: string;
  scope: string;
  hash: string;
  created_at: IsoTime;
  last_used_at: IsoTime | null;
  revoked_at: IsoTime | null;
}

/** From migration 0005: messages sent by the email and webhook steps and by pipeline notifications. */
export interface DeliveriesTable {
  id: AutoId;
  /** NULL for a notification that belongs to no run (the `expect` dead-man check). */
  run_id: string | null;
  pipeline_id: string;
  /** NULL for a pipeline notification. */
  step_id: string | null;
  /** `step`, `on_failure`, `on_success` or `expect`. */
  event: string;
  kind: string;
  target: string;
  subject: string | null;
  message_id: string | null;
  status: string;
  attempts: number;
  error: string | null;
  created_at: IsoTime;
}

/** From migration 0006: the committed high-water mark of a pipeline step (incremental extraction). */
export interface IncrementalMarksTable {
  pipeline_id: string;
  step_id: string;
  value: JsonText;
  run_id: string;
  updated_at: IsoTime;
}

/** From migration 0006: a run's proposed mark, committed when the run succeeds. */
export interface IncrementalProposalsTable {
  run_id: string;
  step_id: string;
  pipeline_id: string;
  /** The committed mark (JSON) the run read when it proposed; NULL when there was none. */
  base: JsonText | null;
  value: JsonText;
  proposed_at: IsoTime;
}

/** From migration 0008: the ledger of files claimed from watched folders, one row per arrival. */
export interface WatchedFilesTable {
  id: string;
  pipeline_id: string;
  /** The watched folder as configured (relative to the project folder, or absolute). */
  dir: string;
  /** The file's name when it arrived. */
  name: string;
  size: BigInt64;
  mtime: IsoTime;
  sha256: string;
  /** `claimed`, `queued`, `finishing`, `succeeded`, `failed`, `duplicate` or `lost`. */
  state: string;
  run_id: string;
  processing_path: string;
  final_path: string | null;
  message: string | null;
  claimed_at: IsoTime;
  finished_at: IsoTime | null;
}

/** From migration 0007: web UI sessions, by the sha256 of the id in the browser's cookie. */
export interface UiSessionsTable {
  id_hash: string;
  token_id: number | string;
  csrf_token: string;
  created_at: IsoTime;
  /** The absolute limit; the idle limit is counted from last_seen_at. */
  expires_at: IsoTime;
  last_seen_at: IsoTime;
}

/** From migration 0009: batch payloads received by inboxes. */
export interface InboxBatchesTable {
  id: string;
  inbox: string;
  received_at: IsoTime;
  bytes: number | string;
  /** `received`, `stored` or `rejected`. */
  status: string;
  /** JSON list of the stored files ({ name, stored_as, bytes, sha256 }). */
  files: JsonText;
  error: string | null;
  run_id: string | null;
}

export interface Database {
  pipelines: PipelinesTable;
  pipeline_revisions: PipelineRevisionsTable;
  runs: RunsTable;
  step_attempts: StepAttemptsTable;
  logs: LogsTable;
  artifacts: ArtifactsTable;
  data_loads: DataLoadsTable;
  audit: AuditTable;
  pipeline_state: PipelineStateTable;
  api_tokens: ApiTokensTable;
  deliveries: DeliveriesTable;
  incremental_marks: IncrementalMarksTable;
  incremental_proposals: IncrementalProposalsTable;
  watched_files: WatchedFilesTable;
  ui_sessions: UiSessionsTable;
  inbox_batches: InboxBatchesTable;
}
