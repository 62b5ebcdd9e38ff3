/**
 * `pipewright trigger <pipeline> [--param k=v]…`: queues a manual run for the service (`serve` or a
 * `worker`) to execute, and prints the run id as the last line. The pipeline file is validated and its
 * definition stored as a revision (when new), so the run executes exactly what the file says now;
 * parameters are checked against the pipeline's declarations before anything is queued.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { findPipelineFile, loadPipeline } from '../../project/load-project.js';
import { PwError, SpecError } from '../../core/errors/pw-error.js';
import { parseParamArguments, resolveParams } from '../../core/params.js';
import { definitionHash } from '../../core/spec/revision-hash.js';
import { newRunId } from '../../engine/run-ids.js';
import { styleFor } from '../style.js';

export async function triggerCommand(
  globals: GlobalOptions,
  pipelineId: string,
  options: { param: string[] },
): Promise<number> {
  return withProjectStore(globals, async ({ project, store }) => {
    const loaded = await loadPipeline(project, await findPipelineFile(project, pipelineId));
    if (!loaded.ok) throw new SpecError(loaded.issues);
    const params = resolveParams(loaded.spec.params, parseParamArguments(options.param));
    const now = new Date();
    const { revision } = await store.savePipelineRevision({
      pipelineId: loaded.spec.id,
      hash: definitionHash(loaded.spec),
      definition: loaded.spec,
      sourcePath: loaded.source.displayPath,
      at: now,
    });
    const run = await store.enqueueRun({
      id: newRunId(now),
      pipelineId: loaded.spec.id,
      revision: revision.revision,
      status: 'queued',
      trigger: 'manual:cli',
      params,
      scheduledFor: now,
      queuedAt: now,
    });
    if (!run) throw new PwError('PW_STORE', `The store did not queue the run of '${loaded.spec.id}'`);
    const style = styleFor(process.stdout);
    const paused = (await store.getPipelineState(loaded.spec.id))?.paused === true;
    process.stdout.write(
      [
        `Queued run of ${loaded.spec.id} (revision ${revision.revision}); \`pipewright serve\` or a \`pipewright worker\` executes it.`,
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
