/**
 * The `exec` step: runs an existing script or program (Python, shell, Node…) as one step of a
 * pipeline, which is how a team moves its cron jobs in one at a time. The command runs in its own
 * process group with a minimal environment plus what the step declares; its output streams into the
 * run log; the files it writes to $PIPEWRIGHT_OUTPUT_DIR become artifacts, and the `dataset:` file
 * becomes the step's dataset.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStep, type StepContext } from '../../core/step.js';
import { PwError, toPwError } from '../../core/errors/pw-error.js';
import { formatDuration, parseDuration, timerDelay } from '../../core/duration.js';
import { execConfig, type ExecConfig } from './exec-schema.js';
import { runProcess, type ProcessResult } from './exec-process.js';
import { listOutputFiles, loadDataset, registerArtifacts } from './exec-output.js';

/** Variables of the service's own environment every command gets (LC_* too); nothing else leaks. */
export const PASSTHROUGH_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
];

/** The command's environment: passthrough, then `inherit_env`, then the run's variables, then `env`. */
export function childEnvironment(
  ctx: StepContext,
  config: ExecConfig,
  outputDir: string,
  parent: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    if (PASSTHROUGH_ENV.includes(name) || name.startsWith('LC_') || config.inherit_env.includes(name))
      env[name] = value;
  }
  // Python block-buffers stdout into a pipe; unbuffered, its lines reach the log as they are printed.
  env['PYTHONUNBUFFERED'] = '1';
  Object.assign(env, {
    PIPEWRIGHT_OUTPUT_DIR: outputDir,
    PIPEWRIGHT_RUN_ID: ctx.run.id,
    PIPEWRIGHT_PIPELINE_ID: ctx.run.pipelineId,
    PIPEWRIGHT_STEP_ID: ctx.stepId,
    PIPEWRIGHT_ATTEMPT: String(ctx.attempt),
    PIPEWRIGHT_SCHEDULED_FOR: ctx.run.scheduledFor.toISOString(),
    PIPEWRIGHT_TIMEZONE: ctx.run.timezone,
    PIPEWRIGHT_PARAMS: JSON.stringify(ctx.run.params),
    PIPEWRIGHT_PROJECT_DIR: ctx.projectDir,
  });
  Object.assign(env, config.env ?? {});
  return env;
}

