/**
 * `pipewright retry <run>`: a failed or cancelled run is queued again (attempt + 1, error cleared);
 * the worker that claims it resumes it from its failed step when its workspace is reachable. Prints
 * the run id as the last line. Any other run is a usage error (exit 2). Against a server, the same
 * through its REST API, which retries with the same function.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { resolveRun } from '../resolve-run.js';
import { retryRun } from '../../scheduler/run-control.js';
import type { RunJson } from '../json-output.js';
import { connect } from '../remote/connection.js';
import { resolveRemoteRun, runPath } from '../remote/remote-runs.js';

export async function retryCommand(globals: GlobalOptions, runId: string): Promise<number> {
  const client = await connect(globals);
  const updated = client
    ? await client.post<RunJson>(`${runPath((await resolveRemoteRun(client, runId)).id)}/retry`)
    : await withProjectStore(globals, async ({ store }) => {
        const run = await retryRun(store, await resolveRun(store, runId));
        return { id: run.id, pipeline: run.pipelineId, attempt: run.attempt };
      });
  process.stdout.write(
    [
      `Queued run ${updated.id} (${updated.pipeline}) again as attempt ${updated.attempt}; \`pipewright serve\` or a \`pipewright worker\` resumes it from its failed step.`,
      `Follow it with: pipewright show ${updated.id}`,
      updated.id,
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}
