/**
 * `pipewright worker`: executes queued runs, nothing else (no scheduler, no HTTP). Several workers,
 * on one machine or several sharing a PostgreSQL store, divide the queue between them; each needs the
 * project folder for pipewright.yaml, workspaces and user-written step modules, but reads pipeline
 * definitions from the store. Runs until SIGTERM or SIGINT, then shuts down gracefully (exit 0).
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { VERSION } from '../../version.js';
import { consoleServiceLog } from '../../scheduler/service-log.js';
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
  options: { concurrency: string },
): Promise<number> {
  const concurrency = parseConcurrency(options.concurrency);
  const shutdown = untilShutdownSignal();
  const log = consoleServiceLog('worker');
  try {
    const session = await openServiceSession(globals);
    const { project, store, settings, storeLabel } = session;
    try {
      const worker = createWorker(session, concurrency, log);
      process.stdout.write(
        [
          `Pipewright ${VERSION} worker ${worker.id} for ${project.dir}`,
          `  state store: ${storeLabel}`,
          `  runs at once: ${concurrency} (${describeSettings(session)})`,
          'Stop with Ctrl-C or SIGTERM; running runs get the grace period to finish.',
          '',
        ].join('\n'),
      );
      worker.start();
      const signal = await shutdown.signal;
      log('info', drainingMessage(signal, settings));
      await worker.stop();
    } finally {
      await store.close();
    }
    log('info', 'stopped');
    return EXIT.ok;
  } finally {
    shutdown.dispose();
  }
}
