/**
 * `pipewright run <pipeline>`: validates, checks parameters and secrets, then runs the pipeline in
 * this process with live progress. `--resume <run>` continues a failed, cancelled or crashed run
 * from its first unfinished step, with the definition revision it started with.
 */
import { hostname } from 'node:os';
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { findPipelineFile, loadPipeline, type Project } from '../../project/load-project.js';
import { loadUserStep, moduleReferences } from '../../project/user-steps.js';
import { PwError, SpecError } from '../../core/errors/pw-error.js';
import { parseParamArguments, resolveParams } from '../../core/params.js';
import { assertSecrets } from '../../core/secrets.js';
import { pipelineSchema, type PipelineSpec } from '../../core/spec/pipeline-schema.js';
import type { SourceLocation } from '../../core/errors/pw-error.js';
import type { StepRegistry } from '../../steps/registry.js';
import type { RunRecord, StateStore } from '../../store/state-store.js';
import { executeRun } from '../../engine/execute-run.js';
import { resolveRun } from '../resolve-run.js';
import { processIsAlive } from '../run-liveness.js';
import { runToJson } from '../json-output.js';
import { createProgressReporter } from '../progress.js';
import { formatError } from '../format-error.js';
import { styleFor } from '../style.js';

interface Prepared {
  pipeline: PipelineSpec;
  registry: StepRegistry;
  sourcePath: string;
  stepLocations: Map<string, SourceLocation>;
  params: Record<string, unknown>;
  resume?: RunRecord;
}

