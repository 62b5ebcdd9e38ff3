/**
 * Runs read through the REST API: pages of the history, and the lookup of a run by id or unique prefix.
 * The API knows exact ids only, so a prefix is matched against the server's most recent runs
 * (PREFIX_SCAN of them, newest first); an older run needs its full id.
 */
import { PwError } from '../../core/errors/pw-error.js';
import type { RunDetailJson, RunJson } from '../json-output.js';
import { resolveRun, type RunLookup } from '../resolve-run.js';
import type { ApiClient } from './api-client.js';

export const PREFIX_SCAN = 2000;
const PAGE_MAX = 500;
const FULL_RUN_ID = /^\d{8}-\d{6}-[0-9a-z]{6}$/;

interface RunPage {
  runs: RunJson[];
  next: string | null;
}

export const runPath = (id: string) => `/api/runs/${encodeURIComponent(id)}`;

/** Newest first, like the store's listRuns; pages through the API for more than it sends at once. */
export async function listRemoteRuns(
  client: ApiClient,
  filter: { pipeline?: string | undefined; status?: string | undefined; limit: number },
): Promise<RunJson[]> {
  const runs: RunJson[] = [];
  let cursor: string | undefined;
  while (runs.length < filter.limit) {
    const page = await client.get<RunPage>('/api/runs', {
      pipeline: filter.pipeline,
      status: filter.status,
      limit: Math.min(PAGE_MAX, filter.limit - runs.length),
      cursor,
    });
    runs.push(...page.runs);
    if (page.next === null || page.runs.length === 0) break;
    cursor = page.next;
  }
  return runs.slice(0, filter.limit);
}

export function remoteRunLookup(client: ApiClient): RunLookup<RunDetailJson> {
  const getRun = async (id: string): Promise<RunDetailJson | undefined> => {
    try {
      return await client.get<RunDetailJson>(runPath(id));
    } catch (error) {
      if (error instanceof PwError && error.code === 'PW_RUN_NOT_FOUND') return undefined;
      throw error;
    }
  };
  return {
    getRun,
    async findRunsByIdPrefix(prefix, limit) {
      if (prefix === '' || FULL_RUN_ID.test(prefix)) return [];
      const recent = await listRemoteRuns(client, { limit: PREFIX_SCAN });
      const ids = recent.filter((run) => run.id.startsWith(prefix)).slice(0, limit);
      // The detail of the one match, as getRun answers it; several are only listed.
      if (ids.length !== 1) return ids.map((run) => ({ ...run, steps: [], artifacts: [], deliveries: [] }));
      const only = await getRun(ids[0]?.id ?? '');
      return only === undefined ? [] : [only];
    },
  };
}

/** A run of the server by id or unique prefix, with its steps and artifacts. */
export function resolveRemoteRun(client: ApiClient, idOrPrefix: string): Promise<RunDetailJson> {
  return resolveRun(
    remoteRunLookup(client),
    idOrPrefix,
    FULL_RUN_ID.test(idOrPrefix)
      ? undefined
      : `List runs with \`pipewright runs\`. Against a server, a prefix is matched among its ${PREFIX_SCAN} most recent runs; give an older run's full id.`,
  );
}
