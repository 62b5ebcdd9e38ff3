/**
 * Executes one step of a run: renders its config, runs it with its own DuckDB connection under a
 * timeout and the run's cancel signal, retries operational errors per the retry policy, and records
 * every attempt in the state store. A step that succeeded is checkpointed (its table flushed to the
 * run database file and its attempt recorded), which is what makes a run resumable.
 */
import type { AnyStepDefinition, RunInfo, StepResult } from '../core/step.js';
import { PwError, StepError, isRetryable, toPwError, type SourceLocation } from '../core/errors/pw-error.js';
import { parseDuration, formatDuration, timerDelay } from '../core/duration.js';
import type { RetryPolicy, StepSpec } from '../core/spec/pipeline-schema.js';
import type { StateStore } from '../store/state-store.js';
import { createStepContext } from './step-context.js';
import { resolveConnection, type ConnectionDefinitions } from './connections.js';
import { createArtifacts } from './artifacts.js';
import type { RunDatabase } from './run-database.js';
import type { RunLog } from './run-log.js';
import { backoffDelay, sleep } from './retry.js';
import { deliveryLedger } from '../notify/ledger.js';
import { storeDataLoads, storeIncremental } from './step-state.js';
import { join } from 'node:path';
import type { z } from 'zod';

export interface StepRunInput {
  step: StepSpec;
  definition: AnyStepDefinition;
  run: RunInfo;
  runAttempt: number;
  projectDir: string;
  workspaceDir: string;
  artifactsDir: string;
  database: RunDatabase;
  store: StateStore;
  log: RunLog;
  signal: AbortSignal;
  retries: RetryPolicy | undefined;
  location: SourceLocation | undefined;
  /** Renders templates and secrets in the raw `with:` block for this attempt. */
  renderConfig: (raw: unknown, path?: string) => unknown;
  /** The project's named connections (pipewright.yaml `connections:`), unresolved. */
  connections?: ConnectionDefinitions;
  /** Masks resolved secret values; applied to errors before they are stored, logged or rethrown. */
  redact?: (text: string) => string;
  onAttempt?: (attempt: number) => void;
}

const NO_RETRIES: RetryPolicy = { attempts: 1, backoff: 'fixed', delay: '1s' };

export async function runStep(input: StepRunInput): Promise<StepResult> {
  const policy = input.step.retries ?? input.retries ?? NO_RETRIES;
  const stepLog = input.log.forStep(input.step.id);
  // Only a resumed or requeued run (run attempt > 1) can hold earlier attempts of this step.
  const previous = input.runAttempt > 1 ? await input.store.listStepAttempts(input.run.id) : [];
  let attempt = previous
    .filter((record) => record.stepId === input.step.id)
    .reduce((max, record) => Math.max(max, record.attempt), 0);

  for (let tries = 1; ; tries += 1) {
    attempt += 1;
    input.onAttempt?.(attempt);
    const startedAt = new Date();
    await input.store.startStepAttempt({
      runId: input.run.id,
      stepId: input.step.id,
      attempt,
      runAttempt: input.runAttempt,
      startedAt,
      status: 'running',
    });
    stepLog.info(
      `started (${input.step.uses}${tries > 1 ? `, attempt ${tries} of ${policy.attempts}` : ''})`,
    );
    try {
      // No CHECKPOINT here: the step's commit is already durable in DuckDB's WAL, replayed on open.
      const result = await attemptOnce(input, attempt);
      const finishedAt = new Date();
      await input.store.finishStepAttempt(input.run.id, input.step.id, attempt, {
        status: 'succeeded',
        finishedAt,
        rows: result.rows,
        bytes: result.bytes,
        outputs: input.redact ? redactValue(result.outputs, input.redact) : result.outputs,
        warnings: input.redact ? result.warnings?.map(input.redact) : result.warnings,
      });
      stepLog.info(
        `succeeded in ${formatDuration(finishedAt.getTime() - startedAt.getTime())}${result.rows !== undefined ? `, ${result.rows} rows` : ''}`,
      );
      return result;
    } catch (thrown) {
      const error = redactError(attributeError(thrown, input.definition.type), input.redact);
      // The run was stopped (cancel or run timeout): record why, and never retry into a stopped run.
      const runStopped = input.signal.aborted;
      const cancelled = runStopped && error.code === 'PW_CANCELLED';
      await input.store.finishStepAttempt(input.run.id, input.step.id, attempt, {
        status: cancelled ? 'cancelled' : 'failed',
        finishedAt: new Date(),
        error: { code: error.code, message: error.message, hint: error.hint, stepId: input.step.id },
      });
      const retry = !runStopped && isRetryable(error) && tries < policy.attempts;
      stepLog.error(`${error.code}: ${error.message}`, error.hint ? { hint: error.hint } : undefined);
      if (!retry) {
        throw new StepError(error, {
          pipelineId: input.run.pipelineId,
          stepId: input.step.id,
          attempt,
          location: input.location,
        });
      }
      const delay = backoffDelay(policy, tries + 1);
      stepLog.warn(`retrying in ${formatDuration(delay)} (attempt ${tries + 1} of ${policy.attempts})`);
      await sleep(delay, input.signal);
    }
  }
}

/**
 * A plain Error thrown by a user-written step module is the module's bug, not Pipewright's: say so
 * instead of toPwError's "this is a bug in Pipewright" hint.
 */
function attributeError(thrown: unknown, stepType: string): PwError {
  const error = toPwError(thrown);
  if (thrown instanceof PwError || error.code !== 'PW_INTERNAL' || !/^(\.{1,2}\/|\/)/.test(stepType))
    return error;
  return new PwError('PW_INTERNAL', error.message, {
    cause: thrown,
    hint: `The user-written step module ${stepType} threw this error; fix it there (run with --verbose to see where).`,
  });
}