function describeCommand(config: ExecConfig): string {
  const text =
    typeof config.command === 'string'
      ? config.command
      : config.command.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function tailText(result: ProcessResult): string | undefined {
  const lines = result.tail.stderr.length > 0 ? result.tail.stderr : result.tail.stdout;
  if (lines.length === 0) return undefined;
  const which = result.tail.stderr.length > 0 ? 'stderr' : 'stdout';
  return `last ${lines.length} line(s) of ${which}:\n${lines.map((line) => `  | ${line}`).join('\n')}`;
}

async function checkCwd(cwd: string, written: string): Promise<void> {
  const info = await stat(cwd).catch(() => undefined);
  if (info?.isDirectory()) return;
  throw new PwError(
    'PW_EXEC_SPAWN',
    `The working folder '${written}' ${info ? 'is not a folder' : 'does not exist'}`,
    {
      path: 'with.cwd',
      found: cwd,
      hint: 'cwd is relative to the project folder.',
    },
  );
}

function failure(ctx: StepContext, config: ExecConfig, result: ProcessResult): PwError | undefined {
  const command = describeCommand(config);
  const { outcome } = result;
  switch (outcome.kind) {
    case 'spawn-failed': {
      const program = typeof config.command === 'string' ? '/bin/sh' : (config.command[0] ?? '');
      const why =
        outcome.error.code === 'ENOENT'
          ? 'was not found'
          : outcome.error.code === 'EACCES'
            ? 'is not executable'
            : `could not be started (${outcome.error.code ?? outcome.error.message})`;
      return new PwError('PW_EXEC_SPAWN', `Step '${ctx.stepId}': the program '${program}' ${why}`, {
        path: 'with.command',
        hint:
          outcome.error.code === 'ENOENT'
            ? 'Give a path (relative to cwd) or a program on PATH; PATH is the one of the service, passed through to the command.'
            : 'Check the file and its permissions (chmod +x), or run it through its interpreter, e.g. [python3, script.py].',
        cause: outcome.error,
      });
    }
    case 'timeout':
      return new PwError(
        'PW_STEP_TIMEOUT',
        `Step '${ctx.stepId}': the command ran longer than its timeout of ${config.timeout ?? ''} and was stopped (${command})`,
        {
          path: 'with.timeout',
          found: tailText(result),
          hint: `Its whole process group got SIGTERM${result.killed ? `, then SIGKILL after ${config.kill_grace}` : ''}. Raise with.timeout, or make the command do less per run.`,
        },
      );
    case 'aborted':
      return undefined;
    case 'exited': {
      if (outcome.code === 0) return undefined;
      const how =
        outcome.signal !== null ? `was killed by ${outcome.signal}` : `exited with code ${outcome.code}`;
      return new PwError('PW_EXEC_FAILED', `Step '${ctx.stepId}': the command ${how} (${command})`, {
        found: tailText(result),
        hint: 'The run log holds its output; the files it wrote are kept in the run workspace, not registered as artifacts.',
      });
    }
  }
}

export const execStep = defineStep({
  type: 'exec',
  kind: 'custom',
  description:
    'Runs a program or script; files it writes to $PIPEWRIGHT_OUTPUT_DIR become artifacts and, optionally, the dataset.',
  config: execConfig,
  async run(ctx, config) {
    const cwd = ctx.resolvePath(config.cwd ?? '.');
    await checkCwd(cwd, config.cwd ?? '.');
    // A fresh folder per attempt: a retry never sees (or registers) what a failed attempt left.
    const outputDir = join(ctx.workspaceDir, 'exec', ctx.stepId, `attempt-${ctx.attempt}`);
    await rm(outputDir, { recursive: true, force: true });
    await mkdir(outputDir, { recursive: true });

    const [file, ...args] =
      typeof config.command === 'string' ? ['/bin/sh', '-c', config.command] : config.command;
    const timeoutMs = config.timeout === undefined ? undefined : timerDelay(parseDuration(config.timeout));
    ctx.log.info(`running ${describeCommand(config)}`, { cwd, timeout: config.timeout });
    const started = Date.now();
    const result = await runProcess({
      file: file ?? '',
      args,
      cwd,
      env: childEnvironment(ctx, config, outputDir),
      timeoutMs,
      graceMs: parseDuration(config.kill_grace) ?? 10_000,
      signal: ctx.signal,
      maxLines: config.log_lines,
      onLine: (stream, line) => (stream === 'stderr' ? ctx.log.warn(line) : ctx.log.info(line)),
      onCapped: () =>
        ctx.log.warn(
          `output limit reached: ${config.log_lines} line(s) logged; further lines are counted, not logged (raise with.log_lines to see more)`,
        ),
      onLeftovers: () =>
        ctx.log.warn('the command exited but left processes running in its group; stopping them'),
    });
    const elapsed = formatDuration(Date.now() - started);
    if (result.droppedLines > 0)
      ctx.log.warn(`${result.droppedLines} further line(s) of output were not logged`);

    if (result.outcome.kind === 'aborted') {
      const reason: unknown = ctx.signal.reason;
      throw reason instanceof PwError
        ? reason
        : new PwError('PW_CANCELLED', `Step '${ctx.stepId}' was cancelled; its process group was stopped`, {
            cause: toPwError(reason),
          });
    }
    const error = failure(ctx, config, result);
    if (error) throw error;
    ctx.log.info(`the command finished in ${elapsed}`);

    const files = await listOutputFiles(outputDir);
    const rows =
      config.dataset === undefined
        ? undefined
        : await loadDataset(ctx, files, config.dataset, config.dataset_format);
    const artifacts = await registerArtifacts(ctx, files);
    const bytes = files.reduce((sum, entry) => sum + entry.bytes, 0);
    if (artifacts.length > 0)
      ctx.log.info(`${artifacts.length} file(s), ${bytes} bytes, registered as artifacts`);
    return {
      ...(rows === undefined ? {} : { rows }),
      bytes,
      outputs: {
        exit_code: 0,
        files: artifacts.slice(0, 100).map((artifact) => artifact.name),
        output_lines: result.lines + result.droppedLines,
      },
    };
  },
});
