/**
 * Static checks of the templates inside step configs, so `validate` catches what would otherwise
 * only fail when the step runs: syntax errors, unknown top-level names, undeclared params and
 * references to steps that do not exist. A template that reads `steps.<id>` also makes the step
 * depend on `<id>`, since that step's results must exist before this one renders.
 */
import { PwError } from '../errors/pw-error.js';
import { checkTemplateSyntax, hasTemplate, templateVariables } from '../template/render.js';
import { didYouMean, listQuoted } from './hints.js';
import type { IssueList } from './issue-list.js';
import { isPlainObject, type FieldPath } from './paths.js';

/** Names a template may start from; see src/core/template/render.ts for the scope itself. */
const ROOTS = ['params', 'run', 'steps', 'trigger'] as const;

function* strings(value: unknown, path: FieldPath): Generator<[string, FieldPath]> {
  if (typeof value === 'string') yield [value, path];
  else if (Array.isArray(value))
    for (const [index, item] of value.entries()) yield* strings(item, [...path, index]);
  else if (isPlainObject(value))
    for (const [key, item] of Object.entries(value)) yield* strings(item, [...path, key]);
}

/** Splits `steps.hourly.rows` or `steps["hourly"].rows` into its segments. */
function segments(variable: string): string[] {
  return [...variable.matchAll(/[^.[\]"']+/g)].map((match) => match[0]);
}

/** Step ids a config's templates read through `steps.<id>`; templates that do not parse add none. */
export function templateStepRefs(config: unknown): string[] {
  const found = new Set<string>();
  for (const [text] of strings(config, [])) {
    if (!hasTemplate(text)) continue;
    try {
      for (const variable of templateVariables(text)) {
        const [root, id] = segments(variable);
        if (root === 'steps' && id !== undefined) found.add(id);
      }
    } catch {
      // Syntax problems are reported by checkStepTemplates.
    }
  }
  return [...found];
}

export function checkStepTemplates(
  config: unknown,
  at: FieldPath,
  context: { stepId: string | undefined; stepIds: readonly string[]; params: readonly string[] },
  issues: IssueList,
): void {
  for (const [text, path] of strings(config, at)) {
    if (!hasTemplate(text)) continue;
    try {
      checkTemplateSyntax(text);
    } catch (error) {
      const pw = error instanceof PwError ? error : undefined;
      issues.add('PW_SPEC_TEMPLATE', path, pw?.message ?? String(error), { hint: pw?.hint });
      continue;
    }
    for (const variable of new Set(templateVariables(text))) {
      const [root, name] = segments(variable);
      if (root === undefined) continue;
      if (!(ROOTS as readonly string[]).includes(root)) {
        const suggestion = didYouMean(root, ROOTS);
        issues.add('PW_TEMPLATE_UNKNOWN_VARIABLE', path, `Template variable '${variable}' does not exist`, {
          expected: `a name under ${listQuoted([...ROOTS])}`,
          found: `'${root}'`,
          hint: suggestion
            ? `did you mean '${suggestion}'?`
            : 'Templates read params, run, steps and trigger.',
        });
      } else if (root === 'params' && name !== undefined && !context.params.includes(name)) {
        const suggestion = didYouMean(name, context.params);
        issues.add(
          'PW_TEMPLATE_UNKNOWN_VARIABLE',
          path,
          `Template reads params.${name}, but the pipeline declares no such parameter`,
          {
            expected:
              context.params.length > 0
                ? `one of ${listQuoted(context.params)}`
                : 'a parameter declared under params:',
            found: `'${name}'`,
            hint: suggestion
              ? `did you mean '${suggestion}'?`
              : 'Declare it under `params:` at the top of the pipeline.',
          },
        );
      } else if (
        root === 'steps' &&
        name !== undefined &&
        (name === context.stepId || !context.stepIds.includes(name))
      ) {
        const others = context.stepIds.filter((id) => id !== context.stepId);
        const suggestion = didYouMean(name, others);
        issues.add(
          'PW_SPEC_UNKNOWN_STEP_REF',
          path,
          name === context.stepId
            ? `Step '${name}' reads its own results in a template`
            : `Template reads steps.${name}, but no step has that id`,
          {
            expected: others.length > 0 ? `one of ${listQuoted(others)}` : 'the id of another step',
            found: `'${name}'`,
            hint: suggestion
              ? `did you mean '${suggestion}'?`
              : "A step's results exist once it has run; read an earlier step's.",
          },
        );
      }
    }
  }
}