/**
 * A driver error can quote a secret back (DuckDB echoes the literal it failed to cast). When it does,
 * the error is replaced by a copy with every text field masked and no cause chain, so the secret
 * reaches neither the store, the log, the CLI's error block nor a --verbose stack trace.
 */
function redactError(error: PwError, redact: ((text: string) => string) | undefined): PwError {
  if (!redact) return error;
  const mask = (text: string | undefined) => (text === undefined ? undefined : redact(text));
  const fields = [error.message, error.hint, error.expected, error.found, error.path];
  let cause: unknown = error.cause;
  while (cause instanceof Error) {
    fields.push(cause.message);
    cause = cause.cause;
  }
  if (fields.every((text) => text === undefined || redact(text) === text)) return error;
  const copy = new PwError(error.code, redact(error.message), {
    hint: mask(error.hint),
    location: error.location,
    path: mask(error.path),
    expected: mask(error.expected),
    found: mask(error.found),
  });
  copy.stack = `${copy.name}: ${copy.message}\n    (stack withheld: the original error quoted a secret)`;
  return copy;
}

async function attemptOnce(input: StepRunInput, attempt: number): Promise<StepResult> {
  const timeoutMs = timerDelay(
    input.step.timeout === undefined ? undefined : parseDuration(input.step.timeout),
  );
  const controller = new AbortController();
  const onRunAbort = () => controller.abort(input.signal.reason);
  if (input.signal.aborted) onRunAbort();
  input.signal.addEventListener('abort', onRunAbort, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          controller.abort(
            new PwError(
              'PW_STEP_TIMEOUT',
              `Step '${input.step.id}' ran longer than its timeout of ${input.step.timeout}`,
              {
                hint: 'Raise `timeout` on the step, or make the step do less per run.',
              },
            ),
          );
        }, timeoutMs);

  const connection = await input.database.connect();
  // An aborted step must really stop: interrupting DuckDB ends a long query mid-flight.
  const interrupt = () => connection.interrupt();
  controller.signal.addEventListener('abort', interrupt, { once: true });
  let work: Promise<StepResult> | undefined;
  try {
    controller.signal.throwIfAborted();
    const rendered = renderStepConfig(input.step.with ?? {}, input.definition.rawFields, (raw) =>
      input.renderConfig(raw),
    );
    const parsed = (input.definition.config as z.ZodType).safeParse(rendered);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `with.${issue.path.join('.')}: ${issue.message}`);
      throw new PwError(
        'PW_SPEC_TYPE',
        `Step '${input.step.id}' config is invalid after templates were rendered:\n  ${problems.join('\n  ')}`,
        {
          hint: 'A template produced a value of the wrong type; check the rendered values in the run log.',
        },
      );
    }
    const context = createStepContext({
      run: input.run,
      stepId: input.step.id,
      attempt,
      projectDir: input.projectDir,
      workspaceDir: input.workspaceDir,
      signal: controller.signal,
      log: input.log.forStep(input.step.id),
      connection,
      artifacts: createArtifacts(
        input.store,
        input.run.id,
        input.step.id,
        join(input.artifactsDir, input.step.id),
      ),
      resolveConnection: (name, types) =>
        resolveConnection(input.connections ?? {}, name, types, (raw, path) => input.renderConfig(raw, path)),
      deliveries: deliveryLedger(
        input.store,
        { runId: input.run.id, pipelineId: input.run.pipelineId, stepId: input.step.id, event: 'step' },
        input.redact,
      ),
      history: {
        previousOutputs: () =>
          input.store.previousStepOutputs({
            pipelineId: input.run.pipelineId,
            stepId: input.step.id,
            scheduledBefore: input.run.scheduledFor,
            excludeRunId: input.run.id,
          }),
      },
      loads: storeDataLoads(input.store, input.run, input.step.id, input.redact),
      incremental: storeIncremental(input.store, input.run, input.step.id),
    });
    work = input.definition.run(context, parsed.data);
    // A step that ignores its signal must not hold the run hostage: stop waiting once aborted.
    return await Promise.race([work, abortion(controller.signal)]);
  } catch (error) {
    if (controller.signal.aborted) throw toPwError(controller.signal.reason);
    throw error;
  } finally {
    if (timer) clearTimeout(timer);
    input.signal.removeEventListener('abort', onRunAbort);
    controller.signal.removeEventListener('abort', interrupt);
    // An interrupted query settles a moment after the abort; closing its connection before then
    // leaves DuckDB's pending work holding the process open for ever. Close once the step settles.
    const close = () => connection.closeSync();
    if (work === undefined) close();
    else void work.then(close, close);
  }
}

/**
 * Renders the `with:` block, except a step type's raw fields (text in the step's own template
 * language, such as the report step's `template`), which reach the step exactly as written.
 */
function renderStepConfig(
  raw: Record<string, unknown>,
  rawFields: readonly string[] | undefined,
  render: (raw: unknown) => unknown,
): unknown {
  if (rawFields === undefined || rawFields.length === 0) return render(raw);
  const entries = Object.entries(raw);
  const rendered = render(Object.fromEntries(entries.filter(([key]) => !rawFields.includes(key))));
  const kept = Object.fromEntries(entries.filter(([key]) => rawFields.includes(key)));
  return { ...(rendered as Record<string, unknown>), ...kept };
}

function abortion(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/** Masks secrets in a step's JSON-like outputs before they are stored or shown. */
function redactValue<T>(value: T, redact: (text: string) => string): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => redactValue(item, redact)) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, redactValue(item, redact)]),
    ) as T;
  }
  return value;
}
