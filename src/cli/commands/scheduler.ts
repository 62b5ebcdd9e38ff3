/**
 * `pipewright scheduler`: keeps the pipeline definitions in the store in step with the project folder
 * and queues scheduled runs; workers (`pipewright worker`) execute them. Any number of schedulers may
 * run at once: each slot is queued once. Runs until SIGTERM or SIGINT (exit 0).
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { VERSION } from '../../version.js';
import { DefinitionSync } from '../../scheduler/definitions.js';
import { consoleServiceLog } from '../../scheduler/service-log.js';
import { formatDuration } from '../../core/duration.js';
import {
  createFolderWatcher,
  createScheduler,
  openServiceSession,
  pausedPipelines,
  pipelineOverview,
  untilShutdownSignal,
} from '../service-process.js';

export async function schedulerCommand(globals: GlobalOptions): Promise<number> {
  const shutdown = untilShutdownSignal();
  const log = consoleServiceLog('scheduler');
  try {
    const session = await openServiceSession(globals);
    const { project, store, settings, storeLabel } = session;
    try {
      const definitions = new DefinitionSync({ project, store, log: consoleServiceLog('definitions') });
      try {
        const { pipelines } = await definitions.start();
        const paused = await pausedPipelines(store);
        const scheduler = createScheduler(session, definitions, log);
        process.stdout.write(
          [
            `Pipewright ${VERSION} scheduler for ${project.dir}`,
            `  state store: ${storeLabel}`,
            `  pipelines (${project.spec.pipelines_dir}/ is watched for changes):`,
            ...pipelineOverview(pipelines, project.spec.timezone, paused).map((line) => `  ${line}`),
            `  checks every ${formatDuration(settings.tickMs)} and when a slot is due; runs are executed by \`pipewright worker\` processes`,
            'Stop with Ctrl-C or SIGTERM.',
            '',
          ].join('\n'),
        );
        scheduler.start();
        const watcher = createFolderWatcher(session, definitions, consoleServiceLog('watch'));
        watcher.start();
        const signal = await shutdown.signal;
        log('info', `${signal}: shutting down`);
        await scheduler.stop();
        await watcher.stop();
      } finally {
        definitions.stop();
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
