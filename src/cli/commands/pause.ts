/**
 * `pipewright pause <pipeline>`: the scheduler queues no runs for the pipeline until it is resumed.
 * Runs already queued or running go on, and manual triggers still run.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { knownPipelineId } from './resume.js';

export async function pauseCommand(globals: GlobalOptions, pipelineId: string): Promise<number> {
  return withProjectStore(globals, async ({ project, store }) => {
    const id = await knownPipelineId(project, store, pipelineId);
    const wasPaused = (await store.getPipelineState(id))?.paused === true;
    await store.setPipelinePaused(id, true);
    process.stdout.write(
      `${wasPaused ? `${id} was already paused` : `Paused ${id}`}: its schedule queues no runs until \`pipewright resume ${id}\`.\n` +
        'Runs already queued or running go on; `pipewright trigger` still works.\n',
    );
    return EXIT.ok;
  });
}
