/**
 * `pipewright worker`: executes queued runs, nothing else (no scheduler, no HTTP). Several workers,
 * on one machine or several sharing a PostgreSQL store, divide the queue between them; each needs the
 * project folder for pipewright.yaml, workspaces and user-written step modules, but reads pipeline
 * definitions from the store. Runs until SIGTERM or SIGINT, then shuts down gracefully (exit 0).
 */
import { setPriority } from 'node:os';
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { VERSION } from '../../version.js';
import { consoleServiceLog } from '../../scheduler/service-log.js';
import { toPwError } from '../../core/errors/pw-error.js';
import type { ServiceLog } from '../../scheduler/service-log.js';
import type { Worker } from '../../scheduler/worker.js';
import {
  DEFAULT_RUNNER_IDLE_MS,
  DEFAULT_RUNNER_NICE,
  RUNNER_ENV,
  type RunnerMessage,
  type SupervisorMessage,
} from '../runner-protocol.js';
import {
  createWorker,
  describeSettings,
  drainingMessage,
  openServiceSession,
  parseConcurrency,
  untilShutdownSignal,
} from '../service-process.js';

export async function workerCommand(
  globals: GlobalOptions,
  options: { concurrency: string; runner?: boolean },
): Promise<number> {
  const concurrency = parseConcurrency(options.concurrency);
  // The runner gets SIGTERM twice when systemd signals the whole group and serve then passes the
  // signal on; serve decides when it is too late, so a second signal must not cut the grace short.
  const shutdown = options.runner === true ? untilShutdownSignal(() => {}) : untilShutdownSignal();
  const log = consoleServiceLog('worker');
  // Before anything starts threads (DuckDB's inherit it): serve's runner yields the CPU to the API.
  if (options.runner === true) lowerPriority(log);
  try {
    const session = await openServiceSession(globals);
    const { project, store, settings, storeLabel } = session;
    try {
      const worker = createWorker(session, concurrency, log);
      if (options.runner === true) {
        log('info', `runner ${process.pid} started (${concurrency} at once)`);
      } else {
        process.stdout.write(
          [
            `Pipewright ${VERSION} worker ${worker.id} for ${project.dir}`,
            `  state store: ${storeLabel}`,
            `  runs at once: ${concurrency} (${describeSettings(session)})`,
            'Stop with Ctrl-C or SIGTERM; running runs get the grace period to finish.',
            '',
          ].join('\n'),
        );
      }
      worker.start();
      const reason =
        options.runner === true
          ? await Promise.race([shutdown.signal, runnerEnd(worker)])
          : await shutdown.signal;
      if (reason === 'idle') log('info', `runner ${process.pid} idle; exiting`);
      else log('info', drainingMessage(reason, settings));
      await worker.stop();
    } finally {
      await store.close();
    }
    log('info', 'stopped');
    return EXIT.ok;
  } finally {
    shutdown.dispose();
    // The IPC channel to serve would keep this process alive after its work is done.
    if (options.runner === true && process.connected) process.disconnect();
  }
}

/**
 * The runner of `serve` (src/cli/runner-supervisor.ts) ends when it has had nothing to do for the
 * idle time ('idle'), or when the service is gone (its IPC channel closed: the service was killed),
 * which is handled like SIGTERM. Nudges from the service make the worker claim at once.
 */
function runnerEnd(worker: Worker): Promise<'idle' | 'SIGTERM'> {
  const idleMs = readNumber(process.env[RUNNER_ENV.idleMs], DEFAULT_RUNNER_IDLE_MS);
  let lastBusy = Date.now();
  let reported = -1;
  let started = worker.started;
  return new Promise((resolve) => {
    process.on('message', (message: SupervisorMessage) => {
      if (message.type !== 'nudge') return;
      lastBusy = Date.now();
      worker.nudge();
    });
    process.once('disconnect', () => resolve('SIGTERM'));
    const timer = setInterval(
      () => {
        const running = worker.running;
        if (running > 0 || worker.started !== started) lastBusy = Date.now();
        started = worker.started;
        if (running !== reported && process.connected) {
          reported = running;
          const message: RunnerMessage = { type: 'running', count: running };
          process.send?.(message);
        }
        if (Date.now() - lastBusy >= idleMs) {
          clearInterval(timer);
          resolve('idle');
        }
      },
      Math.min(1_000, idleMs),
    );
    // The worker's own loop keeps the process alive; this check must not once the worker has stopped.
    timer.unref();
  });
}

function lowerPriority(log: ServiceLog): void {
  const nice = readNumber(process.env[RUNNER_ENV.nice], DEFAULT_RUNNER_NICE);
  if (nice === 0) return;
  try {
    setPriority(nice);
  } catch (error) {
    log('warn', `cannot lower the runner's priority to nice ${nice}: ${toPwError(error).message}`);
  }
}

function readNumber(text: string | undefined, fallback: number): number {
  const value = Number(text);
  return text === undefined || text.trim() === '' || !Number.isFinite(value) ? fallback : value;
}
