/**
 * Small step types for the spec tests: just enough config and `inputs()` behaviour to exercise
 * validation, planning and schema generation without the real built-in steps.
 */
import { z } from 'zod';
import { defineStep } from '../step.js';
import { StepRegistry } from '../../steps/registry.js';
import { durationSchema } from './pipeline-schema.js';

const noRun = async () => ({});

export const fakeFilesRead = defineStep({
  type: 'files.read',
  kind: 'extract',
  description: 'Reads a file into a dataset.',
  config: z.strictObject({ path: z.string(), format: z.enum(['csv', 'json']).default('csv') }),
  run: noRun,
});

/** Reads every known step whose id appears as a word in the query, as the real sql step does. */
export const fakeSql = defineStep({
  type: 'sql',
  kind: 'transform',
  description: 'Runs SQL over the datasets.',
  config: z.strictObject({ query: z.string() }),
  inputs: (config, knownSteps) => knownSteps.filter((id) => new RegExp(`\\b${id}\\b`).test(config.query)),
  run: noRun,
});

/** Names its input explicitly, so it can name a step that does not exist. */
export const fakeCheck = defineStep({
  type: 'check',
  kind: 'transform',
  description: 'Checks a dataset.',
  config: z.strictObject({
    dataset: z.string(),
    min_rows: z.int().min(0).optional(),
    wait: durationSchema.optional(),
  }),
  inputs: (config) => [config.dataset],
  run: noRun,
});

export const fakeUserModule = defineStep({
  type: './steps/custom.js',
  kind: 'custom',
  description: 'A user-written step.',
  config: z.strictObject({ level: z.int() }),
  run: noRun,
});

export function fakeRegistry(): StepRegistry {
  return new StepRegistry([fakeFilesRead, fakeSql, fakeCheck, fakeUserModule]);
}
