/**
 * The text of `runs` and `show`, drawn from the run JSON shapes (json-output.ts). Locally they come from
 * the store's records, remotely straight from the REST API, which answers the same shapes; so both
 * print the same table and the same detail.
 */
import { formatDuration } from '../core/duration.js';
import type { ArtifactJson, RunDetailJson, RunJson, StepAttemptJson } from './json-output.js';
import { renderTable, statusLabel } from './render.js';
import type { Style } from './style.js';

const took = (from: string | null, to: string | null): string | undefined =>
  from !== null && to !== null ? formatDuration(Date.parse(to) - Date.parse(from)) : undefined;

/** `show --json`: the run, its step attempts and its artifacts (without the API's download fields). */
export function runDetailOutput(detail: RunDetailJson): RunDetailJson {
  return { ...detail, steps: detail.steps.map(stepOutput), artifacts: detail.artifacts.map(artifactOutput) };
}

/** rows_in/rows_out are the web UI's (they need the pipeline's plan); `show` prints `rows` as locally. */
function stepOutput(step: StepAttemptJson & { rows_in?: unknown; rows_out?: unknown }): StepAttemptJson {
  const { rows_in: _in, rows_out: _out, ...rest } = step;
  return rest;
}

function artifactOutput(artifact: ArtifactJson & { id?: unknown; download?: unknown }): ArtifactJson {
  const { id: _id, download: _download, ...rest } = artifact;
  return rest;
}

export function renderRunsTable(runs: readonly RunJson[], style: Style): string {
  const rows = runs.map((run) => [
    run.id,
    run.pipeline,
    run.orphaned
      ? `${statusLabel(run.status, style)} ${style.yellow('(process gone)')}`
      : statusLabel(run.status, style),
    run.started_at?.replace('T', ' ').slice(0, 19) ?? '-',
    took(run.started_at, run.finished_at) ?? '-',
    run.trigger,
    run.error ? `${run.error.code}${run.error.step ? ` in ${run.error.step}` : ''}` : '',
  ]);
  return renderTable(['RUN', 'PIPELINE', 'STATUS', 'STARTED (UTC)', 'DURATION', 'TRIGGER', 'ERROR'], rows);
}

export interface RunDetailNotes {
  /** False when the workspace is known to be gone; undefined when it cannot be checked from here. */
  workspaceExists?: boolean | undefined;
  /** Why a run marked running has no live process, when it has none. */
  orphan?: string | undefined;
}

export function renderRunDetail(detail: RunDetailJson, style: Style, notes: RunDetailNotes = {}): string {
  const { steps, artifacts } = detail;
  const duration = took(detail.started_at, detail.finished_at);
  const lines = [
    `${style.bold(`Run ${detail.id}`)}  ${detail.pipeline}  ${statusLabel(detail.status, style)}`,
    `  trigger: ${detail.trigger}   revision: ${detail.revision}   attempt: ${detail.attempt}`,
    `  scheduled for: ${detail.scheduled_for ?? '-'}`,
    `  started: ${detail.started_at ?? '-'}   finished: ${detail.finished_at ?? '-'}${duration ? ` (${duration})` : ''}`,
  ];
  const params = Object.entries(detail.params);
  if (params.length > 0)
    lines.push(`  params: ${params.map(([key, value]) => `${key}=${String(value)}`).join(' ')}`);
  if (detail.workspace)
    lines.push(`  workspace: ${detail.workspace}${notes.workspaceExists === false ? ' (removed)' : ''}`);
  if (notes.orphan) lines.push(`  ${style.yellow('note:')} ${notes.orphan}`);
  let text = `${lines.join('\n')}\n\n`;

  if (steps.length > 0) {
    text += renderTable(
      ['STEP', 'ATTEMPT', 'STATUS', 'ROWS', 'DURATION', 'NOTE'],
      steps.map((attempt) => [
        attempt.step,
        String(attempt.attempt),
        statusLabel(attempt.status, style),
        attempt.rows === null ? '' : String(attempt.rows),
        took(attempt.started_at, attempt.finished_at) ?? '-',
        note(attempt),
      ]),
    );
  }
  if (detail.error) {
    text += `\n${style.red(`error[${detail.error.code}]`)}${detail.error.step ? ` in step '${detail.error.step}'` : ''}: ${detail.error.message}\n`;
    if (detail.error.hint) text += `  ${style.cyan('hint:')} ${detail.error.hint}\n`;
  }
  const warnings = steps.flatMap((attempt) =>
    attempt.warnings.map((warning) => `${attempt.step}: ${warning}`),
  );
  if (warnings.length > 0)
    text += `\n${style.yellow('Warnings')}\n${warnings.map((warning) => `  ${warning}`).join('\n')}\n`;
  if (artifacts.length > 0) {
    text += `\nArtifacts\n`;
    text += renderTable(
      ['STEP', 'NAME', 'BYTES', 'PATH'],
      artifacts.map((artifact) => [
        artifact.step ?? '',
        artifact.name,
        String(artifact.bytes),
        artifact.deleted_at ? '(deleted by retention)' : artifact.path,
      ]),
    );
  }
  const deliveries = detail.deliveries ?? [];
  if (deliveries.length > 0) {
    text += `\nDeliveries\n`;
    text += renderTable(
      ['FROM', 'KIND', 'STATUS', 'TO', 'SUBJECT', 'NOTE'],
      deliveries.map((delivery) => [
        delivery.step ?? delivery.event,
        delivery.kind,
        delivery.status === 'failed' ? style.red(delivery.status) : delivery.status,
        delivery.target,
        delivery.subject ?? '',
        (delivery.error ?? '').split('\n')[0]?.slice(0, 100) ?? '',
      ]),
    );
  }
  return text;
}

function note(attempt: StepAttemptJson): string {
  if (attempt.error)
    return `${attempt.error.code}: ${attempt.error.message.split('\n')[0] ?? ''}`.slice(0, 100);
  if (attempt.warnings.length > 0) return `${attempt.warnings.length} warning(s)`;
  return '';
}
