/**
 * The execution plan: the pipeline's steps as a dependency graph in a deterministic order. A step
 * depends on the steps it `needs` and on the datasets its config reads (a step type's `inputs()`),
 * so `sql: select * from raw` runs after `raw` without anyone writing `needs: [raw]`. Ties are broken
 * by file order, so the same file always gives the same plan and the same logs.
 */
import { PwError } from '../errors/pw-error.js';
import type { AnyStepDefinition } from '../step.js';
import type { StepRegistry } from '../../steps/registry.js';
import type { PipelineSpec } from './pipeline-schema.js';
import { templateStepRefs } from './check-templates.js';

export interface PlanNode {
  id: string;
  uses: string;
  /** Position of the step in the file. */
  index: number;
  /** Explicit `needs`, deduplicated, limited to existing steps. */
  needs: string[];
  /** Steps whose datasets the config reads, as reported by the step type; never the step itself. */
  inputs: string[];
  /** `needs` ∪ `inputs`, in file order: the steps that must succeed before this one starts. */
  dependsOn: string[];
  /** The step config parsed by its type's schema (defaults applied); undefined for unknown types. */
  config: unknown;
}

export interface Plan {
  /** Every step, dependencies before dependents, otherwise in file order. */
  nodes: readonly PlanNode[];
  byId: ReadonlyMap<string, PlanNode>;
}

export interface PlanStepInput {
  id: string;
  uses: string;
  needs?: readonly string[] | undefined;
  inputs?: readonly string[] | undefined;
  config?: unknown;
}

/** Graph nodes in file order; references to unknown steps are dropped (validation reports them). */
export function graphNodes(steps: readonly PlanStepInput[]): PlanNode[] {
  const indexOf = new Map<string, number>();
  steps.forEach((step, index) => {
    if (!indexOf.has(step.id)) indexOf.set(step.id, index);
  });
  const known = (id: string): boolean => indexOf.has(id);
  return steps.map((step, index) => {
    const needs = [...new Set(step.needs ?? [])].filter(known);
    // A query may mention its own name (a column called like the step); that is not a dependency.
    const inputs = [...new Set(step.inputs ?? [])].filter((id) => known(id) && id !== step.id);
    const dependsOn = [...new Set([...needs, ...inputs])].sort((a, b) => indexOf.get(a)! - indexOf.get(b)!);
    return { id: step.id, uses: step.uses, index, needs, inputs, dependsOn, config: step.config };
  });
}

/**
 * Every cycle in the graph, one per strongly connected component, each written as the path that
 * closes it (`['a', 'b', 'a']`), starting at the earliest step in the file.
 */
export function findCycles(nodes: readonly Pick<PlanNode, 'id' | 'dependsOn'>[]): string[][] {
  const edges = new Map(nodes.map((node) => [node.id, node.dependsOn]));
  const order = new Map(nodes.map((node, index) => [node.id, index]));
  const components: string[][] = [];
  // Tarjan's algorithm; recursion depth is bounded by the number of steps in one file.
  const indexOf = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  let counter = 0;
  const connect = (id: string): void => {
    indexOf.set(id, counter);
    lowLink.set(id, counter);
    counter++;
    stack.push(id);
    onStack.add(id);
    for (const next of edges.get(id) ?? []) {
      if (!edges.has(next)) continue;
      if (!indexOf.has(next)) {
        connect(next);
        lowLink.set(id, Math.min(lowLink.get(id)!, lowLink.get(next)!));
      } else if (onStack.has(next)) {
        lowLink.set(id, Math.min(lowLink.get(id)!, indexOf.get(next)!));
      }
    }
    if (lowLink.get(id) === indexOf.get(id)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== id);
      components.push(component);
    }
  };
  for (const node of nodes) if (!indexOf.has(node.id)) connect(node.id);

  const cycles: string[][] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = [...component].sort((a, b) => order.get(a)! - order.get(b)!)[0]!;
    const selfLoop = (edges.get(start) ?? []).includes(start);
    if (component.length === 1 && !selfLoop) continue;
    if (selfLoop) {
      cycles.push([start, start]);
      continue;
    }
    // Shortest way back to the start inside the component: the clearest cycle to show.
    const previous = new Map<string, string>();
    const queue = [start];
    let closing: string | undefined;
    while (queue.length > 0 && closing === undefined) {
      const current = queue.shift()!;
      for (const next of edges.get(current) ?? []) {
        if (!members.has(next)) continue;
        if (next === start) {
          closing = current;
          break;
        }
        if (!previous.has(next)) {
          previous.set(next, current);
          queue.push(next);
        }
      }
    }
    const path = [start];
    for (let step = closing; step !== undefined && step !== start; step = previous.get(step))
      path.splice(1, 0, step);
    path.push(start);
    cycles.push(path);
  }
  return cycles.sort((a, b) => order.get(a[0]!)! - order.get(b[0]!)!);
}

