/**
 * Pipeline validation: YAML text in, either a typed spec with its plan or every problem at once.
 * Fixing one error per run is the slowest way to learn a schema, so each check runs on whatever
 * parts of the document are well-formed, independent of the others, and all issues come back sorted
 * by position, each with file:line:column, the field path, what was expected and a hint.
 */
import type { SourceLocation, SpecIssue } from '../errors/pw-error.js';
import { SpecError } from '../errors/pw-error.js';
import type { StepRegistry } from '../../steps/registry.js';
import { pipelineSchema, type PipelineSpec } from './pipeline-schema.js';
import { readYaml } from './parse-yaml.js';
import { isPlainObject, type FieldPath } from './paths.js';
import { IssueList } from './issue-list.js';
import { checkDocument } from './check-document.js';
import { checkSteps } from './check-steps.js';
import { planFromSteps, type Plan, type PlanStepInput } from './plan.js';

export { isUserModule } from './check-steps.js';

export interface ValidateOptions {
  /** The id the file name implies (`pipelines/daily.yaml` → `daily`). */
  expectedId?: string | undefined;
  /** Used to check `schedule.cron` when the schedule has no time zone of its own. */
  projectTimezone?: string | undefined;
}

export interface ValidPipeline {
  file: string;
  /** The parsed definition with defaults applied; frozen. */
  spec: PipelineSpec;
  /** Steps in execution order, with their parsed (frozen) step configs. */
  plan: Plan;
  /** Where a field is in the file, e.g. `locate(['steps', 2])` for a step's error messages. */
  locate: (path: FieldPath) => SourceLocation;
}

export type PipelineValidation = ({ ok: true } & ValidPipeline) | { ok: false; issues: SpecIssue[] };

interface Collected {
  issues: IssueList;
  steps: PlanStepInput[];
  spec: PipelineSpec | undefined;
}

function collect(text: string, file: string, registry: StepRegistry, options: ValidateOptions): Collected {
  const yaml = readYaml(text, file);
  const issues = new IssueList(file, yaml.locate);
  issues.list.push(...yaml.issues);
  const document = yaml.value;
  if (yaml.fatal) return { issues, steps: [], spec: undefined };
  if (document === null || document === undefined) {
    issues.add('PW_SPEC_TYPE', [], 'The pipeline file is empty', {
      expected: 'a pipeline definition with at least id and steps',
      hint: 'A pipeline needs `id:` and a list of `steps:`, each with an `id:` and `uses:`.',
    });
    return { issues, steps: [], spec: undefined };
  }
  const base = pipelineSchema.safeParse(document);
  if (!base.success) issues.zod(base.error.issues, document, [], pipelineSchema);
  if (!isPlainObject(document)) return { issues, steps: [], spec: undefined };
  checkDocument(document, issues, options);
  const steps = checkSteps(document, registry, issues);
  return { issues, steps, spec: base.success ? base.data : undefined };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Validates a pipeline file and reports every problem found, sorted by line. Never throws for bad input. */
export function validatePipeline(
  text: string,
  file: string,
  registry: StepRegistry,
  options: ValidateOptions = {},
): PipelineValidation {
  const { issues, steps, spec } = collect(text, file, registry, options);
  const sorted = issues.sorted();
  if (sorted.length > 0 || spec === undefined) return { ok: false, issues: sorted };
  const plan = planFromSteps(steps);
  for (const node of plan.nodes) deepFreeze(node.config);
  const locate = issues.locate;
  return { ok: true, file, spec: deepFreeze(spec), plan, locate: (path) => ({ file, ...locate(path) }) };
}

/** Like validatePipeline, but throws a SpecError carrying every issue. */
export function parsePipeline(
  text: string,
  file: string,
  registry: StepRegistry,
  options: ValidateOptions = {},
): ValidPipeline {
  const result = validatePipeline(text, file, registry, options);
  if (!result.ok) throw new SpecError(result.issues);
  return { file: result.file, spec: result.spec, plan: result.plan, locate: result.locate };
}
