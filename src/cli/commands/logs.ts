/**
 * `pipewright logs <run>`: the run's log lines, in order. With `--follow`, it keeps printing new lines
 * until the run has finished: locally by polling the store, against a server by reading the API's
 * Server-Sent Events stream. Ctrl-C stops following (exit 0); the run goes on.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { GlobalOptions } from '../main.js';
import { withProjectStore } from '../project-session.js';
import { EXIT } from '../exit-codes.js';
import { resolveRun } from '../resolve-run.js';
import { formatLogLine } from '../log-line.js';
import { styleFor } from '../style.js';
import { logEntryToJson, type LogEntryJson } from '../json-output.js';
import { abortOnInterrupt } from '../interrupt.js';
import { orphanNote } from '../run-liveness.js';
import { isFinished } from '../../scheduler/run-control.js';
import { PwError } from '../../core/errors/pw-error.js';
import type { StoredLogEntry } from '../../store/state-store.js';
import type { ApiClient } from '../remote/api-client.js';
import { problemToPwError } from '../remote/api-client.js';
import { connect } from '../remote/connection.js';
import { resolveRemoteRun, runPath } from '../remote/remote-runs.js';

const PAGE = 1000;
/** How often `--follow` reads the store for new lines (the API's stream polls as often). */
const FOLLOW_POLL_MS = 500;

export interface LogsOptions {
  step?: string;
  json?: boolean;
  follow?: boolean;
}

export async function logsCommand(
  globals: GlobalOptions,
  idOrPrefix: string,
  options: LogsOptions,
): Promise<number> {
  const style = styleFor(process.stdout);
  const print = (entry: StoredLogEntry) =>
    process.stdout.write(
      options.json ? `${JSON.stringify(logEntryToJson(entry))}\n` : `${formatLogLine(entry, style)}\n`,
    );
  const client = await connect(globals);
  if (client) {
    await remoteLogs(client, idOrPrefix, options, print);
    return EXIT.ok;
  }
  return withProjectStore(globals, async ({ store }) => {
    const run = await resolveRun(store, idOrPrefix);
    const interrupt = options.follow ? abortOnInterrupt() : undefined;
    try {
      let afterId: number | undefined;
      for (;;) {
        // Status before lines: every line written before the run finished is in the read that follows.
        const current = interrupt ? await store.getRun(run.id) : undefined;
        const page = await store.listLogs(run.id, {
          limit: PAGE,
          ...(afterId === undefined ? {} : { afterId }),
          ...(options.step === undefined ? {} : { stepId: options.step }),
        });
        for (const entry of page) print(entry);
        afterId = page.at(-1)?.id ?? afterId;
        if (page.length === PAGE) continue;
        if (!interrupt || current === undefined || isFinished(current.status)) break;
        // A run whose process died says `running` for ever: say so instead of waiting.
        const orphan = orphanNote(current);
        if (orphan !== undefined) {
          process.stderr.write(`Stopped following run ${run.id}: ${orphan}\n`);
          break;
        }
        if (!(await pause(FOLLOW_POLL_MS, interrupt.signal))) break;
      }
    } finally {
      interrupt?.dispose();
    }
    return EXIT.ok;
  });
}

/** Resolves false when the signal aborts first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return delay(ms, undefined, { signal }).then(
    () => true,
    () => false,
  );
}

async function remoteLogs(
  client: ApiClient,
  idOrPrefix: string,
  options: LogsOptions,
  print: (entry: StoredLogEntry) => void,
): Promise<void> {
  const run = await resolveRemoteRun(client, idOrPrefix);
  const path = `${runPath(run.id)}/logs`;
  const entryOf = (json: LogEntryJson): StoredLogEntry => ({
    id: json.id,
    runId: run.id,
    at: new Date(json.at),
    level: json.level,
    stepId: json.step ?? undefined,
    message: json.message,
    data: json.data ?? undefined,
  });
  if (!options.follow) {
    let after: number | undefined;
    for (;;) {
      const page = await client.get<{ logs: LogEntryJson[] }>(path, {
        after,
        step: options.step,
        limit: PAGE,
      });
      for (const json of page.logs) print(entryOf(json));
      if (page.logs.length < PAGE) return;
      after = page.logs.at(-1)?.id;
    }
  }
  const interrupt = abortOnInterrupt();
  let ended = false;
  try {
    const outcome = await client.stream(
      path,
      { step: options.step },
      (event) => {
        if (event.event === 'log') print(entryOf(eventData(event.data, client) as LogEntryJson));
        else if (event.event === 'end') ended = true;
        else if (event.event === 'error') {
          const problem = eventData(event.data, client) as { status?: unknown };
          throw problemToPwError(
            problem,
            typeof problem.status === 'number' ? problem.status : 500,
            client.server,
          );
        }
      },
      interrupt.signal,
    );
    if (outcome === 'aborted' || ended) return;
    throw new PwError(
      'PW_SERVER_UNREACHABLE',
      `The server at ${client.server} ended the log of run ${run.id} before the run finished`,
      { hint: `It may be restarting; follow the run again with: pipewright logs --follow ${run.id}` },
    );
  } finally {
    interrupt.dispose();
  }
}

function eventData(data: string, client: ApiClient): unknown {
  try {
    return JSON.parse(data);
  } catch (error) {
    throw new PwError(
      'PW_SERVER_UNREACHABLE',
      `The server at ${client.server} sent a log event that is not JSON`,
      {
        cause: error,
      },
    );
  }
}
