/**
 * The shape of a pipeline file (`pipelines/<id>.yaml`). This zod schema is the single source of the
 * TypeScript types, the validation and the published JSON Schema. Step `with:` blocks are validated
 * separately by each step type's own schema (see validate.ts), so this file stays step-agnostic.
 */
import { z } from 'zod';
import { parseDuration } from '../duration.js';

export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const PIPELINE_ID = /^[a-z0-9][a-z0-9_-]*$/;

export const durationSchema = z
  .string()
  .refine((text) => parseDuration(text) !== undefined, {
    message: 'expected a duration such as 500ms, 10s, 30m, 1h30m or 8d',
  })
  .describe('A duration: a number followed by ms, s, m, h, d or w; parts may be combined (1h30m).');

export const retryPolicySchema = z
  .strictObject({
    attempts: z.int().min(1).max(100).describe('Total attempts, including the first one.'),
    backoff: z.enum(['fixed', 'exponential']).default('exponential'),
    delay: durationSchema.default('10s').describe('Wait before the second attempt.'),
    max_delay: durationSchema.optional().describe('Upper bound for exponential backoff (default 10m).'),
  })
  .describe('How often a step is tried again after an operational error (never after a user error).');

export const scheduleSchema = z
  .strictObject({
    cron: z.string().describe('Five- or six-field cron expression, evaluated in `timezone`.'),
    timezone: z
      .string()
      .optional()
      .describe('IANA time zone such as Europe/Berlin (default: project timezone).'),
    catchup: z
      .enum(['none', 'latest', 'all'])
      .default('latest')
      .describe('What to do with slots missed while down.'),
    max_catchup: z.int().min(1).optional().describe('With catchup: all, the most missed slots to run.'),
  })
  .describe('When the pipeline runs on its own.');

export const paramSchema = z
  .strictObject({
    type: z.enum(['string', 'number', 'integer', 'boolean', 'date']).default('string'),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    required: z.boolean().optional().describe('A run without a value fails validation (default: false).'),
    enum: z
      .array(z.union([z.string(), z.number()]))
      .optional()
      .describe('The only accepted values.'),
    description: z.string().optional(),
  })
  .describe('A run parameter, available to templates as params.<name>.');

export const stepSchema = z
  .strictObject({
    id: z
      .string()
      .regex(
        IDENTIFIER,
        'a step id is also a table name: letters, digits and underscores, not starting with a digit',
      )
      .describe('Unique within the pipeline; the step output dataset is a table with this name.'),
    uses: z
      .string()
      .describe('A built-in step type (files.read, sql, check, files.write, …) or ./path/to/module.js'),
    description: z.string().optional(),
    with: z.record(z.string(), z.unknown()).optional().describe('The step type configuration.'),
    needs: z.array(z.string()).optional().describe('Steps that must succeed before this one starts.'),
    retries: retryPolicySchema.optional(),
    timeout: durationSchema.optional().describe('Abort the step after this long.'),
  })
  .describe('One step of the pipeline.');

export const expectSchema = z
  .strictObject({
    success_within: durationSchema.describe(
      'Dead-man check: warn when no run of the pipeline succeeded within this long (e.g. 8d).',
    ),
  })
  .describe('What the service expects of the pipeline, checked by the scheduler.');

// ---- notifications (on_failure, on_success; sent by the engine, see src/notify/) ----------------------

/** One address, a comma-separated list, or a list. */
const notifyRecipientsSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const emailNotificationSchema = z
  .strictObject({
    connection: z
      .string()
      .min(1)
      .optional()
      .describe('An smtp connection of pipewright.yaml; without one the message goes to outbox/.'),
    to: notifyRecipientsSchema.describe('Recipients: an address, a comma-separated list, or a list.'),
    cc: notifyRecipientsSchema.optional(),
    from: z.string().min(1).optional().describe("Sender (default: the connection's from)."),
    subject: z
      .string()
      .min(1)
      .optional()
      .describe('A template over run, error and url (default: "[Pipewright] <pipeline> <status> …").'),
  })
  .describe('Notify by e-mail.');

export const webhookNotificationSchema = z
  .strictObject({
    url: z.string().min(1).describe('Where to POST; secret references allowed.'),
    format: z
      .enum(['slack', 'json'])
      .default('json')
      .describe('json (default): a JSON document with a text summary; slack: text and blocks.'),
    secret: z.string().min(1).optional().describe('HMAC-SHA256 signing secret (X-Pipewright-Signature).'),
    headers: z.record(z.string(), z.string()).optional().describe('Extra request headers.'),
    timeout: durationSchema.default('10s').describe('Longest wait for one answer (default 10s).'),
    attempts: z.int().min(1).max(10).default(3).describe('Attempts for 5xx, 429 and network errors.'),
  })
  .describe('Notify through a webhook.');

