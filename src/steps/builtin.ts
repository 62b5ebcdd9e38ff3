/** The built-in step types, as one explicit list. */
import { StepRegistry } from './registry.js';
import { filesReadStep } from './extract/files-read.js';
import { sqlStep } from './transform/sql.js';
import { checkStep } from './transform/check.js';
import { filesWriteStep } from './load/files-write.js';
import { chartStep } from './report/chart.js';

export function builtinRegistry(): StepRegistry {
  return new StepRegistry([filesReadStep, sqlStep, checkStep, filesWriteStep, chartStep]);
}
