/**
 * The steps of a stored pipeline definition as the UI draws them: id, type and the steps each one
 * waits for — its explicit `needs` and the datasets its config reads, as the execution plan infers
 * them (core/spec/plan.ts), in plan order. Falls back to the explicit `needs` when the definition cannot
 * be planned (an old revision of a step type that changed since).
 */
import { buildPlan } from '../core/spec/plan.js';
import type { PipelineSpec } from '../core/spec/pipeline-schema.js';
import { builtinRegistry } from '../steps/builtin.js';
import type { StepRegistry } from '../steps/registry.js';

export interface GraphStep {
  id: string;
  type: string;
  needs: string[];
}

let registry: StepRegistry | undefined;

export function stepGraph(definition: unknown): GraphStep[] {
  const spec = definition as Partial<PipelineSpec> | undefined;
  if (spec === undefined || spec === null || !Array.isArray(spec.steps)) return [];
  try {
    registry ??= builtinRegistry();
    return buildPlan(spec as PipelineSpec, registry).nodes.map((node) => ({
      id: node.id,
      type: node.uses,
      needs: node.dependsOn,
    }));
  } catch {
    return spec.steps.map((step) => ({ id: step.id, type: step.uses, needs: step.needs ?? [] }));
  }
}
