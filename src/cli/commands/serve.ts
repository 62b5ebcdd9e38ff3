/**
 * `pipewright serve`: the single-machine service. It keeps the pipeline definitions in the store in
 * step with the project folder, runs the scheduler, executes runs in a runner process it starts when
 * work is queued and that exits when idle (src/cli/runner-supervisor.ts), and
 * serves GET /health, /ready, the token-protected REST API under /api (src/api) and the web UI at /
 * (src/ui/server). It refuses to listen beyond loopback while no API token exists. Before it listens
 * it finishes the inbox batches a crash left (connectors/batch/recover-batches.ts), so no batch is
 * being received while that runs. It runs until SIGTERM or SIGINT, then shuts down gracefully and
 * exits 0.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { PwError } from '../../core/errors/pw-error.js';
import { VERSION } from '../../version.js';
import { startApiServer } from '../../api/server.js';
import { DefinitionSync } from '../../scheduler/definitions.js';
import { signallingQueuedRuns } from '../../scheduler/queue-signal.js';
import { consoleServiceLog } from '../../scheduler/service-log.js';
import { formatDuration } from '../../core/duration.js';
import { RunnerSupervisor } from '../runner-supervisor.js';
import { DEFAULT_RUNNER_IDLE_MS, RUNNER_ENV } from '../runner-protocol.js';
import { recoverInboxBatches } from '../../connectors/batch/recover-batches.js';
import {
  createFolderWatcher,
  createScheduler,
  describeSettings,
  drainingMessage,
  openServiceSession,
  pausedPipelines,
  parseConcurrency,
  pipelineOverview,
  untilShutdownSignal,
} from '../service-process.js';

export interface ServeOptions {
  host: string;
  port: string;
  concurrency: string;
  /** Extra lines for the start-up banner, given the server's base URL (the demo's hints). */
  notes?: (url: string) => string[];
}

export async function serveCommand(globals: GlobalOptions, options: ServeOptions): Promise<number> {
  const port = parsePort(options.port);
  const concurrency = parseConcurrency(options.concurrency);
  const shutdown = untilShutdownSignal();
  const log = consoleServiceLog('serve');
  try {
    const opened = await openServiceSession(globals);
    const runner = new RunnerSupervisor({
      projectDir: opened.project.dir,
      concurrency,
      store: opened.store,
      pollMs: opened.settings.pollMs,
      idleMs: runnerIdleMs(),
      graceMs: opened.settings.graceMs,
      log: consoleServiceLog('runner'),
    });
    // Runs queued by the scheduler, the API or a watched folder of this process start at once.
    const session = { ...opened, store: signallingQueuedRuns(opened.store, () => runner.nudge()) };
    const { project, store, settings, storeLabel } = session;
    try {
      await recoverInboxBatches({ project, store, log: consoleServiceLog('inbox') });
      const definitions = new DefinitionSync({ project, store, log: consoleServiceLog('definitions') });
      let synced = false;
      // Listening first, so /health answers while the definitions load; /ready waits for them.
      const http = await startApiServer({
        host: options.host,
        port,
        version: VERSION,
        store,
        project,
        pipelines: () => definitions.pipelines(),
        log: consoleServiceLog('http'),
        ready: async () => {
          if (!synced) return false;
          const queued = await store.countRuns({ status: 'queued' });
          return { queued, running_here: runner.running, pipelines: definitions.pipelines().length };
        },
      });
      try {
        const { pipelines } = await definitions.start();
        synced = true;
        const paused = await pausedPipelines(store);
        const scheduler = createScheduler(session, definitions, consoleServiceLog('scheduler'));
        process.stdout.write(
          [
            `Pipewright ${VERSION} serving ${project.dir}`,
            `  state store: ${storeLabel}`,
            `  pipelines (${project.spec.pipelines_dir}/ is watched for changes):`,
            ...pipelineOverview(pipelines, project.spec.timezone, paused).map((line) => `  ${line}`),
            `  scheduler: checks every ${formatDuration(settings.tickMs)} and when a slot is due`,
            `  runs: ${concurrency} at once in a runner process started when work is queued, exiting after ${formatDuration(runnerIdleMs())} idle (${describeSettings(session)})`,
            `  http: ${http.url}/health, ${http.url}/ready and the REST API at ${http.url}/api (docs: ${http.url}/api/docs)`,
            `  web UI: ${http.url}/ (sign in with an API token)`,
            ...(options.notes?.(http.url) ?? []),
            'Stop with Ctrl-C or SIGTERM; running runs get the grace period to finish.',
            '',
          ].join('\n'),
        );
        scheduler.start();
        const watcher = createFolderWatcher(session, definitions, consoleServiceLog('watch'));
        watcher.start();
        runner.start();

        const signal = await shutdown.signal;
        log('info', drainingMessage(signal, settings));
        await scheduler.stop();
        await watcher.stop();
        definitions.stop();
        await runner.stop();
      } finally {
        definitions.stop();
        await http.close();
      }
    } finally {
      await store.close();
    }
    log('info', 'stopped');
    return EXIT.ok;
  } finally {
    shutdown.dispose();
  }
}

function runnerIdleMs(): number {
  const raw = process.env[RUNNER_ENV.idleMs]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_RUNNER_IDLE_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 100) {
    throw new PwError('PW_USAGE', `${RUNNER_ENV.idleMs} expects a whole number ≥ 100, found '${raw}'`, {
      hint: `Unset it to use the default (${DEFAULT_RUNNER_IDLE_MS}).`,
    });
  }
  return value;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new PwError('PW_USAGE', `--port expects a port number from 0 to 65535, found '${text}'`, {
      hint: '0 picks a free port.',
    });
  }
  return port;
}
