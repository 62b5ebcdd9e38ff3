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
import { connect } from '../remote/connection.js';
import { pipelinePath, type PipelineJson } from '../remote/remote-pipelines.js';

interface Resumed {
  id: string;
  wasPaused: boolean;
  /** The schedule in words with its next slot, and its catchup policy; undefined without a schedule. */
  schedule: { line: string; catchup: string } | undefined;
  /** Whether a definition of the pipeline is stored (else nothing is said about its schedule). */
  known: boolean;
}

export async function resumeCommand(globals: GlobalOptions, pipelineId: string): Promise<number> {
  const client = await connect(globals);
  const { id, wasPaused, schedule, known }: Resumed = client
    ? await (async () => {
        const before = await client.get<PipelineJson>(pipelinePath(pipelineId));
        const after = await client.post<PipelineJson>(`${pipelinePath(before.id)}/resume`);
        const next = after.schedule?.next[0];
        return {
          id: after.id,
          wasPaused: before.paused,
          schedule: after.schedule
            ? {
                line: `${after.schedule.in_words}${next ? `; next ${next}` : ''}`,
                catchup: after.schedule.catchup,
              }
            : undefined,
          known: after.revision !== null,
        };
      })()
    : await withProjectStore(globals, async ({ project, store }) => {
        const known = await knownPipelineId(project, store, pipelineId);
        const paused = (await store.getPipelineState(known))?.paused === true;
        await store.setPipelinePaused(known, false);
        const latest = await store.latestPipelineRevision(known);
        const parsed = latest ? pipelineSchema.safeParse(latest.definition) : undefined;
        const spec = parsed?.success ? parsed.data.schedule : undefined;
        return {
          id: known,
          wasPaused: paused,
          schedule: spec
            ? { line: scheduleLine(spec, project.spec.timezone), catchup: spec.catchup }
            : undefined,
          known: latest !== undefined,
        };
      });
  const lines = [wasPaused ? `Resumed ${id}.` : `${id} was not paused.`];
  if (schedule) {
    lines.push(`Schedule: ${schedule.line}`);
    if (wasPaused) lines.push(`Slots missed while paused follow its catchup policy (${schedule.catchup}).`);
  } else if (known) {
    lines.push('It has no schedule; start runs with `pipewright trigger`.');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
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
