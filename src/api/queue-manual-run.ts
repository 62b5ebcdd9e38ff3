/**
 * Queuing a manual run, shared by `pipewright trigger` and `POST /api/pipelines/{id}/runs`: the pipeline
 * file is validated and its definition stored as a revision when it changed (so the run executes what
 * the file says now), the parameters are converted and checked against the pipeline's declarations
 * (PW_PARAM_INVALID naming each bad one), and only then is the run queued. A caller that chose the
 * run id beforehand (a batch records it before queuing, so a crash in between is finished at the next
 * start) gets the run already queued under that id instead of a second one.
 */
import { PwError, SpecError } from '../core/errors/pw-error.js';
import { resolveParams } from '../core/params.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import { newRunId } from '../engine/run-ids.js';
import { findPipelineFile, loadPipeline, type Project } from '../project/load-project.js';
import type { RunRecord, StateStore } from '../store/state-store.js';

export interface ManualRunRequest {
  project: Project;
  store: StateStore;
  pipelineId: string;
  /** Raw values (strings from the CLI, JSON values from the API), converted to the declared types. */
  params: Readonly<Record<string, unknown>>;
  /** `manual:cli`, `api:<token name>` … */
  trigger: string;
  now?: Date;
  /** The run id to use; when a run with it exists already, that run is returned and nothing is queued. */
  id?: string;
}

export async function queueManualRun(request: ManualRunRequest): Promise<RunRecord> {
  const { project, store } = request;
  if (request.id !== undefined) {
    const existing = await store.getRun(request.id);
    if (existing) return existing;
  }
  const loaded = await loadPipeline(project, await findPipelineFile(project, request.pipelineId));
  if (!loaded.ok) throw new SpecError(loaded.issues);
  const params = resolveParams(loaded.spec.params, request.params);
  const now = request.now ?? new Date();
  const { revision } = await store.savePipelineRevision({
    pipelineId: loaded.spec.id,
    hash: definitionHash(loaded.spec),
    definition: loaded.spec,
    sourcePath: loaded.source.displayPath,
    at: now,
  });
  const run = await store.enqueueRun({
    id: request.id ?? newRunId(now),
    pipelineId: loaded.spec.id,
    revision: revision.revision,
    status: 'queued',
    trigger: request.trigger,
    params,
    scheduledFor: now,
    queuedAt: now,
  });
  if (!run) throw new PwError('PW_STORE', `The store did not queue the run of '${loaded.spec.id}'`);
  return run;
}
