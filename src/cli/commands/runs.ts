/** `pipewright runs`: recent runs, newest first. */
import type { GlobalOptions } from '../main.js';
import { withProjectStore } from '../project-session.js';
import { EXIT } from '../exit-codes.js';
import { PwError } from '../../core/errors/pw-error.js';
import type { RunStatus } from '../../store/state-store.js';
import { formatDuration } from '../../core/duration.js';
import { renderTable, statusLabel } from '../render.js';
import { styleFor } from '../style.js';
import { runToJson } from '../json-output.js';
import { isOrphaned } from '../run-liveness.js';

export async function runsCommand(
  globals: GlobalOptions,
  options: { pipeline?: string; status?: string; limit: string; json?: boolean },
): Promise<number> {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new PwError('PW_USAGE', `--limit expects a positive whole number, found '${options.limit}'`);
  }
  return withProjectStore(globals, async ({ store }) => {
    const runs = await store.listRuns({
      pipelineId: options.pipeline,
      status: options.status as RunStatus | undefined,
      limit,
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(runs.map(runToJson), null, 2)}\n`);
      return EXIT.ok;
    }
    if (runs.length === 0) {
      process.stdout.write('No runs yet. Start one with: pipewright run <pipeline>\n');
      return EXIT.ok;
    }
    const style = styleFor(process.stdout);
    const rows = runs.map((run) => [
      run.id,
      run.pipelineId,
      isOrphaned(run)
        ? `${statusLabel(run.status, style)} ${style.yellow('(process gone)')}`
        : statusLabel(run.status, style),
      run.startedAt?.toISOString().replace('T', ' ').slice(0, 19) ?? '-',
      run.startedAt && run.finishedAt
        ? formatDuration(run.finishedAt.getTime() - run.startedAt.getTime())
        : '-',
      run.trigger,
      run.error ? `${run.error.code}${run.error.stepId ? ` in ${run.error.stepId}` : ''}` : '',
    ]);
    process.stdout.write(
      renderTable(['RUN', 'PIPELINE', 'STATUS', 'STARTED (UTC)', 'DURATION', 'TRIGGER', 'ERROR'], rows),
    );
    return EXIT.ok;
  });
}
