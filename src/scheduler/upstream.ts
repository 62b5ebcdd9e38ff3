/**
 * Upstream triggers (`after: [other-pipeline]`): when a run of X succeeds, every pipeline whose latest
 * revision lists X in `after` gets a queued run with trigger `after:<X>:<run id>`, its latest revision,
 * its parameter defaults and the upstream run's `scheduled_for` (so both work on the same period).
 *
 * - A paused downstream pipeline is left out (like its schedule), and so is one with `overlap: skip`
 *   that already has `max_active_runs` queued or running runs; both are logged.
 * - Queuing twice for the same upstream run is avoided by looking for the trigger among recent runs.
 * - Unknown ids and cycles in `after` are refused when definitions are synced (definitions.ts), so a
 *   chain always ends.
 */
import { resolveParams } from '../core/params.js';
import { toPwError } from '../core/errors/pw-error.js';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { newRunId } from '../engine/run-ids.js';
import type { RunRecord, StateStore } from '../store/state-store.js';
import type { ServiceLog } from './service-log.js';

export function afterTrigger(upstream: RunRecord): string {
  return `after:${upstream.pipelineId}:${upstream.id}`;
}

export async function queueDownstreamRuns(input: {
  store: StateStore;
  upstream: RunRecord;
  downstream: readonly string[];
  now: Date;
  log: ServiceLog;
}): Promise<RunRecord[]> {
  const { store, upstream, now, log } = input;
  const trigger = afterTrigger(upstream);
  const queued: RunRecord[] = [];
  for (const pipelineId of input.downstream) {
    try {
      const latest = await store.latestPipelineRevision(pipelineId);
      const parsed = latest ? pipelineSchema.safeParse(latest.definition) : undefined;
      if (!latest || !parsed?.success) continue;
      const spec = parsed.data;
      if (!(spec.after ?? []).includes(upstream.pipelineId)) continue;
      if ((await store.getPipelineState(pipelineId))?.paused) {
        log('info', `${pipelineId}: paused; not queued after run ${upstream.id} of ${upstream.pipelineId}`);
        continue;
      }
      const recent = await store.listRuns({ pipelineId, limit: 200 });
      if (recent.some((run) => run.trigger === trigger)) continue;
      if (spec.overlap === 'skip' && spec.max_active_runs !== undefined) {
        const active =
          (await store.countRuns({ pipelineId, status: 'queued' })) +
          (await store.countRuns({ pipelineId, status: 'running' }));
        if (active >= spec.max_active_runs) {
          log(
            'warn',
            `${pipelineId}: not queued after run ${upstream.id} of ${upstream.pipelineId}: ${active} run(s) already queued or running (max_active_runs ${spec.max_active_runs}, overlap: skip)`,
          );
          continue;
        }
      }
      const params = resolveParams(spec.params, {});
      const run = await store.enqueueRun({
        id: newRunId(now),
        pipelineId,
        revision: latest.revision,
        status: 'queued',
        trigger,
        params,
        scheduledFor: upstream.scheduledFor,
        queuedAt: now,
      });
      if (run) {
        queued.push(run);
        log(
          'info',
          `${pipelineId}: queued run ${run.id} after run ${upstream.id} of ${upstream.pipelineId} succeeded`,
        );
      }
    } catch (error) {
      log(
        'error',
        `${pipelineId}: could not queue a run after run ${upstream.id} of ${upstream.pipelineId}: ${toPwError(error).message.replace(/\s*\n\s*-?\s*/g, ' ')}`,
      );
    }
  }
  return queued;
}
