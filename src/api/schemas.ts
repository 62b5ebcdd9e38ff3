/**
 * The zod schemas of the REST API's inputs and outputs, and the JSON shapes of pipelines and runs. Runs,
 * step attempts and artifacts reuse the CLI's `--json` shapes (cli/json-output.ts), so API and CLI agree.
 * The OpenAPI document is generated from these schemas.
 */
import { z } from 'zod';
import {
  artifactToJson,
  deliveryToJson,
  logEntryToJson,
  runToJson,
  stepAttemptToJson,
} from '../cli/json-output.js';
import { nextSlots } from '../scheduler/cron-slots.js';
import { describeSchedule } from '../scheduler/describe-schedule.js';
import type { SyncedPipeline } from '../scheduler/definitions.js';
import type {
  ArtifactRecord,
  DeliveryRecord,
  PipelineState,
  RunRecord,
  StepAttemptRecord,
} from '../store/state-store.js';

const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  code: z.string().describe('A PW_… code from docs/errors.md'),
  hint: z.string().optional(),
});

const errorSchema = z
  .object({ code: z.string(), message: z.string(), hint: z.string().nullable(), step: z.string().nullable() })
  .nullable();

export const runSchema = z.object({
  id: z.string(),
  pipeline: z.string(),
  revision: z.int(),
  status: z.enum(RUN_STATUSES),
  trigger: z.string(),
  params: z.record(z.string(), z.unknown()),
  scheduled_for: z.string().nullable(),
  queued_at: z.string().nullable(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  attempt: z.int(),
  workspace: z.string().nullable(),
  orphaned: z.boolean(),
  error: errorSchema,
});

export const stepAttemptSchema = z.object({
  step: z.string(),
  attempt: z.int(),
  run_attempt: z.int(),
  status: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  rows: z.number().nullable(),
  bytes: z.number().nullable(),
  outputs: z.record(z.string(), z.unknown()),
  warnings: z.array(z.string()),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().nullable() }).nullable(),
});

export const artifactSchema = z.object({
  id: z.int().nullable(),
  step: z.string().nullable(),
  name: z.string(),
  path: z.string(),
  bytes: z.number(),
  sha256: z.string().nullable(),
  content_type: z.string().nullable(),
  created_at: z.string().nullable(),
  deleted_at: z.string().nullable(),
  download: z.string().nullable().describe('Where to download it; null once deleted by retention.'),
});

export const deliverySchema = z.object({
  id: z.number(),
  step: z.string().nullable().describe('The step that sent it; null for a notification.'),
  event: z.enum(['step', 'on_failure', 'on_success', 'expect']),
  kind: z.enum(['email', 'webhook']),
  target: z.string().describe('Recipients, or the URL without query string (secrets masked).'),
  subject: z.string().nullable(),
  message_id: z.string().nullable(),
  status: z.enum(['sent', 'outbox', 'failed']),
  attempts: z.number(),
  error: z.string().nullable(),
  created_at: z.string(),
});

export const runDetailSchema = runSchema.extend({
  steps: z.array(stepAttemptSchema),
  artifacts: z.array(artifactSchema),
  deliveries: z.array(deliverySchema).describe('E-mails and webhooks sent (or tried) by the run.'),
});

export const runPageSchema = z.object({
  runs: z.array(runSchema),
  next: z.string().nullable().describe('Pass as `cursor` for the next (older) page; null on the last page.'),
});

export const logEntrySchema = z.object({
  id: z.int(),
  at: z.string(),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  step: z.string().nullable(),
  message: z.string(),
  data: z.record(z.string(), z.unknown()).nullable(),
});

export const logPageSchema = z.object({
  logs: z.array(logEntrySchema),
  next: z
    .int()
    .nullable()
    .describe('Pass as `after` to read on; null when the run is finished and read to its end.'),
  run_status: z.enum(RUN_STATUSES),
});

export const pipelineSchema = z.object({
  id: z.string(),
  file: z.string(),
  description: z.string().nullable(),
  schedule: z
    .object({
      cron: z.string(),
      timezone: z.string(),
      catchup: z.string(),
      in_words: z.string(),
      next: z.array(z.string()).describe('The next three instants it fires (UTC).'),
    })
    .nullable(),
  paused: z.boolean(),
  invalid_reason: z
    .string()
    .nullable()
    .describe('Why the file is invalid; its last valid revision keeps running.'),
  revision: z.int().nullable(),
  params: z.record(z.string(), z.unknown()),
  last_run: runSchema.nullable(),
});

// ---- inputs ---------------------------------------------------------------------------------------

export const triggerBodySchema = z
  .strictObject({
    params: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .default({})
      .describe("Run parameters, checked against the pipeline's declared params."),
  })
  .default({ params: {} });

export const runListQuerySchema = z.strictObject({
  pipeline: z.string().min(1).optional(),
  status: z.enum(RUN_STATUSES).optional(),
  before: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Only runs queued before this instant (ISO 8601).'),
  cursor: z.string().min(1).optional().describe('The `next` value of the previous page.'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const logQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).optional().describe('Only lines after this log id.'),
  step: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
});

// ---- shapes ---------------------------------------------------------------------------------------

export function runJson(run: RunRecord) {
  return runToJson(run);
}

export function artifactJson(artifact: ArtifactRecord) {
  const download =
    artifact.id === undefined || artifact.deletedAt !== undefined
      ? null
      : `/api/runs/${encodeURIComponent(artifact.runId)}/artifacts/${artifact.id}`;
  return { id: artifact.id ?? null, ...artifactToJson(artifact), download };
}

export function runDetailJson(
  run: RunRecord,
  steps: StepAttemptRecord[],
  artifacts: ArtifactRecord[],
  deliveries: DeliveryRecord[],
) {
  return {
    ...runToJson(run),
    steps: steps.map(stepAttemptToJson),
    artifacts: artifacts.map(artifactJson),
    deliveries: deliveries.map(deliveryToJson),
  };
}

/** A delivery as the API sends it: the CLI's `show --json` shape. */
export const deliveryJson = deliveryToJson;

/** A log line as the API sends it: the CLI's `logs --json` shape. */
export const logJson = logEntryToJson;

export function pipelineJson(
  pipeline: SyncedPipeline,
  state: PipelineState | undefined,
  lastRun: RunRecord | undefined,
  projectTimezone: string,
  now: Date,
) {
  const schedule = pipeline.spec?.schedule;
  return {
    id: pipeline.id,
    file: pipeline.file,
    description: pipeline.spec?.description ?? null,
    schedule:
      schedule === undefined
        ? null
        : {
            cron: schedule.cron,
            timezone: schedule.timezone ?? projectTimezone,
            catchup: schedule.catchup,
            in_words: describeSchedule(schedule, projectTimezone),
            next: nextSlots(schedule, projectTimezone, now, 3).map((slot) => slot.toISOString()),
          },
    paused: state?.paused === true,
    invalid_reason: pipeline.invalidReason ?? state?.invalidReason ?? null,
    revision: pipeline.revision ?? null,
    params: (pipeline.spec?.params ?? {}) as Record<string, unknown>,
    last_run: lastRun === undefined ? null : runToJson(lastRun),
  };
}
