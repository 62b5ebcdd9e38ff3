/**
 * `pipewright backfill <pipeline> --from <date|instant> --to <date|instant> [--param k=v]… [--yes]`:
 * queues one run per schedule slot in the range (trigger `backfill`, oldest first) for the service to
 * execute, and prints the run ids, one a line. Slots that already have a backfill run are left alone.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { findPipelineFile, loadPipeline } from '../../project/load-project.js';
import { SpecError } from '../../core/errors/pw-error.js';
import { parseParamArguments, resolveParams } from '../../core/params.js';
import { definitionHash } from '../../core/spec/revision-hash.js';
import { backfill, parseRangeBound } from '../../scheduler/backfill.js';

export async function backfillCommand(
  globals: GlobalOptions,
  pipelineId: string,
  options: { from: string; to: string; param: string[]; yes?: boolean },
): Promise<number> {
  return withProjectStore(globals, async ({ project, store }) => {
    const loaded = await loadPipeline(project, await findPipelineFile(project, pipelineId));
    if (!loaded.ok) throw new SpecError(loaded.issues);
    const spec = loaded.spec;
    const timezone = spec.schedule?.timezone ?? project.spec.timezone;
    const from = parseRangeBound(options.from, timezone, false, '--from');
    const to = parseRangeBound(options.to, timezone, true, '--to');
    const params = resolveParams(spec.params, parseParamArguments(options.param));
    const now = new Date();
    const { revision } = await store.savePipelineRevision({
      pipelineId: spec.id,
      hash: definitionHash(spec),
      definition: spec,
      sourcePath: loaded.source.displayPath,
      at: now,
    });
    const result = await backfill({
      store,
      spec,
      revision: revision.revision,
      projectTimezone: project.spec.timezone,
      from,
      to,
      params,
      now,
      confirmed: options.yes === true,
    });
    const lines = [
      `${result.slots.length} slot${result.slots.length === 1 ? '' : 's'} of ${spec.id} from ${from.toISOString()} to ${to.toISOString()}: ` +
        `queued ${result.queued.length}${result.existing.length > 0 ? `, ${result.existing.length} already had a backfill run` : ''}.`,
    ];
    if (result.queued.length > 0)
      lines.push('`pipewright serve` or a `pipewright worker` executes them, oldest slot first.');
    process.stderr.write(`${lines.join('\n')}\n`);
    process.stdout.write(result.queued.map((run) => `${run.id}\n`).join(''));
    return EXIT.ok;
  });
}
