/**
 * Executes a pipeline run end to end: records the revision and the run, runs the step DAG in the
 * run's own DuckDB database, and records how it ended. A resumed run reuses its workspace and skips
 * the steps that already succeeded (their datasets are in the run database and their results in the
 * store), continuing from the first unfinished step. A run claimed from the queue by a worker does
 * the same when its workspace holds a checkpoint (see run-start.ts).
 */
import { access } from 'node:fs/promises';
import type { StepResult } from '../core/step.js';
import { PwError, toPwError, type SourceLocation } from '../core/errors/pw-error.js';
import { formatDuration, parseDuration, timerDelay } from '../core/duration.js';
import type { PipelineSpec } from '../core/spec/pipeline-schema.js';
import type { ProjectSpec } from '../core/spec/project-schema.js';
import type { StepRegistry } from '../steps/registry.js';
import type { RunRecord, StateStore } from '../store/state-store.js';
import { buildPlan } from '../core/spec/plan.js';
import { Redactor, renderConfig } from '../core/secrets.js';
import { runDag } from './dag-runner.js';
import { openRunDatabase, type RunDatabase } from './run-database.js';
import { RunLog } from './run-log.js';
import { patientStore } from './patient-store.js';
import { runStep } from './run-step.js';
import { startRun } from './run-start.js';
import { applyArtifactRetention, removeWorkspace, runPaths, shouldKeepWorkspace } from './workspace.js';
import type { RunListener } from './run-events.js';
import { commitIncrementalMarks } from './step-state.js';
import { triggerData } from './trigger-data.js';
import type { LogEntry } from '../store/state-store.js';
import { sendRunNotifications } from '../notify/notify.js';
import { NOTIFICATION_LOG_LINES } from '../notify/message.js';

export interface RunRequest {
  projectDir: string;
  project: ProjectSpec;
  registry: StepRegistry;
  pipeline: PipelineSpec;
  /** Where each step is defined, for error messages. */
  stepLocations?: ReadonlyMap<string, SourceLocation>;
  sourcePath: string;
  store: StateStore;
  params: Record<string, unknown>;
  trigger: string;
  scheduledFor?: Date;
  signal?: AbortSignal;
  listener?: RunListener;
  env?: Readonly<Record<string, string | undefined>>;
  /** Resume this run instead of starting a new one (its stored definition is used). */
  resume?: RunRecord;
  /**
   * Execute this queued run, just claimed by a worker, with `pipeline` being its stored revision. It
   * continues from its checkpoint when its workspace holds succeeded steps, else starts afresh.
   */
  claimed?: RunRecord;
  /**
   * For a claimed run: asked right before the end is recorded; false once the lease was lost, so the end
   * is not recorded over another worker's.
   */
  stillClaimed?: () => boolean | Promise<boolean>;
  /** How long the run's bookkeeping waits for an unreachable state store (default 10 minutes). */
  storePatienceMs?: number;
}

export interface RunOutcome {
  run: RunRecord;
  error?: PwError;
}

const DEFAULT_CONCURRENCY = 2;

