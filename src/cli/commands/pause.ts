/**
 * `pipewright pause <pipeline>`: the scheduler queues no runs for the pipeline until it is resumed.
 * Runs already queued or running go on, and manual triggers still run.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { knownPipelineId } from './resume.js';
import { connect } from '../remote/connection.js';
import { pipelinePath, type PipelineJson } from '../remote/remote-pipelines.js';

export async function pauseCommand(globals: GlobalOptions, pipelineId: string): Promise<number> {
  const client = await connect(globals);
  const { id, wasPaused } = client
    ? await (async () => {
        const before = await client.get<PipelineJson>(pipelinePath(pipelineId));
        await client.post<PipelineJson>(`${pipelinePath(before.id)}/pause`);
        return { id: before.id, wasPaused: before.paused };
      })()
    : await withProjectStore(globals, async ({ project, store }) => {
        const known = await knownPipelineId(project, store, pipelineId);
        const paused = (await store.getPipelineState(known))?.paused === true;
        await store.setPipelinePaused(known, true);
        return { id: known, wasPaused: paused };
      });
  process.stdout.write(
    `${wasPaused ? `${id} was already paused` : `Paused ${id}`}: its schedule queues no runs until \`pipewright resume ${id}\`.\n` +
      'Runs already queued or running go on; `pipewright trigger` still works.\n',
  );
  return EXIT.ok;
}
