/**
 * `pipewright trigger <pipeline> [--param k=v]…`: queues a manual run for the service (`serve` or a
 * `worker`) to execute, and prints the run id as the last line. The pipeline file is validated and its
 * definition stored as a revision (when new), so the run executes exactly what the file says now;
 * parameters are checked against the pipeline's declarations before anything is queued. The REST API
 * queues its runs through the same helper, and with `--server` this command asks it to.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { parseParamArguments } from '../../core/params.js';
import { queueManualRun } from '../../api/queue-manual-run.js';
import { styleFor } from '../style.js';
import type { RunJson } from '../json-output.js';
import { connect } from '../remote/connection.js';
import { pipelinePath, type PipelineJson } from '../remote/remote-pipelines.js';

export async function triggerCommand(
  globals: GlobalOptions,
  pipelineId: string,
  options: { param: string[] },
): Promise<number> {
  const params = parseParamArguments(options.param);
  const client = await connect(globals);
  const queued = client
    ? await (async () => {
        const run = await client.post<RunJson>(`${pipelinePath(pipelineId)}/runs`, { params });
        const pipeline = await client.get<PipelineJson>(pipelinePath(run.pipeline));
        return { id: run.id, pipeline: run.pipeline, revision: run.revision, paused: pipeline.paused };
      })()
    : await withProjectStore(globals, async ({ project, store }) => {
        const run = await queueManualRun({ project, store, pipelineId, params, trigger: 'manual:cli' });
        const paused = (await store.getPipelineState(run.pipelineId))?.paused === true;
        return { id: run.id, pipeline: run.pipelineId, revision: run.revision, paused };
      });
  const style = styleFor(process.stdout);
  process.stdout.write(
    [
      `Queued run of ${queued.pipeline} (revision ${queued.revision}); \`pipewright serve\` or a \`pipewright worker\` executes it.`,
      ...(queued.paused
        ? [style.yellow('The pipeline is paused: that stops its schedule, not runs you trigger.')]
        : []),
      `Follow it with: pipewright show ${queued.id}`,
      queued.id,
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}
