/**
 * A real context for testing a step type alone: a temporary project folder, a real run database, a
 * recording logger and artifact list. Used by the built-in steps' tests and offered to authors of
 * user-written steps.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  asStepDefinition,
  type AnyStepDefinition,
  type ArtifactInfo,
  type DeliveryReport,
  type LogLevel,
  type PreviousStepOutputs,
  type RunArtifact,
  type Row,
  type StepResult,
} from '../core/step.js';
import { createStepContext, memoryDeliveries } from '../engine/step-context.js';
import { memoryDataLoads, memoryIncremental } from '../engine/step-state.js';
import type { DataLoadReport } from '../core/step.js';
import { openRunDatabase, type RunDatabase } from '../engine/run-database.js';
import { createDatasets } from '../engine/datasets.js';
import { quoteLiteral } from '../core/sql-identifiers.js';
import { Redactor, renderConfig } from '../core/secrets.js';
import { resolveConnection, type ConnectionDefinitions } from '../engine/connections.js';

export interface HarnessLogEntry {
  level: LogLevel;
  stepId: string;
  message: string;
  data?: Record<string, unknown> | undefined;
}

export interface StepHarness {
  readonly projectDir: string;
  readonly logs: HarnessLogEntry[];
  /** Every artifact registered so far, by any step run through this harness. */
  readonly artifacts: RunArtifact[];
  /** Every message an e-mail or webhook step recorded in the run's deliveries ledger. */
  readonly deliveries: DeliveryReport[];
  /** Every load a step recorded in the run's data-load ledger (secrets masked). */
  readonly loads: DataLoadReport[];
  /**
   * Incremental marks by step id: `committed` is what `ctx.incremental.get()` returns (preset it to
   * simulate earlier runs), `proposed` what steps proposed; `commit()` promotes the proposals, as the
   * success of a run does.
   */
  readonly marks: { committed: Map<string, unknown>; proposed: Map<string, unknown>; commit(): void };
  /** Masks the secrets that connections resolved, as the engine does for logs and errors. */
  readonly redactor: Redactor;
  /** Validates `config` with the step's schema (throwing zod's error) and runs the step as `stepId`. */
  runStep(
    definition: AnyStepDefinition | Record<string, unknown>,
    config: unknown,
    options?: {
      stepId?: string;
      signal?: AbortSignal;
      params?: Record<string, unknown>;
      /** The pipeline's time zone (default UTC). */
      timezone?: string;
      /** The run's schedule slot (default: when the harness was created). */
      scheduledFor?: Date;
      /** What `ctx.history.previousOutputs()` gives: this step in a previous run (default none). */
      previousOutputs?: PreviousStepOutputs;
    },
  ): Promise<StepResult>;
  query<T extends Row = Row>(sql: string): Promise<T[]>;
  /** Writes a file under the project folder (creating folders) and returns its absolute path. */
  writeFile(path: string, content: string | Buffer): Promise<string>;
  /** Column name → DuckDB type of a dataset, in column order. */
  columnTypes(dataset: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export interface StepHarnessOptions {
  /** Named connections, as in pipewright.yaml `connections:`. */
  connections?: ConnectionDefinitions;
  /** Where `${env:…}` references are looked up (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

export async function createStepHarness(options: StepHarnessOptions = {}): Promise<StepHarness> {
  const projectDir = await mkdtemp(join(tmpdir(), 'pw-step-'));
  const workspaceDir = join(projectDir, '.pipewright', 'runs', 'test-run');
  const database: RunDatabase = await openRunDatabase(join(workspaceDir, 'run.duckdb'), {
    memoryLimit: '512MB',
    threads: 2,
  });
  const logs: HarnessLogEntry[] = [];
  const artifacts: RunArtifact[] = [];
  const deliveries: DeliveryReport[] = [];
  const loads: DataLoadReport[] = [];
  const committedMarks = new Map<string, unknown>();
  const proposedMarks = new Map<string, unknown>();
  const redactor = new Redactor();
  const now = new Date();

  const queryRows = async <T extends Row = Row>(sql: string): Promise<T[]> => {
    const connection = await database.connect();
    try {
      return await createDatasets(connection, '__harness').query<T>(sql);
    } finally {
      connection.closeSync();
    }
  };

  return {
    projectDir,
    logs,
    artifacts,
    deliveries,
    redactor,
    loads,
    marks: {
      committed: committedMarks,
      proposed: proposedMarks,
      commit() {
        for (const [stepId, value] of proposedMarks) committedMarks.set(stepId, value);
        proposedMarks.clear();
      },
    },
    async runStep(definition, config, runOptions = {}) {
      const stepId = runOptions.stepId ?? 'step';
      // Accept user-written modules as they are exported, with `config: (z) => schema` too.
      const step = asStepDefinition(definition);
      if (!step) throw new TypeError('runStep expects a step definition with config and run');
      const parsed: unknown = step.config.parse(config);
      const connection = await database.connect();
      const logger = (level: LogLevel) => (message: string, data?: Record<string, unknown>) => {
        logs.push({ level, stepId, message, data });
      };
      try {
        const context = createStepContext({
          run: {
            id: 'test-run',
            pipelineId: 'test',
            scheduledFor: runOptions.scheduledFor ?? now,
            startedAt: now,
            trigger: 'test',
            timezone: runOptions.timezone ?? 'UTC',
            params: runOptions.params ?? {},
          },
          stepId,
          attempt: 1,
          projectDir,
          workspaceDir,
          signal: runOptions.signal ?? new AbortController().signal,
          log: { debug: logger('debug'), info: logger('info'), warn: logger('warn'), error: logger('error') },
          connection,
          artifacts: {
            dir: join(projectDir, '.pipewright', 'artifacts', 'test-run', stepId),
            async register(path, registerOptions = {}) {
              const info: ArtifactInfo = {
                name: registerOptions.name ?? path.split('/').pop() ?? path,
                path,
                bytes: (await stat(path)).size,
                contentType: registerOptions.contentType,
              };
              artifacts.push({ ...info, stepId });
              return info;
            },
            list: () => Promise.resolve([...artifacts]),
          },
          deliveries: memoryDeliveries(deliveries, (text) => redactor.redact(text)),
          history: { previousOutputs: () => Promise.resolve(runOptions.previousOutputs) },
          loads: memoryDataLoads(loads, (text) => redactor.redact(text)),
          incremental: memoryIncremental(stepId, committedMarks, proposedMarks),
          resolveConnection: (name, types) =>
            resolveConnection(options.connections ?? {}, name, types, (raw, path) =>
              renderConfig(
                raw,
                {},
                {
                  timezone: runOptions.timezone ?? 'UTC',
                  env: options.env ?? process.env,
                  projectDir,
                  redactor,
                  path,
                },
              ),
            ),
        });
        return await step.run(context, parsed);
      } finally {
        connection.closeSync();
      }
    },
    query: (sql) => queryRows(sql),
    async writeFile(path, content) {
      const absolute = join(projectDir, path);
      await mkdir(dirname(absolute), { recursive: true });
      await writeFile(absolute, content);
      return absolute;
    },
    async columnTypes(dataset) {
      const rows = await queryRows<{ name: string; type: string }>(
        `SELECT column_name AS name, data_type AS type FROM duckdb_columns() WHERE table_name = ${quoteLiteral(dataset)} ORDER BY column_index`,
      );
      return Object.fromEntries(rows.map((row) => [row.name, row.type]));
    },
    async close() {
      database.close();
      await rm(projectDir, { recursive: true, force: true });
    },
  };
}
