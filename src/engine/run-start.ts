/**
 * How a run gets its record before its steps execute, in the three ways a run can begin:
 * - new: the revision is stored (when its hash is new) and the run is created as running;
 * - resume: a failed, cancelled or crashed run continues in its workspace (which must exist);
 * - claimed: a queued run a worker has just claimed (status running, lease held) starts. When its
 *   workspace is here and holds succeeded steps (a run requeued after its lease expired or its worker
 *   shut down), it continues from that checkpoint; otherwise it starts from the first step. The run's
 *   attempt is left as the store set it (requeueing increments it).
 * Step attempts a dead process left `running` are closed as PW_PROCESS_LOST in both later cases.
 */
import { hostname } from 'node:os';
import { access } from 'node:fs/promises';
import type { StepResult } from '../core/step.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import type { RunRecord, StateStore, StepAttemptRecord } from '../store/state-store.js';
import { newRunId } from './run-ids.js';
import { runPaths } from './workspace.js';
import type { RunRequest } from './execute-run.js';

export interface StartedRun {
  run: RunRecord;
  /** Results of the steps already done, by step id (empty for a fresh start). */
  results: Map<string, StepResult>;
  /** The first log line of this run attempt. */
  message: string;
  /** The workspace must already hold the run database (a resume). */
  requireWorkspace: boolean;
}

export async function startRun(request: RunRequest, now: Date): Promise<StartedRun> {
  if (request.resume) return continueRun(request.store, request.resume, now, { bumpAttempt: true });
  if (request.claimed) return startClaimedRun(request, request.claimed, now);
  return createRun(request, now);
}

async function createRun(request: RunRequest, now: Date): Promise<StartedRun> {
  const { store, pipeline } = request;
  const { revision } = await store.savePipelineRevision({
    pipelineId: pipeline.id,
    hash: definitionHash(pipeline),
    definition: pipeline,
    sourcePath: request.sourcePath,
    at: now,
  });
  const id = newRunId(now);
  const paths = runPaths(request.projectDir, request.project, id);
  const run = await store.createRun({
    id,
    pipelineId: pipeline.id,
    revision: revision.revision,
    status: 'running',
    trigger: request.trigger,
    params: request.params,
    scheduledFor: request.scheduledFor ?? now,
    queuedAt: now,
    startedAt: now,
    workspace: paths.workspaceDir,
    host: hostname(),
    pid: process.pid,
  });
  return { run, results: new Map(), message: `run started by ${run.trigger}`, requireWorkspace: false };
}

async function startClaimedRun(request: RunRequest, claimed: RunRecord, now: Date): Promise<StartedRun> {
  const paths = runPaths(request.projectDir, request.project, claimed.id);
  const attempts = await request.store.listStepAttempts(claimed.id);
  const checkpointed =
    attempts.some((attempt) => attempt.status === 'succeeded') && (await exists(paths.databaseFile));
  if (checkpointed)
    return continueRun(request.store, claimed, now, { bumpAttempt: false, workspace: paths.workspaceDir });
  await closeLostAttempts(request.store, claimed.id, attempts, now);
  const started = await markRunning(request.store, claimed, now, {
    bumpAttempt: false,
    workspace: paths.workspaceDir,
  });
  const message =
    attempts.length === 0
      ? `run started by ${started.trigger}`
      : `restarting run from the first step (attempt ${started.attempt}): no checkpoint in ${paths.workspaceDir}`;
  return { run: started, results: new Map(), message, requireWorkspace: false };
}

async function continueRun(
  store: StateStore,
  previous: RunRecord,
  now: Date,
  options: { bumpAttempt: boolean; workspace?: string },
): Promise<StartedRun> {
  const attempts = await store.listStepAttempts(previous.id);
  await closeLostAttempts(store, previous.id, attempts, now);
  const results = new Map<string, StepResult>();
  for (const attempt of attempts) {
    if (attempt.status === 'succeeded') {
      results.set(attempt.stepId, {
        rows: attempt.rows,
        bytes: attempt.bytes,
        outputs: attempt.outputs ?? {},
      } as StepResult);
    }
  }
  const run = await markRunning(store, previous, now, options);
  return {
    run,
    results,
    message: `resuming run (attempt ${run.attempt}); ${results.size} steps already done`,
    requireWorkspace: true,
  };
}

/** Attempts left `running` by a process that died mid-step: say so instead of leaving them open. */
async function closeLostAttempts(
  store: StateStore,
  runId: string,
  attempts: readonly StepAttemptRecord[],
  now: Date,
): Promise<void> {
  for (const attempt of attempts) {
    if (attempt.status !== 'running') continue;
    await store.finishStepAttempt(runId, attempt.stepId, attempt.attempt, {
      status: 'failed',
      finishedAt: now,
      error: {
        code: 'PW_PROCESS_LOST',
        message: 'The process running this step stopped before the step finished',
        stepId: attempt.stepId,
      },
    });
  }
}

async function markRunning(
  store: StateStore,
  previous: RunRecord,
  now: Date,
  options: { bumpAttempt: boolean; workspace?: string },
): Promise<RunRecord> {
  const attempt = options.bumpAttempt ? previous.attempt + 1 : previous.attempt;
  const workspace = options.workspace ?? previous.workspace;
  await store.updateRun(previous.id, {
    status: 'running',
    attempt,
    startedAt: now,
    finishedAt: undefined,
    error: undefined,
    host: hostname(),
    pid: process.pid,
    ...(workspace === undefined ? {} : { workspace }),
  });
  const run: RunRecord = {
    ...previous,
    status: 'running',
    attempt,
    startedAt: now,
    host: hostname(),
    pid: process.pid,
  };
  if (workspace !== undefined) run.workspace = workspace;
  delete run.error;
  delete run.finishedAt;
  return run;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
