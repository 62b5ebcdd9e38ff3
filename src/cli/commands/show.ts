/** `pipewright show <run>`: one run with its steps, errors, warnings and artifacts. */
import type { GlobalOptions } from '../main.js';
import { withProjectStore } from '../project-session.js';
import { EXIT } from '../exit-codes.js';
import { resolveRun } from '../resolve-run.js';
import { artifactToJson, runToJson, stepAttemptToJson } from '../json-output.js';
import { renderTable, statusLabel } from '../render.js';
import { styleFor } from '../style.js';
import { existsSync } from 'node:fs';
import { formatDuration } from '../../core/duration.js';
import { orphanNote } from '../run-liveness.js';
import type { StepAttemptRecord } from '../../store/state-store.js';

export async function showCommand(
  globals: GlobalOptions,
  idOrPrefix: string,
  options: { json?: boolean },
): Promise<number> {
  return withProjectStore(globals, async ({ store }) => {
    const run = await resolveRun(store, idOrPrefix);
    const attempts = await store.listStepAttempts(run.id);
    const artifacts = await store.listArtifacts(run.id);
    if (options.json) {
      const payload = {
        ...runToJson(run),
        steps: attempts.map(stepAttemptToJson),
        artifacts: artifacts.map(artifactToJson),
      };
      process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
      return EXIT.ok;
    }
    const style = styleFor(process.stdout);
    const took =
      run.startedAt && run.finishedAt
        ? ` (${formatDuration(run.finishedAt.getTime() - run.startedAt.getTime())})`
        : '';
    const lines = [
      `${style.bold(`Run ${run.id}`)}  ${run.pipelineId}  ${statusLabel(run.status, style)}`,
      `  trigger: ${run.trigger}   revision: ${run.revision}   attempt: ${run.attempt}`,
      `  scheduled for: ${run.scheduledFor.toISOString()}`,
      `  started: ${run.startedAt?.toISOString() ?? '-'}   finished: ${run.finishedAt?.toISOString() ?? '-'}${took}`,
    ];
    const params = Object.entries(run.params);
    if (params.length > 0)
      lines.push(`  params: ${params.map(([key, value]) => `${key}=${String(value)}`).join(' ')}`);
    if (run.workspace)
      lines.push(`  workspace: ${run.workspace}${existsSync(run.workspace) ? '' : ' (removed)'}`);
    const orphan = orphanNote(run);
    if (orphan) lines.push(`  ${style.yellow('note:')} ${orphan}`);
    process.stdout.write(`${lines.join('\n')}\n\n`);

    if (attempts.length > 0) {
      process.stdout.write(
        renderTable(
          ['STEP', 'ATTEMPT', 'STATUS', 'ROWS', 'DURATION', 'NOTE'],
          attempts.map((attempt) => [
            attempt.stepId,
            String(attempt.attempt),
            statusLabel(attempt.status, style),
            attempt.rows === undefined ? '' : String(attempt.rows),
            attempt.finishedAt
              ? formatDuration(attempt.finishedAt.getTime() - attempt.startedAt.getTime())
              : '-',
            note(attempt),
          ]),
        ),
      );
    }
    if (run.error) {
      process.stdout.write(
        `\n${style.red(`error[${run.error.code}]`)}${run.error.stepId ? ` in step '${run.error.stepId}'` : ''}: ${run.error.message}\n`,
      );
      if (run.error.hint) process.stdout.write(`  ${style.cyan('hint:')} ${run.error.hint}\n`);
    }
    const warnings = attempts.flatMap((attempt) =>
      (attempt.warnings ?? []).map((warning) => `${attempt.stepId}: ${warning}`),
    );
    if (warnings.length > 0)
      process.stdout.write(
        `\n${style.yellow('Warnings')}\n${warnings.map((warning) => `  ${warning}`).join('\n')}\n`,
      );
    if (artifacts.length > 0) {
      process.stdout.write(`\nArtifacts\n`);
      process.stdout.write(
        renderTable(
          ['STEP', 'NAME', 'BYTES', 'PATH'],
          artifacts.map((artifact) => [
            artifact.stepId ?? '',
            artifact.name,
            String(artifact.bytes),
            artifact.deletedAt ? '(deleted by retention)' : artifact.path,
          ]),
        ),
      );
    }
    return EXIT.ok;
  });
}

function note(attempt: StepAttemptRecord): string {
  if (attempt.error)
    return `${attempt.error.code}: ${attempt.error.message.split('\n')[0] ?? ''}`.slice(0, 100);
  if (attempt.warnings && attempt.warnings.length > 0) return `${attempt.warnings.length} warning(s)`;
  return '';
}
