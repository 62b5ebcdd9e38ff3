/** Stable JSON shapes for `--json` output (snake_case, ISO times), shared by every command. */
import { isOrphaned } from './run-liveness.js';
import type {
  ArtifactRecord,
  DeliveryRecord,
  RunRecord,
  StepAttemptRecord,
  StoredLogEntry,
} from '../store/state-store.js';

const iso = (date: Date | undefined) => date?.toISOString() ?? null;

/** finished_at − started_at; null until the run has finished. */
export function durationMs(run: Pick<RunRecord, 'startedAt' | 'finishedAt'>): number | null {
  return run.startedAt === undefined || run.finishedAt === undefined
    ? null
    : run.finishedAt.getTime() - run.startedAt.getTime();
}

export function runToJson(run: RunRecord) {
  return {
    id: run.id,
    pipeline: run.pipelineId,
    revision: run.revision,
    status: run.status,
    trigger: run.trigger,
    params: run.params,
    scheduled_for: iso(run.scheduledFor),
    queued_at: iso(run.queuedAt),
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    duration_ms: durationMs(run),
    attempt: run.attempt,
    workspace: run.workspace ?? null,
    /** A running run whose process on this host is gone (crashed); resume it. */
    orphaned: isOrphaned(run),
    error: run.error
      ? {
          code: run.error.code,
          message: run.error.message,
          hint: run.error.hint ?? null,
          step: run.error.stepId ?? null,
        }
      : null,
  };
}

export function stepAttemptToJson(attempt: StepAttemptRecord) {
  return {
    step: attempt.stepId,
    attempt: attempt.attempt,
    run_attempt: attempt.runAttempt,
    status: attempt.status,
    started_at: iso(attempt.startedAt),
    finished_at: iso(attempt.finishedAt),
    rows: attempt.rows ?? null,
    bytes: attempt.bytes ?? null,
    outputs: attempt.outputs ?? {},
    warnings: attempt.warnings ?? [],
    error: attempt.error
      ? { code: attempt.error.code, message: attempt.error.message, hint: attempt.error.hint ?? null }
      : null,
  };
}

export function artifactToJson(artifact: ArtifactRecord) {
  return {
    step: artifact.stepId ?? null,
    name: artifact.name,
    path: artifact.path,
    bytes: artifact.bytes,
    sha256: artifact.sha256 ?? null,
    content_type: artifact.contentType ?? null,
    created_at: iso(artifact.createdAt),
    deleted_at: iso(artifact.deletedAt),
  };
}

export function deliveryToJson(delivery: DeliveryRecord) {
  return {
    id: delivery.id,
    step: delivery.stepId ?? null,
    event: delivery.event,
    kind: delivery.kind,
    target: delivery.target,
    subject: delivery.subject ?? null,
    message_id: delivery.messageId ?? null,
    status: delivery.status,
    attempts: delivery.attempts,
    error: delivery.error ?? null,
    created_at: delivery.createdAt.toISOString(),
  };
}

/** The JSON shapes above, which the REST API answers too: the remote CLI prints them as local ones. */
export type RunJson = ReturnType<typeof runToJson>;
export type StepAttemptJson = ReturnType<typeof stepAttemptToJson>;
export type ArtifactJson = ReturnType<typeof artifactToJson>;
export type DeliveryJson = ReturnType<typeof deliveryToJson>;
export type RunDetailJson = RunJson & {
  steps: StepAttemptJson[];
  artifacts: ArtifactJson[];
  /** E-mails and webhooks the run's steps and notifications sent, or tried to. */
  deliveries: DeliveryJson[];
};

export function logEntryToJson(entry: StoredLogEntry) {
  return {
    id: entry.id,
    at: entry.at.toISOString(),
    level: entry.level,
    step: entry.stepId ?? null,
    message: entry.message,
    data: entry.data ?? null,
  };
}
export type LogEntryJson = ReturnType<typeof logEntryToJson>;
