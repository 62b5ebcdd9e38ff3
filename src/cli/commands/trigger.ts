/**
 * `pipewright trigger <pipeline> [--param k=v]…`: queues a manual run for the service (`serve` or a
 * `worker`) to execute, and prints the run id as the last line. The pipeline file is validated and its
 * definition stored as a revision (when new), so the run executes exactly what the file says now;
 * parameters are checked against the pipeline's declarations before anything is queued. The REST API
 * queues its runs through the same helper.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { parseParamArguments } from '../../core/params.js';
import { queueManualRun } from '../../api/queue-manual-run.js';
import { styleFor } from '../style.js';

export async function triggerCommand(
  globals: GlobalOptions,
  pipelineId: string,
  options: { param: string[] },
): Promise<number> {
  return withProjectStore(globals, async ({ project, store }) => {
    const run = await queueManualRun({
      project,
      store,
      pipelineId,
      params: parseParamArguments(options.param),
      trigger: 'manual:cli',
    });
    const style = styleFor(process.stdout);
    const paused = (await store.getPipelineState(run.pipelineId))?.paused === true;
    process.stdout.write(
      [
        `Queued run of ${run.pipelineId} (revision ${run.revision}); \`pipewright serve\` or a \`pipewright worker\` executes it.`,
        ...(paused
          ? [style.yellow('The pipeline is paused: that stops its schedule, not runs you trigger.')]
          : []),
        `Follow it with: pipewright show ${run.id}`,
        run.id,
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  });
}
