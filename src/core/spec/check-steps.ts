/**
 * Checks on the steps of a pipeline: unique ids, known step types (with a suggestion for a typo),
 * each `with:` block against its step type's own schema, `needs` and read datasets that name real
 * steps, and no dependency cycles. A step type's `inputs()` only runs on a config that parsed, since
 * it is written against the parsed config type.
 */
import type { AnyStepDefinition } from '../step.js';
import type { StepRegistry } from '../../steps/registry.js';
import { checkStepTemplates, templateStepRefs } from './check-templates.js';
import { isPlainObject, type FieldPath } from './paths.js';
import { didYouMean, listQuoted } from './hints.js';
import type { IssueList } from './issue-list.js';
import { findCycles, graphNodes, stepInputs, type PlanStepInput } from './plan.js';

/** What the checks learnt about one step, from the raw document. */
interface StepFacts {
  index: number;
  raw: Record<string, unknown>;
  id: string | undefined;
  uses: string | undefined;
  definition: AnyStepDefinition | undefined;
  config: unknown;
  configOk: boolean;
  inputs: string[];
}

export function isUserModule(uses: string): boolean {
  return uses.startsWith('./') || uses.startsWith('../');
}

/** The first place in a step's `with:` block that mentions a name, to point a reference error at it. */
function findMention(value: unknown, path: FieldPath, name: string): FieldPath | undefined {
  const word = new RegExp(`(^|[^A-Za-z0-9_])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9_])`);
  let partial: FieldPath | undefined;
  const walk = (node: unknown, at: FieldPath): FieldPath | undefined => {
    if (typeof node === 'string') {
      if (node === name) return at;
      if (partial === undefined && word.test(node)) partial = at;
      return undefined;
    }
    const entries: [string | number, unknown][] = Array.isArray(node)
      ? node.map((item, index) => [index, item])
      : isPlainObject(node)
        ? Object.entries(node)
        : [];
    for (const [key, child] of entries) {
      const hit = walk(child, [...at, key]);
      if (hit !== undefined) return hit;
    }
    return undefined;
  };
  return walk(value, path) ?? partial;
}

/** The `with:` block without a step type's raw fields, which hold the step's own templates. */
function withoutRawFields(value: unknown, rawFields: readonly string[] | undefined): unknown {
  if (rawFields === undefined || rawFields.length === 0 || !isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !rawFields.includes(key)));
}

function checkStep(facts: StepFacts, registry: StepRegistry, document: unknown, issues: IssueList): void {
  const { index, raw, uses } = facts;
  if (uses === undefined) return;
  facts.definition = registry.get(uses);
  if (facts.definition === undefined) {
    if (isUserModule(uses)) return;
    const types = registry.types();
    const suggestion = didYouMean(uses, types);
    let hint =
      suggestion !== undefined
        ? `did you mean '${suggestion}'?`
        : types.length > 0
          ? `Available step types: ${types.join(', ')}.`
          : 'No step types are registered.';
    if (suggestion === undefined && /\.(m?js|ts)$/.test(uses))
      hint = `A module of your own is written as a path relative to the project folder: './${uses.replace(/^\/+/, '')}'.`;
    issues.add('PW_SPEC_UNKNOWN_STEP_TYPE', ['steps', index, 'uses'], `Unknown step type '${uses}'`, {
      expected: 'a registered step type, or a module path starting with ./',
      found: `'${uses}'`,
      hint,
    });
    return;
  }
  const withValue = raw['with'];
  if (withValue !== undefined && !isPlainObject(withValue)) return;
  const parsed = facts.definition.config.safeParse(withValue ?? {});
  if (parsed.success) {
    facts.config = parsed.data;
    facts.configOk = true;
  } else {
    issues.zod(parsed.error.issues, document, ['steps', index, 'with'], facts.definition.config);
  }
}

function checkInputs(facts: StepFacts, ids: readonly string[], issues: IssueList): void {
  const { definition, index, id, raw, uses } = facts;
  if (definition === undefined || !facts.configOk || id === undefined) return;
  const others = ids.filter((other) => other !== id);
  let inputs: unknown;
  try {
    inputs = stepInputs(definition, facts.config, others);
  } catch (error) {
    inputs = error;
  }
  if (!Array.isArray(inputs) || inputs.some((entry) => typeof entry !== 'string')) {
    const reason =
      inputs instanceof Error ? `: ${inputs.message}` : ' (inputs() must return a list of step ids)';
    issues.add(
      uses !== undefined && isUserModule(uses) ? 'PW_STEP_MODULE_INVALID' : 'PW_INTERNAL',
      ['steps', index, 'with'],
      `Step type '${uses}' could not list the datasets step '${id}' reads${reason}`,
    );
    return;
  }
  facts.inputs = inputs as string[];
  for (const name of new Set(facts.inputs)) {
    if (others.includes(name)) continue;
    const path = findMention(raw['with'], ['steps', index, 'with'], name) ?? ['steps', index, 'with'];
    const suggestion = didYouMean(name, others);
    issues.add(
      'PW_SPEC_UNKNOWN_STEP_REF',
      path,
      name === id
        ? `Step '${id}' reads its own dataset`
        : `Step '${id}' reads dataset '${name}', but no step has that id`,
      {
        expected: others.length > 0 ? `one of ${listQuoted(others)}` : 'the id of another step',
        found: `'${name}'`,
        hint:
          suggestion !== undefined
            ? `did you mean '${suggestion}'?`
            : 'Each step writes a dataset named after its id; read one of those.',
      },
    );
  }
}