export async function executeRun(request: RunRequest): Promise<RunOutcome> {
  const { project, pipeline } = request;
  const now = new Date();
  const env = request.env ?? process.env;
  const timezone = pipeline.timezone ?? pipeline.schedule?.timezone ?? project.timezone;

  const started = await startRun(request, now);
  let run = started.run;
  const results = started.results;

  const paths = runPaths(request.projectDir, project, run.id);
  const redactor = new Redactor();
  // Log lines never wait for the store: when it refuses them they go to the fallback file at once.
  // The last lines are kept for the run's notifications (already redacted by the run log).
  const logTail: LogEntry[] = [];
  const log = new RunLog(request.store, run.id, redactor, paths.fallbackLogFile, (entry) => {
    if (logTail.push(entry) > NOTIFICATION_LOG_LINES) logTail.shift();
    request.listener?.({ type: 'log', entry });
  });
  const store = patientStore(request.store, {
    ...(request.storePatienceMs === undefined ? {} : { maxWaitMs: request.storePatienceMs }),
    onOutage: (event) =>
      event.state === 'waiting'
        ? log.write(
            'warn',
            `the state store cannot be reached (${event.error.message}); the run goes on and its records wait for the store`,
          )
        : log.write('info', `the state store answers again after ${formatDuration(event.waitedMs)}`),
  });
  const plan = buildPlan(pipeline, request.registry);
  request.listener?.({
    type: 'run-started',
    run,
    steps: plan.nodes.map((node) => node.id),
    alreadyDone: [...results.keys()],
  });

  const controller = new AbortController();
  // A caller may abort with its own PwError (e.g. a worker shutting down says so); anything else is a cancel.
  const onExternalAbort = () =>
    controller.abort(
      request.signal?.reason instanceof PwError
        ? request.signal.reason
        : new PwError('PW_CANCELLED', 'The run was cancelled', {
            hint: 'Resume it with `pipewright run --resume`.',
          }),
    );
  if (request.signal?.aborted) onExternalAbort();
  request.signal?.addEventListener('abort', onExternalAbort, { once: true });
  // `defaults.timeout` in pipewright.yaml is the default of the pipeline's own `timeout`, like its siblings.
  const runTimeout = pipeline.timeout ?? project.defaults.timeout;
  const runTimeoutMs = timerDelay(runTimeout === undefined ? undefined : parseDuration(runTimeout));
  const runTimer =
    runTimeoutMs === undefined
      ? undefined
      : setTimeout(
          () =>
            controller.abort(
              new PwError(
                'PW_RUN_TIMEOUT',
                `The run took longer than the pipeline timeout of ${runTimeout}`,
                {
                  hint: 'Raise `timeout` in the pipeline, or resume the run to continue from where it stopped.',
                },
              ),
            ),
          runTimeoutMs,
        );

  let database: RunDatabase | undefined;
  let failure: PwError | undefined;
  try {
    if (started.requireWorkspace) await ensureWorkspace(paths.databaseFile, run.id);
    database = await openRunDatabase(paths.databaseFile, {
      memoryLimit: project.duckdb.memory_limit,
      threads: project.duckdb.threads,
    });
    log.write('info', started.message);
    const trigger = await triggerData(run.trigger, store, project, request.projectDir);
    const openDatabase = database;
    const stepsById = new Map(pipeline.steps.map((step) => [step.id, step]));
    const outcome = await runDag({
      nodes: plan.nodes,
      concurrency: pipeline.concurrency ?? project.defaults.concurrency ?? DEFAULT_CONCURRENCY,
      signal: controller.signal,
      alreadyDone: new Set(results.keys()),
      execute: async (stepId) => {
        const step = stepsById.get(stepId) as (typeof pipeline.steps)[number];
        const definition = request.registry.get(step.uses);
        if (!definition) throw new PwError('PW_SPEC_UNKNOWN_STEP_TYPE', `Unknown step type '${step.uses}'`);
        const scope = templateScope(run, pipeline, timezone, results, trigger);
        const result = await runStep({
          step,
          definition,
          run: {
            id: run.id,
            pipelineId: pipeline.id,
            scheduledFor: run.scheduledFor,
            startedAt: run.startedAt ?? now,
            trigger: run.trigger,
            timezone,
            params: run.params,
          },
          runAttempt: run.attempt,
          projectDir: request.projectDir,
          workspaceDir: paths.workspaceDir,
          artifactsDir: paths.artifactsDir,
          database: openDatabase,
          store,
          log,
          signal: controller.signal,
          retries: pipeline.retries ?? project.defaults.retries,
          location: request.stepLocations?.get(stepId),
          renderConfig: (raw, path) =>
            renderConfig(raw, scope, { timezone, env, projectDir: request.projectDir, redactor, path }),
          connections: project.connections,
          redact: (text) => redactor.redact(text),
          onAttempt: (attempt) =>
            request.listener?.({ type: 'step-started', stepId, attempt, at: new Date() }),
        }).catch((error: unknown) => {
          request.listener?.({ type: 'step-failed', stepId, error: toPwError(error), at: new Date() });
          throw error;
        });
        results.set(stepId, result);
        request.listener?.({ type: 'step-succeeded', stepId, result, at: new Date() });
      },
    });
    const firstFailure = outcome.failed[0];
    if (firstFailure) failure = toPwError(firstFailure.error);
    else if (controller.signal.aborted) failure = toPwError(controller.signal.reason);
  } catch (error) {
    failure = toPwError(error);
  } finally {
    if (runTimer) clearTimeout(runTimer);
    request.signal?.removeEventListener('abort', onExternalAbort);
  }

  const status =
    failure === undefined ? 'succeeded' : failure.code === 'PW_CANCELLED' ? 'cancelled' : 'failed';
  const finishedAt = new Date();
  const error = failure && {
    code: failure.code,
    message: redactor.redact(failure.message),
    hint: failure.hint,
    stepId: 'stepId' in failure ? String(failure.stepId) : undefined,
  };
  // A worker whose lease was taken over must not overwrite the new holder's record or remove its workspace.
  const owned = (await request.stillClaimed?.()) ?? true;
  log.write(
    status === 'succeeded' ? 'info' : 'error',
    `run ${status}${error ? `: ${error.code} ${error.message}` : ''}`,
  );
  await log.flush();
  if (owned) await store.updateRun(run.id, { status, finishedAt, error });
  // Incremental marks proposed by this run's steps advance only now that the run has succeeded.
  if (owned && status === 'succeeded') {
    await commitIncrementalMarks(store, run.id, (level, message) => log.write(level, message));
    await log.flush();
  }
  run = { ...run, status, finishedAt, ...(error ? { error } : {}) };
  database?.close();
  if (owned && !shouldKeepWorkspace(project.workspace.keep, status === 'succeeded'))
    await removeWorkspace(paths);
  await applyArtifactRetention(store, request.projectDir, project, finishedAt).catch((cause: unknown) => {
    process.emitWarning(`artifact retention failed: ${(cause as Error).message}`);
  });
  // on_failure / on_success, once the end is recorded; a failing notification is logged and recorded
  // in the deliveries ledger, never changing the run's status or error (src/notify/notify.ts).
  if (owned) {
    await sendRunNotifications({
      projectDir: request.projectDir,
      project,
      pipeline,
      run,
      timezone,
      log_tail: [...logTail],
      store,
      env,
      redactor,
      log: (level, message) => log.write(level, message),
    }).catch((cause: unknown) => log.write('warn', `notifications failed: ${toPwError(cause).message}`));
    await log.flush();
  }
  request.listener?.({ type: 'run-finished', run });
  return failure ? { run, error: failure } : { run };
}

function templateScope(
  run: RunRecord,
  pipeline: PipelineSpec,
  timezone: string,
  results: ReadonlyMap<string, StepResult>,
  trigger: Record<string, unknown>,
) {
  const steps: Record<string, unknown> = {};
  for (const [id, result] of results)
    steps[id] = { rows: result.rows ?? null, bytes: result.bytes ?? null, outputs: result.outputs ?? {} };
  return {
    params: run.params,
    run: {
      id: run.id,
      pipeline: pipeline.id,
      scheduled_for: run.scheduledFor,
      started_at: run.startedAt ?? new Date(),
      trigger: run.trigger,
      timezone,
      attempt: run.attempt,
    },
    steps,
    // Watched files store theirs on the run; inbox batches are read from their record.
    trigger: { ...(run.triggerData ?? {}), ...trigger },
  };
}

async function ensureWorkspace(databaseFile: string, runId: string): Promise<void> {
  try {
    await access(databaseFile);
  } catch {
    throw new PwError('PW_RUN_NOT_RESUMABLE', `Run ${runId} has no workspace left at ${databaseFile}`, {
      hint: 'Its workspace was cleaned up; start a new run instead (set workspace.keep: on_failure to keep failed runs resumable).',
    });
  }
}
