/**
 * The step-type plugin interface. A step type is a typed config schema plus one `run(ctx, config)`.
 * Built-in steps and user-written modules (`uses: ./steps/x.js`) implement exactly this, and a step
 * reaches the world only through its context, so it can be tested against a real context on a temp
 * folder.
 */
import { z } from 'zod';
import type { DuckDBConnection } from '@duckdb/node-api';

export type StepKind = 'extract' | 'transform' | 'load' | 'report' | 'deliver' | 'custom';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface StepLogger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface ColumnInfo {
  name: string;
  type: string;
}

export type Row = Record<string, unknown>;

/** The run's DuckDB database, where every step's output dataset is a table named after the step. */
export interface Datasets {
  /** This step's own connection; closed by the engine after the step. Interrupted on abort. */
  readonly connection: DuckDBConnection;
  /** Runs one or more statements, discarding results. */
  run(sql: string, values?: Record<string, unknown>): Promise<void>;
  /** Runs a query and returns its rows as plain objects; for small results only. */
  query<T extends Row = Row>(sql: string, values?: Record<string, unknown>): Promise<T[]>;
  exists(name: string): Promise<boolean>;
  rowCount(name: string): Promise<number>;
  columns(name: string): Promise<ColumnInfo[]>;
  /**
   * Replaces this step's output dataset atomically: in one transaction the previous dataset (table or
   * view) is dropped and `build` creates the new one under the quoted name it receives; a failure
   * rolls back to the previous dataset. Returns the row count of the new dataset.
   */
  replaceOutput(build: (table: string) => Promise<void>): Promise<number>;
  /** The same without counting rows afterwards (counting a view over files reads them all again). */
  replaceOutput(build: (table: string) => Promise<void>, options: { countRows: false }): Promise<undefined>;
}

export interface ArtifactInfo {
  name: string;
  path: string;
  bytes: number;
  contentType?: string | undefined;
}

export interface Artifacts {
  /** Folder where this step may write artifact files; files land there under temporary names. */
  readonly dir: string;
  /** Registers a file (already fully written and renamed) as an artifact of this run. */
  register(path: string, options?: { name?: string; contentType?: string }): Promise<ArtifactInfo>;
  /** Every artifact of this run registered so far, by any step (a report embeds charts, an email attaches files). */
  list(): Promise<RunArtifact[]>;
}

export interface RunArtifact extends ArtifactInfo {
  /** The step that registered it (undefined for an artifact of the run as a whole). */
  stepId: string | undefined;
}

/** One message a delivery step sent or tried to send (e-mail, webhook), for the run's deliveries ledger. */
export interface DeliveryReport {
  kind: 'email' | 'webhook';
  /** Recipients (comma-separated) or the URL without its query string and credentials. */
  target: string;
  subject?: string | undefined;
  /** The e-mail's Message-ID, the webhook's delivery id. */
  messageId?: string | undefined;
  /** `outbox`: written to the project's outbox/ folder instead of being sent. */
  status: 'sent' | 'failed' | 'outbox';
  attempts: number;
  error?: string | undefined;
}

export interface Deliveries {
  /** Records a message in the state store (secrets in it are masked first). */
  record(delivery: DeliveryReport): Promise<void>;
}

/** This step's results in an earlier run of the same pipeline (see StepHistory). */
export interface PreviousStepOutputs {
  runId: string;
  scheduledFor: Date;
  finishedAt: Date | undefined;
  outputs: Record<string, unknown>;
}

/** Read-only look back at earlier runs, e.g. for a report's change against the previous run. */
export interface StepHistory {
  /**
   * The outputs this step id recorded in the latest succeeded run of this pipeline scheduled before
   * this run (where the step succeeded too); undefined when there is none.
   */
  previousOutputs(): Promise<PreviousStepOutputs | undefined>;
}

/** One load into a target outside the run (a database table), for the run's data-load ledger. */
export interface DataLoadReport {
  /** Where the rows went, e.g. `warehouse:public.sales` (connection and table). */
  target: string;
  /** What was loaded, e.g. the input dataset. */
  source?: string | undefined;
  rows: number;
  bytes?: number | undefined;
  status: 'succeeded' | 'failed';
  /** Why it failed (secrets are masked before it is stored). */
  message?: string | undefined;
}

export interface DataLoads {
  /** Records a load in the state store's data-load ledger. */
  record(load: DataLoadReport): Promise<void>;
}

