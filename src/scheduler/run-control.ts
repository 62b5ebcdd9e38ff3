/**
 * Cancel and retry, shared by the CLI (and later the API): both act on the run record in the store
 * only; the worker executing (or later claiming) the run does the rest.
 *
 * - cancel: a queued run is cancelled at once; a running one gets a cancel request that its worker
 *   turns into an abort within seconds. A finished run cannot be cancelled.
 * - retry: a failed or cancelled run goes back to the queue (attempt + 1, error, end time, lease and
 *   cancel request cleared). The worker that claims it resumes it from its checkpoint: steps that
 *   succeeded are not run again when the run's workspace is reachable, else the run restarts. A run
 *   of a watched file first gets its file back from failed/ (watch/retry-watched-file.ts).
 */
import { PwError } from '../core/errors/pw-error.js';
import type { RunPatch, RunRecord, RunStatus, StateStore } from '../store/state-store.js';
import { retryWatchedFileRun } from './watch/retry-watched-file.js';

const FINISHED: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isFinished(status: RunStatus): boolean {
  return FINISHED.includes(status);
}

/** Why a finished run cannot be cancelled (also said by the CLI for a run on a remote server). */
export function alreadyFinished(run: { id: string; status: RunStatus }): PwError {
  return new PwError(
    'PW_USAGE',
    `Run ${run.id} already finished (${run.status}); there is nothing to cancel`,
    {
      hint:
        run.status === 'succeeded'
          ? 'Only queued or running runs can be cancelled.'
          : `Queue it again with \`pipewright retry ${run.id}\`.`,
    },
  );
}

/** Cancels a queued run or asks the worker of a running one to stop; returns the run as it is now. */
export async function cancelRun(store: StateStore, run: RunRecord, at: Date): Promise<RunRecord> {
  if (isFinished(run.status)) throw alreadyFinished(run);
  const updated = await store.requestCancel(run.id, at);
  if (!updated) {
    throw new PwError('PW_RUN_NOT_FOUND', `No run has the id '${run.id}'`, {
      hint: 'List runs with `pipewright runs`.',
    });
  }
  return updated;
}

/** Queues a failed or cancelled run again, to be resumed from its failed step; returns it. */
export async function retryRun(store: StateStore, run: RunRecord): Promise<RunRecord> {
  if (run.status !== 'failed' && run.status !== 'cancelled') {
    throw new PwError(
      'PW_RUN_NOT_RESUMABLE',
      `Run ${run.id} is ${run.status}; only a failed or cancelled run can be retried`,
      {
        hint:
          run.status === 'succeeded'
            ? `Queue a new run with \`pipewright trigger ${run.pipelineId}\`.`
            : 'Wait for it to finish, or cancel it first with `pipewright cancel`.',
      },
    );
  }
  const patch: RunPatch = {
    status: 'queued',
    attempt: run.attempt + 1,
    finishedAt: undefined,
    error: undefined,
    cancelRequestedAt: undefined,
    leaseOwner: undefined,
    leaseExpiresAt: undefined,
  };
  const [watched] = await store.listWatchedFiles({ runId: run.id });
  if (watched) await retryWatchedFileRun(store, run, watched, patch);
  else await store.updateRun(run.id, patch);
  const updated = await store.getRun(run.id);
  if (!updated) throw new PwError('PW_RUN_NOT_FOUND', `Run ${run.id} disappeared from the store`);
  return updated;
}
