/**
 * User-written steps: `uses: ./steps/enrich.js` names a local module (relative to the project
 * folder) whose default export is a step definition made with `defineStep`, exactly like the
 * built-in ones. Modules are imported before validation so their config schemas validate `with:`.
 */
import { access } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { asStepDefinition, type AnyStepDefinition } from '../core/step.js';
import { PwError } from '../core/errors/pw-error.js';

export function isModuleReference(uses: string): boolean {
  return uses.startsWith('./') || uses.startsWith('../') || isAbsolute(uses);
}

/** Collects `uses:` values that name modules from a parsed-but-unvalidated pipeline document. */
export function moduleReferences(document: unknown): string[] {
  const steps = (document as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) return [];
  const found = new Set<string>();
  for (const step of steps) {
    const uses = (step as { uses?: unknown } | null)?.uses;
    if (typeof uses === 'string' && isModuleReference(uses)) found.add(uses);
  }
  return [...found];
}

export async function loadUserStep(
  projectDir: string,
  uses: string,
  referencedFrom: string,
): Promise<AnyStepDefinition> {
  const path = resolve(projectDir, uses);
  try {
    await access(path);
  } catch {
    throw new PwError('PW_STEP_MODULE_INVALID', `Step module ${uses} does not exist (looked for ${path})`, {
      location: { file: referencedFrom },
      hint: 'Module paths are relative to the project folder; compile TypeScript steps to .js first.',
    });
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new PwError(
      'PW_STEP_MODULE_INVALID',
      `Step module ${uses} failed to load: ${(cause as Error).message}`,
      {
        cause,
        location: { file: path },
        hint: 'Fix the error in the module; it must be an ES module (.js or .mjs) whose default export is a step.',
      },
    );
  }
  const definition = asStepDefinition(module.default ?? module.step);
  if (!definition) {
    throw new PwError('PW_STEP_MODULE_INVALID', `Step module ${uses} does not export a step definition`, {
      location: { file: path },
      expected:
        'export default { description, config: (z) => z.strictObject({...}), run(ctx, config) {...} }',
      found: `exports: ${Object.keys(module).join(', ') || 'none'}`,
      hint: 'See docs/reference/steps/custom.md for a complete example.',
    });
  }
  // Registered under the path the pipeline uses, so two projects' modules can never collide.
  return { ...definition, type: uses, kind: definition.kind ?? 'custom' };
}
