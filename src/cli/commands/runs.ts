/** `pipewright runs`: recent runs, newest first, from the store or from a server's REST API. */
import type { GlobalOptions } from '../main.js';
import { withProjectStore } from '../project-session.js';
import { EXIT } from '../exit-codes.js';
import { PwError } from '../../core/errors/pw-error.js';
import type { RunStatus } from '../../store/state-store.js';
import { styleFor } from '../style.js';
import { runToJson, type RunJson } from '../json-output.js';
import { renderRunsTable } from '../run-view.js';
import { connect } from '../remote/connection.js';
import { listRemoteRuns } from '../remote/remote-runs.js';

export async function runsCommand(
  globals: GlobalOptions,
  options: { pipeline?: string; status?: string; limit: string; json?: boolean },
): Promise<number> {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new PwError('PW_USAGE', `--limit expects a positive whole number, found '${options.limit}'`);
  }
  const client = await connect(globals);
  const runs: RunJson[] = client
    ? await listRemoteRuns(client, { pipeline: options.pipeline, status: options.status, limit })
    : await withProjectStore(globals, async ({ store }) =>
        (
          await store.listRuns({
            pipelineId: options.pipeline,
            status: options.status as RunStatus | undefined,
            limit,
          })
        ).map(runToJson),
      );
  if (options.json) {
    process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    return EXIT.ok;
  }
  if (runs.length === 0) {
    process.stdout.write('No runs yet. Start one with: pipewright run <pipeline>\n');
    return EXIT.ok;
  }
  process.stdout.write(renderRunsTable(runs, styleFor(process.stdout)));
  return EXIT.ok;
}
