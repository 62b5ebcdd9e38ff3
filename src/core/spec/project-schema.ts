/**
 * The shape of `pipewright.yaml`, the project file. Every field has an embedded default so that a
 * project folder with an empty file runs: SQLite state, a local workspace, no servers.
 */
import { z } from 'zod';
import { DEFAULT_ALLOWED_TYPES } from '../../connectors/batch/file-names.js';
import {
  durationSchema,
  FILE_PATTERN_MESSAGE,
  IDENTIFIER,
  isRegExp,
  notificationListSchema,
  PIPELINE_ID,
  retryPolicySchema,
} from './pipeline-schema.js';

/** One row of a watched folder's routing table: file names matching `pattern` go to `pipeline`. */
export const watchRouteSchema = z
  .strictObject({
    pattern: z
      .string()
      .refine(isRegExp, { message: FILE_PATTERN_MESSAGE })
      .describe(
        'Regular expression searched in the file name (anchor it with ^…$); the first route that matches takes the file.',
      ),
    pipeline: z
      .string()
      .regex(PIPELINE_ID, 'a pipeline id')
      .describe('The pipeline whose run gets the file as {{ trigger.file }}.'),
    params: z
      .record(
        z.string().regex(IDENTIFIER, 'a parameter name'),
        z.union([z.string(), z.number(), z.boolean()]),
      )
      .default({})
      .describe(
        "Run parameters for the pipeline (its templates read them as {{ params.<name> }}), checked against its declared params like a manual run's.",
      ),
  })
  .describe('A route: file names matching pattern start a run of pipeline with params.');

/** A watched folder served by routes (the project-level form of a pipeline's `triggers: [{ watch }]`). */
export const watchFolderSchema = z
  .strictObject({
    dir: z
      .string()
      .min(1)
      .describe(
        'The watched folder, relative to the project folder (or absolute). Only its top level is watched.',
      ),
    stable_for: durationSchema
      .default('5s')
      .describe('A file has arrived once its size and modification time were unchanged this long.'),
    poll: durationSchema.default('1s').describe('How often the folder is scanned.'),
    routes: z
      .array(watchRouteSchema)
      .min(1)
      .describe('Tried in order; a file that matches no route stays in the folder.'),
  })
  .describe('A folder whose files are routed to pipelines by file-name pattern.');

export type WatchFolderSpec = z.output<typeof watchFolderSchema>;
export type WatchRouteSpec = z.output<typeof watchRouteSchema>;

export const projectSchema = z
  .strictObject({
    name: z.string().optional(),
    timezone: z.string().default('UTC').describe('Default time zone of pipelines and templates.'),
    state: z
      .string()
      .default('.pipewright/state.db')
      .describe(
        'The state store: a SQLite file path relative to the project (default .pipewright/state.db) or a postgres:// URL; PIPEWRIGHT_STATE_URL overrides it.',
      ),
    pipelines_dir: z.string().default('pipelines'),
    workspace: z
      .strictObject({
        dir: z.string().default('.pipewright/runs'),
        keep: z
          .enum(['never', 'on_failure', 'always'])
          .default('on_failure')
          .describe(
            'Keep a run workspace (its DuckDB file) after the run: failed runs are kept to be resumed.',
          ),
      })
      .prefault({}),
    artifacts: z
      .strictObject({
        dir: z.string().default('.pipewright/artifacts'),
        keep_days: z
          .int()
          .min(0)
          .default(90)
          .describe('Delete artifacts of runs older than this (0 = keep forever).'),
      })
      .prefault({}),
    duckdb: z
      .strictObject({
        memory_limit: z.string().default('1GB'),
        threads: z.int().min(1).optional(),
      })
      .prefault({}),
    defaults: z
      .strictObject({
        retries: retryPolicySchema.optional(),
        timeout: durationSchema.optional(),
        concurrency: z.int().min(1).max(64).optional(),
      })
      .prefault({}),
    service: z
      .strictObject({
        max_running: z
          .int()
          .min(1)
          .max(1000)
          .optional()
          .describe(
            "Most runs executing at once across every worker sharing the state store (default: no limit beyond each worker's --concurrency).",
          ),
        base_url: z
          .url({ protocol: /^https?$/ })
          .optional()
          .describe(
            'Where people reach this service, e.g. https://pipewright.example.com; notifications link to <base_url>/runs/<id>.',
          ),
      })
      .prefault({})
      .describe('Settings of serve and worker processes.'),
    notifications: z
      .strictObject({
        on_failure: notificationListSchema
          .optional()
          .describe('Default on_failure notifications of pipelines that set none.'),
        on_success: notificationListSchema
          .optional()
          .describe('Default on_success notifications of pipelines that set none.'),
      })
      .prefault({})
      .describe(
        "Default notifications of every pipeline (a pipeline's own on_failure/on_success replace them).",
      ),
    inboxes: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _'),
        z.strictObject({
          storage: z
            .string()
            .min(1)
            .describe('The folder batch files are unpacked into, relative to the project (e.g. _storage).'),
          allowed_types: z
            .array(z.string().regex(/^[a-z0-9]{1,10}$/, 'an extension without its dot, lower case'))
            .min(1)
            .default([...DEFAULT_ALLOWED_TYPES])
            .describe('Extensions accepted, without the dot. Default: json, images, txt, csv, xml.'),
          max_payload_mb: z
            .number()
            .positive()
            .max(4096)
            .default(100)
            .describe('Largest request body (the whole JSON payload) in MB; larger ones get 413.'),
          max_file_mb: z.number().positive().max(4096).default(50).describe('Largest single file in MB.'),
          max_files: z.int().min(1).max(100_000).default(1000).describe('Most files in one payload.'),
          pipeline: z
            .string()
            .optional()
            .describe('A pipeline to queue for every accepted batch; `trigger.batch` describes the batch.'),
        }),
      )
      .default({})
      .describe('Named inboxes that accept batch payloads at POST /api/inboxes/<name>/batches.'),
    watch: z
      .array(watchFolderSchema)
      .default([])
      .describe(
        'Watched folders with routing tables: each arrived file whose name matches a route starts a run of that pipeline with the route params.',
      ),
    connections: z
      .record(z.string(), z.looseObject({ type: z.string() }))
      .default({})
      .describe('Named connections to databases and stores, used by connector steps.'),
  })
  .describe('Pipewright project settings (pipewright.yaml).');

export type ProjectSpec = z.output<typeof projectSchema>;