/** Orders nodes so every step comes after what it depends on, keeping file order wherever possible. */
export function topologicalOrder(nodes: readonly PlanNode[]): PlanNode[] {
  const placed = new Set<string>();
  const ordered: PlanNode[] = [];
  const pending = [...nodes];
  while (pending.length > 0) {
    const next = pending.findIndex((node) => node.dependsOn.every((id) => placed.has(id)));
    if (next === -1) {
      const cycle = findCycles(nodes)[0] ?? pending.map((node) => node.id);
      throw new PwError('PW_SPEC_CYCLE', `Steps depend on each other in a cycle: ${cycle.join(' → ')}`, {
        hint: 'Remove one of the dependencies (a `needs` entry or a dataset the step reads).',
      });
    }
    const [node] = pending.splice(next, 1);
    placed.add(node!.id);
    ordered.push(node!);
  }
  return ordered;
}

export function planFromSteps(steps: readonly PlanStepInput[]): Plan {
  const nodes = topologicalOrder(graphNodes(steps));
  return { nodes, byId: new Map(nodes.map((node) => [node.id, node])) };
}

/** The datasets a step type says its config reads; `knownSteps` are the other steps of the pipeline. */
export function stepInputs(
  definition: AnyStepDefinition,
  config: unknown,
  knownSteps: readonly string[],
): string[] {
  return definition.inputs === undefined ? [] : definition.inputs(config, knownSteps);
}

/**
 * Builds the plan of an already validated pipeline. Step configs are parsed again here so the plan
 * is usable on its own; a config that does not parse contributes no inferred inputs.
 */
export function buildPlan(spec: PipelineSpec, registry: StepRegistry): Plan {
  const ids = spec.steps.map((step) => step.id);
  return planFromSteps(
    spec.steps.map((step) => {
      const definition = registry.get(step.uses);
      const parsed = definition?.config.safeParse(step.with ?? {});
      const config: unknown = parsed?.success === true ? parsed.data : undefined;
      const others = ids.filter((id) => id !== step.id);
      const inputs = [
        ...(definition !== undefined && parsed?.success === true
          ? stepInputs(definition, config, others)
          : []),
        ...templateStepRefs(step.with).filter((ref) => others.includes(ref)),
      ];
      return { id: step.id, uses: step.uses, needs: step.needs, inputs, config };
    }),
  );
}

/** Steps that may start now: not done, not running, and everything they depend on is done. */
export function readyNodes(plan: Plan, done: ReadonlySet<string>, running: ReadonlySet<string>): PlanNode[] {
  return plan.nodes.filter(
    (node) => !done.has(node.id) && !running.has(node.id) && node.dependsOn.every((id) => done.has(id)),
  );
}

/** Every step that depends, directly or not, on one of `ids`: what to skip when those fail. */
export function dependentsOf(plan: Plan, ids: Iterable<string>): Set<string> {
  const affected = new Set<string>();
  const failed = new Set(ids);
  // Plan order puts dependencies first, so one pass sees every upstream decision already made.
  for (const node of plan.nodes) {
    if (node.dependsOn.some((id) => failed.has(id) || affected.has(id))) affected.add(node.id);
  }
  return affected;
}