export async function runCommand(
  globals: GlobalOptions,
  pipelineId: string | undefined,
  options: { param: string[]; resume?: string; json?: boolean },
): Promise<number> {
  return withProjectStore(globals, async ({ project, store }) => {
    const prepared = options.resume
      ? await prepareResume(project, store, options.resume, pipelineId, options.param)
      : await prepareNewRun(project, pipelineId, options.param);

    // Secrets are checked before anything is recorded: a missing one is a configuration error.
    assertSecrets({ steps: prepared.pipeline.steps }, { env: process.env, projectDir: project.dir });

    const controller = new AbortController();
    let interrupts = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      interrupts += 1;
      if (interrupts > 1) process.exit(130);
      process.stderr.write(`\n${signal}: cancelling the run (press Ctrl-C again to quit at once)…\n`);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const progress = createProgressReporter(process.stderr, { verbose: globals.verbose });
    try {
      const outcome = await executeRun({
        projectDir: project.dir,
        project: project.spec,
        registry: prepared.registry,
        pipeline: prepared.pipeline,
        stepLocations: prepared.stepLocations,
        sourcePath: prepared.sourcePath,
        store,
        params: prepared.params,
        trigger: prepared.resume ? `resume:cli` : 'manual:cli',
        signal: controller.signal,
        listener: progress.listener,
        ...(prepared.resume ? { resume: prepared.resume } : {}),
      });
      progress.close();
      if (options.json) {
        process.stdout.write(`${JSON.stringify(runToJson(outcome.run), null, 2)}\n`);
      } else {
        await printSummary(store, outcome.run, project);
      }
      if (outcome.error && !options.json) {
        process.stderr.write(
          `\n${formatError(outcome.error, styleFor(process.stderr), { verbose: globals.verbose, cwd: project.dir })}\n`,
        );
      }
      return outcome.run.status === 'succeeded' ? EXIT.ok : EXIT.runFailed;
    } finally {
      progress.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

async function prepareNewRun(
  project: Project,
  pipelineId: string | undefined,
  paramArgs: string[],
): Promise<Prepared> {
  if (!pipelineId) {
    throw new PwError('PW_USAGE', 'Which pipeline should run?', {
      hint: 'pipewright run <pipeline>; list them with `pipewright validate`.',
    });
  }
  const loaded = await loadPipeline(project, await findPipelineFile(project, pipelineId));
  if (!loaded.ok) throw new SpecError(loaded.issues);
  const stepLocations = new Map(
    loaded.spec.steps.map((step, index) => [step.id, loaded.locate(['steps', index])]),
  );
  return {
    pipeline: loaded.spec,
    registry: loaded.registry,
    sourcePath: loaded.source.displayPath,
    stepLocations,
    params: resolveParams(loaded.spec.params, parseParamArguments(paramArgs)),
  };
}

async function prepareResume(
  project: Project,
  store: StateStore,
  runId: string,
  pipelineId: string | undefined,
  paramArgs: string[],
): Promise<Prepared> {
  const run = await resolveRun(store, runId);
  if (pipelineId && pipelineId !== run.pipelineId) {
    throw new PwError(
      'PW_USAGE',
      `Run ${run.id} belongs to pipeline '${run.pipelineId}', not '${pipelineId}'`,
    );
  }
  if (paramArgs.length > 0) {
    throw new PwError('PW_USAGE', 'A resumed run keeps the parameters it started with', {
      hint: 'Drop --param, or start a new run.',
    });
  }
  assertResumable(run);
  const revision = await store.getPipelineRevision(run.pipelineId, run.revision);
  if (!revision)
    throw new PwError(
      'PW_RUN_NOT_RESUMABLE',
      `The definition revision ${run.revision} of run ${run.id} is missing`,
    );
  const pipeline = pipelineSchema.parse(revision.definition);
  let registry = project.registry;
  const modules = [];
  for (const uses of moduleReferences(pipeline))
    modules.push(await loadUserStep(project.dir, uses, revision.sourcePath));
  if (modules.length > 0) registry = registry.extend(modules);
  return {
    pipeline,
    registry,
    sourcePath: revision.sourcePath,
    stepLocations: new Map(),
    params: run.params,
    resume: run,
  };
}

function assertResumable(run: RunRecord): void {
  if (run.status === 'failed' || run.status === 'cancelled') return;
  if (run.status === 'running') {
    if (
      run.host === hostname() &&
      run.pid !== undefined &&
      run.pid !== process.pid &&
      processIsAlive(run.pid)
    ) {
      throw new PwError('PW_RUN_NOT_RESUMABLE', `Run ${run.id} is still running (process ${run.pid})`, {
        hint: 'Wait for it to finish, or stop that process first.',
      });
    }
    if (run.host !== undefined && run.host !== hostname()) {
      throw new PwError('PW_RUN_NOT_RESUMABLE', `Run ${run.id} is marked running on host ${run.host}`, {
        hint: 'Resume it on that host, or once it has stopped there.',
      });
    }
    return; // its process is gone: a crash
  }
  throw new PwError(
    'PW_RUN_NOT_RESUMABLE',
    `Run ${run.id} ${run.status === 'succeeded' ? 'already succeeded' : `is ${run.status}`}`,
    {
      hint: 'Only failed, cancelled or crashed runs can be resumed; start a new run instead.',
    },
  );
}

async function printSummary(store: StateStore, run: RunRecord, project: Project): Promise<void> {
  const style = styleFor(process.stdout);
  const attempts = await store.listStepAttempts(run.id);
  const outputs = attempts
    .filter((attempt) => attempt.status === 'succeeded' && typeof attempt.outputs?.path === 'string')
    .map(
      (attempt) =>
        `  ${attempt.stepId}: ${String(attempt.outputs?.path)}${attempt.rows !== undefined ? ` (${attempt.rows} rows)` : ''}`,
    );
  const warnings = attempts.flatMap((attempt) =>
    (attempt.warnings ?? []).map((warning) => `  ${attempt.stepId}: ${warning}`),
  );
  const rejected = attempts
    .filter((attempt) => Number(attempt.outputs?.rejected_rows ?? 0) > 0)
    .map(
      (attempt) =>
        `  ${attempt.stepId}: ${String(attempt.outputs?.rejected_rows)} rejected rows set aside (show lists any rejects file)`,
    );
  const took =
    run.startedAt && run.finishedAt
      ? ((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(1)
      : '?';
  const label = run.status === 'succeeded' ? style.green(run.status) : style.red(run.status);
  const lines = [`Run ${run.id} ${label} in ${took}s`];
  if (outputs.length > 0) lines.push(`Outputs (in ${project.dir}):`, ...outputs);
  if (rejected.length > 0) lines.push(style.yellow('Rejected input rows:'), ...rejected);
  if (warnings.length > 0) lines.push(style.yellow('Warnings:'), ...warnings);
  lines.push(
    `Details: pipewright show ${run.id}${run.status === 'succeeded' ? '' : `   Resume: pipewright run --resume ${run.id}`}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}
