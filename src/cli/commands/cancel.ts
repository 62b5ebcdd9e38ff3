/**
 * `pipewright cancel <run>`: a queued run is cancelled at once; a running one is asked to stop and its
 * worker aborts the running steps within seconds. Prints the run's resulting status; an unknown or
 * finished run is a usage error (exit 2). Against a server, the same through its REST API.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { resolveRun } from '../resolve-run.js';
import { alreadyFinished, cancelRun, isFinished } from '../../scheduler/run-control.js';
import type { RunStatus } from '../../store/state-store.js';
import type { RunJson } from '../json-output.js';
import { connect } from '../remote/connection.js';
import { resolveRemoteRun, runPath } from '../remote/remote-runs.js';

export async function cancelCommand(globals: GlobalOptions, runId: string): Promise<number> {
  const client = await connect(globals);
  const updated: { id: string; pipeline: string; status: RunStatus } = client
    ? await (async () => {
        const run = await resolveRemoteRun(client, runId);
        // The API leaves a finished run as it is and answers it; the CLI refuses, as cancelRun does.
        if (isFinished(run.status)) throw alreadyFinished(run);
        return client.post<RunJson>(`${runPath(run.id)}/cancel`);
      })()
    : await withProjectStore(globals, async ({ store }) => {
        const run = await cancelRun(store, await resolveRun(store, runId), new Date());
        return { id: run.id, pipeline: run.pipelineId, status: run.status };
      });
  process.stdout.write(
    updated.status === 'cancelled'
      ? `Cancelled run ${updated.id} (${updated.pipeline}) before it started.\ncancelled\n`
      : `Asked the worker of run ${updated.id} (${updated.pipeline}) to stop it; it ends cancelled within seconds.\n` +
          `Follow it with: pipewright show ${updated.id}\n${updated.status} (cancel requested)\n`,
  );
  return EXIT.ok;
}
