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
  durationMs,
  runToJson,
  stepAttemptToJson,
} from '../cli/json-output.js';
import { nextSlots } from '../scheduler/cron-slots.js';
import { describeSchedule } from '../scheduler/describe-schedule.js';
import type { SyncedPipeline } from '../scheduler/definitions.js';
import type {
  ArtifactRecord,
  DataLoadRecord,
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
  errors: z
    .array(z.object({ field: z.string(), message: z.string() }))
    .optional()
    .describe('PW_PARAM_INVALID (422): each bad run parameter'),
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
  duration_ms: z.int().nullable().describe('finished_at − started_at; null until the run has finished.'),
});

export const runSummarySchema = z.object({
  id: z.string(),
  status: z.enum(RUN_STATUSES),
  trigger: z.string(),
  queued_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  duration_ms: z.int().nullable(),
});

export const stepAttemptSchema = z.object({
  step: z.string(),
  attempt: z.int(),
  run_attempt: z.int(),
  status: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  rows: z.number().nullable(),
  rows_in: z
    .number()
    .nullable()
    .describe(
      'The rows the steps it waits for produced in this run (needs and datasets it reads, latest attempts, summed); null without.',
    ),
  rows_out: z.number().nullable().describe('The rows it produced (same as rows).'),
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
      next: z.array(z.string()).describe('The next instants it fires (UTC): three, or `?next=N` (1–20).'),
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
  recent_runs: z.array(runSummarySchema).describe('Up to 20 most recent runs, newest first.'),
});

export const pipelineDetailSchema = pipelineSchema.extend({
  definition: z.object({
    yaml: z
      .string()
      .nullable()
      .describe('The text of the pipeline file as it is now; null when it cannot be read.'),
    steps: z
      .array(z.object({ id: z.string(), type: z.string(), needs: z.array(z.string()) }))
      .describe(
        'The steps of the revision that runs (the file when none is stored yet), in plan order; needs = the steps it waits for, explicit or inferred from the datasets it reads.',
      ),
  }),
  stats: z.object({
    runs: z
      .array(
        z.object({
          id: z.string(),
          status: z.enum(RUN_STATUSES),
          started_at: z.string().nullable(),
          duration_ms: z.int().nullable(),
        }),
      )
      .describe('The last 100 finished runs, newest first.'),
    success_rate: z.number().nullable().describe('Succeeded ÷ those runs; null when none finished.'),
  }),
});

export const loadSchema = z.object({
  id: z.int(),
  run_id: z.string(),
  step: z.string(),
  target: z.string().describe('What was loaded into: a file path, a table name, an object key.'),
  source: z.string().nullable(),
  rows: z.number(),
  bytes: z.number().nullable(),
  status: z.enum(['succeeded', 'failed']),
  message: z.string().nullable(),
  created_at: z.string(),
});

export const loadPageSchema = z.object({
  loads: z.array(loadSchema),
  next: z.string().nullable().describe('Pass as `cursor` for the next (older) page; null on the last page.'),
});

export const loadListQuerySchema = z.strictObject({
  cursor: z.string().min(1).optional().describe('The `next` value of the previous page.'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function loadJson(load: DataLoadRecord) {
  return {
    id: load.id ?? 0,
    run_id: load.runId,
    step: load.stepId,
    target: load.target,
    source: load.source ?? null,
    rows: load.rows,
    bytes: load.bytes ?? null,
    status: load.status,
    message: load.message ?? null,
    created_at: load.at.toISOString(),
  };
}

export const nextQuerySchema = z.strictObject({
  next: z.coerce.number().int().min(1).max(20).default(3).describe('How many next instants to list (1–20).'),
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
  from: z
    .union([z.iso.datetime({ offset: true }), z.iso.date()])
    .optional()
    .describe('Only runs queued at or after this instant (ISO 8601; a date means its start, UTC).'),
  to: z
    .union([z.iso.datetime({ offset: true }), z.iso.date()])
    .optional()
    .describe('Only runs queued before this instant (ISO 8601; a date includes that whole day, UTC).'),
  cursor: z.string().min(1).optional().describe('The `next` value of the previous page.'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const activityQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('At most this many of each kind.'),
});

export const logQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).optional().describe('Only lines after this log id.'),
  step: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
});

// ---- shapes ---------------------------------------------------------------------------------------

export { durationMs };

export function runJson(run: RunRecord) {
  return runToJson(run);
}

export function runSummaryJson(run: RunRecord) {
  return {
    id: run.id,
    status: run.status,
    trigger: run.trigger,
    queued_at: run.queuedAt.toISOString(),
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: run.finishedAt?.toISOString() ?? null,
    duration_ms: durationMs(run),
  };
}

export function artifactJson(artifact: ArtifactRecord) {
  const download =
    artifact.id === undefined || artifact.deletedAt !== undefined
      ? null
      : `/api/runs/${encodeURIComponent(artifact.runId)}/artifacts/${artifact.id}`;
  return { id: artifact.id ?? null, ...artifactToJson(artifact), download };
}

/**
 * Step attempts with rows in and out: a step's rows in are the rows its `needs` produced, each taken
 * from that step's latest attempt in the run that reported rows.
 */
export function stepAttemptsJson(
  steps: readonly StepAttemptRecord[],
  needs: ReadonlyMap<string, readonly string[]>,
) {
  const rowsOut = new Map<string, number>();
  for (const attempt of steps) if (attempt.rows !== undefined) rowsOut.set(attempt.stepId, attempt.rows);
  return steps.map((attempt) => {
    const inputs = (needs.get(attempt.stepId) ?? []).map((id) => rowsOut.get(id));
    const known = inputs.filter((rows): rows is number => rows !== undefined);
    return {
      ...stepAttemptToJson(attempt),
      rows_in: known.length === 0 ? null : known.reduce((sum, rows) => sum + rows, 0),
      rows_out: attempt.rows ?? null,
    };
  });
}

export function runDetailJson(
  run: RunRecord,
  steps: StepAttemptRecord[],
  artifacts: ArtifactRecord[],
  deliveries: DeliveryRecord[],
  needs: ReadonlyMap<string, readonly string[]> = new Map(),
) {
  return {
    ...runJson(run),
    steps: stepAttemptsJson(steps, needs),
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
  recentRuns: readonly RunRecord[],
  projectTimezone: string,
  now: Date,
  nextCount = 3,
) {
  const lastRun = recentRuns[0];
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
            next: nextSlots(schedule, projectTimezone, now, nextCount).map((slot) => slot.toISOString()),
          },
    paused: state?.paused === true,
    invalid_reason: pipeline.invalidReason ?? state?.invalidReason ?? null,
    revision: pipeline.revision ?? null,
    params: (pipeline.spec?.params ?? {}) as Record<string, unknown>,
    last_run: lastRun === undefined ? null : runJson(lastRun),
    recent_runs: recentRuns.map(runSummaryJson),
  };
}
