/**
 * Rows to records and back for the Kysely store: Dates become UTC ISO-8601 text, JSON becomes text,
 * NULL becomes an absent optional field, and 64-bit integers read as strings become numbers again.
 */
import type { Selectable } from 'kysely';
import type { Database } from './database-schema.js';
import type {
  ApiTokenRecord,
  ApiTokenScope,
  ArtifactRecord,
  DataLoadRecord,
  ErrorInfo,
  LogLevel,
  PipelineRevision,
  PipelineState,
  RunRecord,
  RunStatus,
  StepAttemptRecord,
  StepStatus,
  StoredLogEntry,
} from './state-store.js';

type Row<T extends keyof Database> = Selectable<Database[T]>;
export type RevisionRow = Database['pipeline_revisions'];
export type RunRow = Database['runs'];
export type ErrorColumns = Pick<RunRow, 'error_code' | 'error_message' | 'error_hint' | 'error_step'>;

export function iso(date: Date): string {
  return date.toISOString();
}

export function isoOrNull(date: Date | undefined): string | null {
  return date === undefined ? null : date.toISOString();
}

export function dateOrUndefined(text: string | null): Date | undefined {
  return text === null ? undefined : new Date(text);
}

export function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export function parseJson<T>(text: string | null): T | undefined {
  return text === null ? undefined : (JSON.parse(text) as T);
}

export function int(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

export function intOrUndefined(value: number | string | null): number | undefined {
  return value === null ? undefined : int(value);
}

export function orUndefined<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

/**
 * Drops keys whose value is undefined, so a record read back deep-equals the one written and optional
 * fields are absent rather than present-but-undefined.
 */
export function compact<T extends object>(record: T): T {
  for (const key of Object.keys(record) as (keyof T)[]) {
    if (record[key] === undefined) delete record[key];
  }
  return record;
}

export function errorColumns(error: ErrorInfo | undefined): ErrorColumns {
  return {
    error_code: error?.code ?? null,
    error_message: error?.message ?? null,
    error_hint: error?.hint ?? null,
    error_step: error?.stepId ?? null,
  };
}

export function toError(row: ErrorColumns): ErrorInfo | undefined {
  if (row.error_code === null) return undefined;
  return compact({
    code: row.error_code,
    message: row.error_message ?? '',
    hint: orUndefined(row.error_hint),
    stepId: orUndefined(row.error_step),
  });
}

export function toRevision(row: RevisionRow): PipelineRevision {
  return {
    pipelineId: row.pipeline_id,
    revision: int(row.revision),
    hash: row.hash,
    definition: JSON.parse(row.definition) as unknown,
    sourcePath: row.source_path,
    createdAt: new Date(row.created_at),
  };
}

export function toRun(row: RunRow): RunRecord {
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
    leaseOwner: orUndefined(row.lease_owner),
    leaseExpiresAt: dateOrUndefined(row.lease_expires_at),
    cancelRequestedAt: dateOrUndefined(row.cancel_requested_at),
    host: orUndefined(row.host),
    pid: intOrUndefined(row.pid),
    error: toError(row),
    triggerData: parseJson<Record<string, unknown>>(row.trigger_data),
  });
}

export function toStepAttempt(row: Row<'step_attempts'>): StepAttemptRecord {
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

export function toLog(row: Row<'logs'>): StoredLogEntry {
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

export function toArtifact(row: Row<'artifacts'>): ArtifactRecord {
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

export function toDataLoad(row: Row<'data_loads'>): DataLoadRecord {
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

export function toPipelineState(row: Row<'pipeline_state'>): PipelineState {
  return compact<PipelineState>({
    pipelineId: row.pipeline_id,
    paused: int(row.paused) !== 0,
    invalidSince: dateOrUndefined(row.invalid_since),
    invalidReason: orUndefined(row.invalid_reason),
  });
}

export function toApiToken(row: Row<'api_tokens'>): ApiTokenRecord {
  return compact<ApiTokenRecord>({
    id: int(row.id),
    name: row.name,
    scope: row.scope as ApiTokenScope,
    createdAt: new Date(row.created_at),
    lastUsedAt: dateOrUndefined(row.last_used_at),
    revokedAt: dateOrUndefined(row.revoked_at),
  });
}