export const notificationSchema = z
  .strictObject({ email: emailNotificationSchema.optional(), webhook: webhookNotificationSchema.optional() })
  .refine((entry) => (entry.email === undefined) !== (entry.webhook === undefined), {
    message: 'a notification is either { email: … } or { webhook: … }',
  })
  .describe('One notification: { email: { to, … } } or { webhook: { url, … } }.');

export const notificationListSchema = z.array(notificationSchema);

/** True when `text` compiles as a JavaScript regular expression (file-name patterns). */
export function isRegExp(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}

export const FILE_PATTERN_MESSAGE = 'expected a JavaScript regular expression such as ^orders_.*\\.csv$';

export const watchTriggerSchema = z
  .strictObject({
    dir: z
      .string()
      .min(1)
      .describe(
        'The watched folder, relative to the project folder (or absolute). Only its top level is watched.',
      ),
    pattern: z
      .string()
      .default('.*')
      .refine(isRegExp, { message: FILE_PATTERN_MESSAGE })
      .describe(
        'Regular expression a file name must match (searched, so anchor it with ^…$ to match the whole name).',
      ),
    stable_for: durationSchema
      .default('5s')
      .describe('A file has arrived once its size and modification time were unchanged this long.'),
    poll: durationSchema.default('1s').describe('How often the folder is scanned.'),
  })
  .describe('Start a run for each file that arrives in a folder; the run sees it as {{ trigger.file }}.');

export const triggerSchema = z
  .strictObject({ watch: watchTriggerSchema })
  .describe('What starts runs besides the schedule: { watch: { dir, pattern, stable_for } }.');

export const pipelineSchema = z
  .strictObject({
    id: z
      .string()
      .regex(PIPELINE_ID, 'lower-case letters, digits, - and _, starting with a letter or digit')
      .describe('Unique within the project; usually the file name without .yaml.'),
    description: z.string().optional(),
    timezone: z
      .string()
      .optional()
      .describe('Time zone for dates in templates (default: schedule, then project).'),
    schedule: scheduleSchema.optional(),
    params: z.record(z.string().regex(IDENTIFIER), paramSchema).optional(),
    retries: retryPolicySchema.optional().describe('Default retry policy of every step.'),
    timeout: durationSchema.optional().describe('Abort the whole run after this long.'),
    concurrency: z.int().min(1).max(64).optional().describe('Most steps running at once (default 2).'),
    max_active_runs: z
      .int()
      .min(1)
      .optional()
      .describe('Most runs of this pipeline running at once, across all workers (default: no limit).'),
    overlap: z
      .enum(['queue', 'skip'])
      .optional()
      .describe(
        'At max_active_runs (default queue): queue (scheduled runs wait their turn) or skip (a slot is not queued while the pipeline already has max_active_runs queued or running runs).',
      ),
    after: z
      .array(z.string().regex(PIPELINE_ID, 'a pipeline id'))
      .optional()
      .describe('Upstream pipelines: each successful run of one of them queues a run of this pipeline.'),
    triggers: z.array(triggerSchema).optional(),
    expect: expectSchema.optional(),
    on_failure: notificationListSchema
      .optional()
      .describe(
        'Sent when a run fails (not when it is cancelled) and when expect.success_within is missed; replaces the project default, [] turns it off.',
      ),
    on_success: notificationListSchema
      .optional()
      .describe('Sent when a run succeeds; replaces the project default, [] turns it off.'),
    steps: z.array(stepSchema).min(1, 'a pipeline needs at least one step'),
  })
  .describe('A Pipewright pipeline definition.');

export type RetryPolicy = z.output<typeof retryPolicySchema>;
export type ScheduleSpec = z.output<typeof scheduleSchema>;
export type ParamSpec = z.output<typeof paramSchema>;
export type StepSpec = z.output<typeof stepSchema>;
export type ExpectSpec = z.output<typeof expectSchema>;
export type PipelineSpec = z.output<typeof pipelineSchema>;
export type NotificationSpec = z.output<typeof notificationSchema>;
export type WatchTriggerSpec = z.output<typeof watchTriggerSchema>;
