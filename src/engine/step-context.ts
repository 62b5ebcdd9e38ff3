/** Builds the context a step runs with: the only door from a step to the world. */
import { isAbsolute, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Artifacts, ConnectionConfig, RunInfo, StepContext, StepLogger } from '../core/step.js';
import { createDatasets } from './datasets.js';

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
  now?: () => Date;
}

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
    now: input.now ?? (() => new Date()),
    resolvePath: (path) => (isAbsolute(path) ? path : resolve(input.projectDir, path)),
    connection: (name, types) => input.resolveConnection(name, types),
  };
}
