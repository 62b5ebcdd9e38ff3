/**
 * `pipewright retry <run>`: a failed or cancelled run is queued again (attempt + 1, error cleared);
 * the worker that claims it resumes it from its failed step when its workspace is reachable. Prints
 * the run id as the last line. Any other run is a usage error (exit 2).
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { resolveRun } from '../resolve-run.js';
import { retryRun } from '../../scheduler/run-control.js';

export async function retryCommand(globals: GlobalOptions, runId: string): Promise<number> {
  return withProjectStore(globals, async ({ store }) => {
    const run = await resolveRun(store, runId);
    const updated = await retryRun(store, run);
    process.stdout.write(
      [
        `Queued run ${updated.id} (${updated.pipelineId}) again as attempt ${updated.attempt}; \`pipewright serve\` or a \`pipewright worker\` resumes it from its failed step.`,
        `Follow it with: pipewright show ${updated.id}`,
        updated.id,
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  });
}
