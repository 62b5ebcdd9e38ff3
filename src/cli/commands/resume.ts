/**
 * `pipewright resume <pipeline>`: the scheduler queues the pipeline's runs again. Slots missed while it
 * was paused are handled like downtime, by the pipeline's `catchup` policy.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { findPipelineFile, type Project } from '../../project/load-project.js';
import { pipelineSchema } from '../../core/spec/pipeline-schema.js';
import type { StateStore } from '../../store/state-store.js';
import { scheduleLine } from '../describe-schedule.js';

export async function resumeCommand(globals: GlobalOptions, pipelineId: string): Promise<number> {
  return withProjectStore(globals, async ({ project, store }) => {
    const id = await knownPipelineId(project, store, pipelineId);
    const wasPaused = (await store.getPipelineState(id))?.paused === true;
    await store.setPipelinePaused(id, false);
    const latest = await store.latestPipelineRevision(id);
    const parsed = latest ? pipelineSchema.safeParse(latest.definition) : undefined;
    const schedule = parsed?.success ? parsed.data.schedule : undefined;
    const lines = [wasPaused ? `Resumed ${id}.` : `${id} was not paused.`];
    if (schedule) {
      lines.push(`Schedule: ${scheduleLine(schedule, project.spec.timezone)}`);
      if (wasPaused) lines.push(`Slots missed while paused follow its catchup policy (${schedule.catchup}).`);
    } else if (latest) {
      lines.push('It has no schedule; start runs with `pipewright trigger`.');
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  });
}

/** The pipeline's id when the project folder or the store knows it; PW_PIPELINE_NOT_FOUND otherwise. */
export async function knownPipelineId(
  project: Project,
  store: StateStore,
  pipelineId: string,
): Promise<string> {
  if (await store.latestPipelineRevision(pipelineId)) return pipelineId;
  return (await findPipelineFile(project, pipelineId)).id;
}
