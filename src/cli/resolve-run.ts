/**
 * Finds a run by id or by a unique prefix of its id, as git does with commits: in the state store, or
 * through the REST API of a server (src/cli/remote/remote-runs.ts), which is looked up the same way.
 */
import { PwError } from '../core/errors/pw-error.js';

/** Where runs are looked up: a StateStore is one. */
export interface RunLookup<R extends { id: string }> {
  getRun(id: string): Promise<R | undefined>;
  findRunsByIdPrefix(prefix: string, limit: number): Promise<R[]>;
}

export async function resolveRun<R extends { id: string }>(
  lookup: RunLookup<R>,
  idOrPrefix: string,
  notFoundHint = 'List runs with `pipewright runs`.',
): Promise<R> {
  const exact = await lookup.getRun(idOrPrefix);
  if (exact) return exact;
  const matches = await lookup.findRunsByIdPrefix(idOrPrefix, 6);
  if (matches.length === 1) return matches[0] as R;
  if (matches.length === 0) {
    throw new PwError('PW_RUN_NOT_FOUND', `No run has an id starting with '${idOrPrefix}'`, {
      hint: notFoundHint,
    });
  }
  throw new PwError(
    'PW_USAGE',
    `'${idOrPrefix}' matches several runs: ${matches
      .slice(0, 5)
      .map((run) => run.id)
      .join(', ')}`,
    {
      hint: 'Type more characters of the run id.',
    },
  );
}
