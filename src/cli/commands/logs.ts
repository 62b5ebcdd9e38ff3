/** `pipewright logs <run>`: the run's log lines, in order. */
import type { GlobalOptions } from '../main.js';
import { withProjectStore } from '../project-session.js';
import { EXIT } from '../exit-codes.js';
import { resolveRun } from '../resolve-run.js';
import { formatLogLine } from '../log-line.js';
import { styleFor } from '../style.js';

const PAGE = 1000;

export async function logsCommand(
  globals: GlobalOptions,
  idOrPrefix: string,
  options: { step?: string; json?: boolean },
): Promise<number> {
  return withProjectStore(globals, async ({ store }) => {
    const run = await resolveRun(store, idOrPrefix);
    const style = styleFor(process.stdout);
    let afterId: number | undefined;
    for (;;) {
      const page = await store.listLogs(run.id, {
        limit: PAGE,
        ...(afterId === undefined ? {} : { afterId }),
        ...(options.step === undefined ? {} : { stepId: options.step }),
      });
      for (const entry of page) {
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ id: entry.id, at: entry.at.toISOString(), level: entry.level, step: entry.stepId ?? null, message: entry.message, data: entry.data ?? null })}\n`
            : `${formatLogLine(entry, style)}\n`,
        );
      }
      if (page.length < PAGE) break;
      afterId = page.at(-1)?.id;
    }
    return EXIT.ok;
  });
}
