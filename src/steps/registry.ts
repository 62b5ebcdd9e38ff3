/**
 * The step-type registry: an explicit list, so what is built in is visible in one place. A duplicate
 * type is a start-up error. User-written modules (`uses: ./steps/x.js`) are added per project by the
 * loader in src/project/.
 */
import type { AnyStepDefinition } from '../core/step.js';
import { PwError } from '../core/errors/pw-error.js';

export class StepRegistry {
  readonly #definitions = new Map<string, AnyStepDefinition>();

  constructor(definitions: readonly AnyStepDefinition[] = []) {
    for (const definition of definitions) this.add(definition);
  }

  add(definition: AnyStepDefinition): void {
    if (this.#definitions.has(definition.type)) {
      throw new PwError('PW_INTERNAL', `Step type '${definition.type}' is registered twice`, {
        hint: 'Each step type must have a unique name; rename one of them.',
      });
    }
    this.#definitions.set(definition.type, definition);
  }

  get(type: string): AnyStepDefinition | undefined {
    return this.#definitions.get(type);
  }

  types(): string[] {
    return [...this.#definitions.keys()].sort();
  }

  /** A copy that can take project-specific modules without touching the built-in list. */
  extend(definitions: readonly AnyStepDefinition[]): StepRegistry {
    return new StepRegistry([...this.#definitions.values(), ...definitions]);
  }
}
