/** Finds a run by id or by a unique prefix of its id, as git does with commits. */
import { PwError } from '../core/errors/pw-error.js';
import type { RunRecord, StateStore } from '../store/state-store.js';

export async function resolveRun(store: StateStore, idOrPrefix: string): Promise<RunRecord> {
  const exact = await store.getRun(idOrPrefix);
  if (exact) return exact;
  const matches = await store.findRunsByIdPrefix(idOrPrefix, 6);
  if (matches.length === 1) return matches[0] as RunRecord;
  if (matches.length === 0) {
    throw new PwError('PW_RUN_NOT_FOUND', `No run has an id starting with '${idOrPrefix}'`, {
      hint: 'List runs with `pipewright runs`.',
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
