/** Builds the context a step runs with: the only door from a step to the world. */
import { isAbsolute, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type {
  Artifacts,
  ConnectionConfig,
  Deliveries,
  DeliveryReport,
  RunInfo,
  StepContext,
  StepHistory,
  StepLogger,
} from '../core/step.js';
import { createDatasets } from './datasets.js';
import { memoryDataLoads, memoryIncremental } from './step-state.js';
import type { DataLoads, IncrementalMarks } from '../core/step.js';

export interface StepContextInput {
  run: RunInfo;
  stepId: string;
  attempt: number;
  projectDir: string;
  workspaceDir: string;
  signal: AbortSignal;
  log: StepLogger;
  connection: DuckDBConnection;
  artifacts: Artifacts;
  /** Looks up a named connection with its secrets resolved; see StepContext.connection. */
  resolveConnection: (name: string, types?: readonly string[]) => ConnectionConfig;
  /** Where delivery steps record their messages (default: kept in memory only, see `memoryDeliveries`). */
  deliveries?: Deliveries;
  /** Earlier runs of the pipeline (default: none, previousOutputs() gives undefined). */
  history?: StepHistory;
  /** The data-load ledger (default: kept in memory only). */
  loads?: DataLoads;
  /** This step's incremental mark (default: in memory, nothing committed). */
  incremental?: IncrementalMarks;
  now?: () => Date;
}

/** A deliveries ledger that only collects reports in a list (tests, contexts without a store). */
export function memoryDeliveries(
  into: DeliveryReport[] = [],
  redact: (text: string) => string = (text) => text,
): Deliveries {
  return {
    record(delivery) {
      const masked: DeliveryReport = { ...delivery, target: redact(delivery.target) };
      if (delivery.subject !== undefined) masked.subject = redact(delivery.subject);
      if (delivery.error !== undefined) masked.error = redact(delivery.error);
      into.push(masked);
      return Promise.resolve();
    },
  };
}

const NO_HISTORY: StepHistory = { previousOutputs: () => Promise.resolve(undefined) };

export function createStepContext(input: StepContextInput): StepContext {
  return {
    run: input.run,
    stepId: input.stepId,
    attempt: input.attempt,
    projectDir: input.projectDir,
    workspaceDir: input.workspaceDir,
    signal: input.signal,
    log: input.log,
    datasets: createDatasets(input.connection, input.stepId),
    artifacts: input.artifacts,
    deliveries: input.deliveries ?? memoryDeliveries(),
    history: input.history ?? NO_HISTORY,
    loads: input.loads ?? memoryDataLoads(),
    incremental: input.incremental ?? memoryIncremental(input.stepId, new Map(), new Map()),
    now: input.now ?? (() => new Date()),
    resolvePath: (path) => (isAbsolute(path) ? path : resolve(input.projectDir, path)),
    connection: (name, types) => input.resolveConnection(name, types),
  };
}