/**
 * This step's high-water mark for incremental extraction, kept per pipeline and step id. A proposed
 * mark becomes the committed one only when the run succeeds, so a failed run reads the same window again.
 */
export interface IncrementalMarks {
  /** The committed mark (a JSON value), or undefined before the first successful run that set one. */
  get(): Promise<unknown>;
  /** Proposes the next mark (JSON-serialisable), committed when this run succeeds. */
  propose(value: unknown): Promise<void>;
}

/** A named connection from pipewright.yaml `connections:`, its secret references resolved. */
export type ConnectionConfig = Readonly<Record<string, unknown>> & { readonly type: string };

export interface RunInfo {
  id: string;
  pipelineId: string;
  /** When the run was meant to happen (the schedule slot, or the trigger time of a manual run). */
  scheduledFor: Date;
  startedAt: Date;
  trigger: string;
  timezone: string;
  /** Validated run parameters (defaults applied). */
  params: Readonly<Record<string, unknown>>;
}

export interface StepContext {
  readonly run: RunInfo;
  readonly stepId: string;
  readonly attempt: number;
  readonly projectDir: string;
  /** The run's private working folder (temp files, spill space); removed per the retention policy. */
  readonly workspaceDir: string;
  readonly signal: AbortSignal;
  readonly log: StepLogger;
  readonly datasets: Datasets;
  readonly artifacts: Artifacts;
  /** The run's deliveries ledger: every message an e-mail or webhook step sends is recorded here. */
  readonly deliveries: Deliveries;
  /** Earlier runs of this pipeline, read-only (this step's previous outputs). */
  readonly history: StepHistory;
  /** The run's data-load ledger: a step that loads data into a database records each load here. */
  readonly loads: DataLoads;
  /** This step's incremental high-water mark (committed only when the run succeeds). */
  readonly incremental: IncrementalMarks;
  now(): Date;
  /** Resolves a path from the pipeline definition: relative paths are relative to the project folder. */
  resolvePath(path: string): string;
  /**
   * The connection named `name` in pipewright.yaml, with `${env:…}`/`${file:…}` resolved (and masked in
   * logs and errors from then on). PW_CONNECTION_UNKNOWN when there is none, or when `types` is given
   * and its type is not among them.
   */
  connection(name: string, types?: readonly string[]): ConnectionConfig;
}

/** What a step reports back; `outputs` become `steps.<id>.outputs` in later templates. */
export interface StepResult {
  rows?: number;
  bytes?: number;
  outputs?: Record<string, unknown>;
  /** Non-fatal findings (for example a `check` rule with severity warn). */
  warnings?: string[];
}

export interface StepDefinition<Config extends z.ZodType = z.ZodType> {
  type: string;
  kind: StepKind;
  description: string;
  /** A strict zod object: unknown fields are errors. */
  config: Config;
  /**
   * The datasets (step ids) this step reads, derived from its raw config, so the DAG can order it
   * after their producers without an explicit `needs`.
   */
  inputs?: (config: z.output<Config>, knownSteps: readonly string[]) => string[];
  /** Whether this step produces an output dataset named after itself (default true). */
  producesDataset?: boolean;
  /**
   * Top-level `with:` fields holding text in the step's own template language (the `report` step's
   * `template`): the engine passes them to the step unrendered and validation does not check them as
   * pipeline templates; the step renders them itself.
   */
  rawFields?: readonly string[];
  run(ctx: StepContext, config: z.output<Config>): Promise<StepResult>;
}

/** Identity function that exists to infer the config type for `run`. */
export function defineStep<Config extends z.ZodType>(
  definition: StepDefinition<Config>,
): StepDefinition<Config> {
  return definition;
}

// A registry holds definitions of many config types; `any` is the honest erasure here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStepDefinition = StepDefinition<any>;

/**
 * A module's `config` is a zod schema, or a function that receives zod and returns one, so a step
 * file can be written without importing anything.
 */
export function asStepDefinition(value: unknown): AnyStepDefinition | undefined {
  const candidate = value as (Partial<AnyStepDefinition> & { config?: unknown }) | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.run !== 'function')
    return undefined;
  const config: unknown =
    typeof candidate.config === 'function'
      ? (candidate.config as (zod: typeof z) => unknown)(z)
      : candidate.config;
  if (typeof (config as { safeParse?: unknown } | undefined)?.safeParse !== 'function') return undefined;
  return { ...(candidate as AnyStepDefinition), config: config as AnyStepDefinition['config'] };
}
