/**
 * Named connections for steps: `ctx.connection('warehouse')` finds the entry in pipewright.yaml
 * `connections:`, checks its type, and returns it with its secret references resolved by the same
 * renderer as the step's own config (so the values are masked in logs and errors from then on).
 */
import { PwError } from '../core/errors/pw-error.js';
import { didYouMeanHint, listQuoted } from '../core/spec/hints.js';
import type { ConnectionConfig } from '../core/step.js';

export type ConnectionDefinitions = Readonly<Record<string, { type: string } & Record<string, unknown>>>;

export function resolveConnection(
  connections: ConnectionDefinitions,
  name: string,
  types: readonly string[] | undefined,
  render: (raw: unknown, path: string) => unknown,
): ConnectionConfig {
  const raw = Object.hasOwn(connections, name) ? connections[name] : undefined;
  const defined = Object.keys(connections);
  if (raw === undefined) {
    const suggestion = didYouMeanHint(name, defined);
    throw new PwError('PW_CONNECTION_UNKNOWN', `No connection named '${name}' in pipewright.yaml`, {
      path: `connections.${name}`,
      expected: defined.length > 0 ? `one of ${listQuoted(defined)}` : 'a connection under `connections:`',
      found: `'${name}'`,
      hint:
        suggestion !== undefined
          ? `${suggestion[0]?.toUpperCase()}${suggestion.slice(1)}`
          : `Define it in pipewright.yaml, e.g. connections: { ${name}: { type: ${types?.[0] ?? 'postgres'}, … } }.`,
    });
  }
  if (types !== undefined && !types.includes(raw.type)) {
    throw new PwError(
      'PW_CONNECTION_UNKNOWN',
      `Connection '${name}' has type '${raw.type}'; this step needs ${listQuoted(types)}`,
      {
        path: `connections.${name}.type`,
        expected: listQuoted(types),
        found: `'${raw.type}'`,
        hint: 'Name a connection of a type this step can use, or add one to pipewright.yaml.',
      },
    );
  }
  return render(raw, `connections.${name}`) as ConnectionConfig;
}
