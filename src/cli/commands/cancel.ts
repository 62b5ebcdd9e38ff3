/**
 * `pipewright cancel <run>`: a queued run is cancelled at once; a running one is asked to stop and its
 * worker aborts the running steps within seconds. Prints the run's resulting status; an unknown or
 * finished run is a usage error (exit 2).
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { resolveRun } from '../resolve-run.js';
import { cancelRun } from '../../scheduler/run-control.js';

export async function cancelCommand(globals: GlobalOptions, runId: string): Promise<number> {
  return withProjectStore(globals, async ({ store }) => {
    const run = await resolveRun(store, runId);
    const updated = await cancelRun(store, run, new Date());
    process.stdout.write(
      updated.status === 'cancelled'
        ? `Cancelled run ${updated.id} (${updated.pipelineId}) before it started.\ncancelled\n`
        : `Asked the worker of run ${updated.id} (${updated.pipelineId}) to stop it; it ends cancelled within seconds.\n` +
            `Follow it with: pipewright show ${updated.id}\n${updated.status} (cancel requested)\n`,
    );
    return EXIT.ok;
  });
}
