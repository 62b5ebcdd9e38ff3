/**
 * The public API for user-written steps and embedding: `import { defineStep, z } from 'pipewright'`.
 * Re-exporting zod guarantees a step's schema comes from the same zod the engine validates with.
 */
export { z } from 'zod';
export { defineStep } from './core/step.js';
export type {
  StepContext,
  StepResult,
  StepDefinition,
  StepLogger,
  Datasets,
  Artifacts,
  RunInfo,
  Row,
  StepHistory,
  PreviousStepOutputs,
} from './core/step.js';
export { PwError } from './core/errors/pw-error.js';
export type { ErrorCode } from './core/errors/codes.js';
export { createStepHarness } from './testing/step-harness.js';