function checkNeeds(facts: StepFacts, ids: readonly string[], issues: IssueList): void {
  const needs = facts.raw['needs'];
  if (!Array.isArray(needs)) return;
  const others = ids.filter((other) => other !== facts.id);
  needs.forEach((name, k) => {
    if (typeof name !== 'string' || ids.includes(name)) return;
    const suggestion = didYouMean(name, others);
    issues.add(
      'PW_SPEC_UNKNOWN_STEP_REF',
      ['steps', facts.index, 'needs', k],
      `Step '${facts.id ?? facts.index}' needs '${name}', but no step has that id`,
      {
        expected: others.length > 0 ? `one of ${listQuoted(others)}` : 'the id of another step',
        found: `'${name}'`,
        hint:
          suggestion !== undefined
            ? `did you mean '${suggestion}'?`
            : 'Use the id of a step defined in this pipeline.',
      },
    );
  });
}

function checkCycles(
  steps: readonly StepFacts[],
  graphSteps: readonly PlanStepInput[],
  issues: IssueList,
): void {
  const nodes = graphNodes(graphSteps);
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const factsById = new Map(
    steps.filter((facts) => facts.id !== undefined).map((facts) => [facts.id!, facts]),
  );
  for (const cycle of findCycles(nodes)) {
    const [first, second] = [cycle[0]!, cycle[1]!];
    const reasons = cycle.slice(0, -1).map((from, k) => {
      const to = cycle[k + 1]!;
      return byId.get(from)?.needs.includes(to) ? `${from} needs ${to}` : `${from} reads ${to}`;
    });
    const facts = factsById.get(first)!;
    const needsIndex = Array.isArray(facts.raw['needs']) ? facts.raw['needs'].indexOf(second) : -1;
    const path: FieldPath =
      needsIndex >= 0
        ? ['steps', facts.index, 'needs', needsIndex]
        : (findMention(facts.raw['with'], ['steps', facts.index, 'with'], second) ?? ['steps', facts.index]);
    const hint =
      cycle.length === 2
        ? `A step cannot wait for itself; remove '${first}' from its own needs.`
        : `${reasons.join(', ')}; remove one of these dependencies so that the steps can run in order.`;
    issues.add('PW_SPEC_CYCLE', path, `Steps depend on each other in a cycle: ${cycle.join(' → ')}`, {
      hint,
    });
  }
}

/**
 * Checks every step (ids, types, configs, references, cycles) and returns the graph of the steps
 * whose id is usable, one node per id: a duplicate is reported once, not also as a cycle.
 */
export function checkSteps(
  document: Record<string, unknown>,
  registry: StepRegistry,
  issues: IssueList,
): PlanStepInput[] {
  const rawSteps = Array.isArray(document['steps']) ? document['steps'] : [];
  const steps: StepFacts[] = [];
  const firstIndex = new Map<string, number>();
  rawSteps.forEach((raw, index) => {
    if (!isPlainObject(raw)) return;
    const id = typeof raw['id'] === 'string' ? raw['id'] : undefined;
    const uses = typeof raw['uses'] === 'string' ? raw['uses'] : undefined;
    const facts: StepFacts = {
      index,
      raw,
      id,
      uses,
      definition: undefined,
      config: undefined,
      configOk: false,
      inputs: [],
    };
    if (id !== undefined) {
      const first = firstIndex.get(id);
      if (first === undefined) {
        firstIndex.set(id, index);
      } else {
        const line = issues.locate(['steps', first, 'id']).line;
        issues.add(
          'PW_SPEC_DUPLICATE_STEP',
          ['steps', index, 'id'],
          `Step id '${id}' is already used by the step on line ${line}`,
          {
            hint: "Rename one of the steps; a step's id is also the name of its output dataset.",
          },
        );
      }
    }
    checkStep(facts, registry, document, issues);
    steps.push(facts);
  });

  const ids = [...firstIndex.keys()];
  const params = isPlainObject(document['params']) ? Object.keys(document['params']) : [];
  for (const facts of steps) {
    checkNeeds(facts, ids, issues);
    checkInputs(facts, ids, issues);
    const templated = withoutRawFields(facts.raw['with'], facts.definition?.rawFields);
    checkStepTemplates(
      templated,
      ['steps', facts.index, 'with'],
      { stepId: facts.id, stepIds: ids, params },
      issues,
    );
    const readsResultsOf = templateStepRefs(templated).filter((ref) => ref !== facts.id && ids.includes(ref));
    facts.inputs = [...new Set([...facts.inputs, ...readsResultsOf])];
  }
  const graphSteps = steps
    .filter((facts) => facts.id !== undefined && firstIndex.get(facts.id) === facts.index)
    .map((facts): PlanStepInput => ({
      id: facts.id!,
      uses: facts.uses ?? '',
      needs: Array.isArray(facts.raw['needs'])
        ? facts.raw['needs'].filter((name): name is string => typeof name === 'string')
        : [],
      inputs: facts.inputs,
      config: facts.config,
    }));
  checkCycles(steps, graphSteps, issues);
  return graphSteps;
}
