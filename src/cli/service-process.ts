/**
 * What the long-running commands (`serve`, `worker`, `scheduler`) share: settings from the
 * environment, the project and store they open, the pipeline overview they print, and the graceful
 * shutdown on SIGTERM/SIGINT (a second signal quits at once).
 */
import { FolderWatcher } from '../scheduler/watch/folder-watcher.js';
import { PwError } from '../core/errors/pw-error.js';
import { loadProject, type Project } from '../project/load-project.js';
import { openStateStore, STATE_URL_ENV } from '../store/open-store.js';
import type { StateStore } from '../store/state-store.js';
import type { DefinitionSync, SyncedPipeline } from '../scheduler/definitions.js';
import { Worker } from '../scheduler/worker.js';
import { Scheduler } from '../scheduler/scheduler-loop.js';
import type { ServiceLog } from '../scheduler/service-log.js';
import { DEFAULT_GRACE_MS, DEFAULT_LEASE_MS, DEFAULT_POLL_MS } from '../scheduler/worker.js';
import { DEFAULT_MAX_RUN_ATTEMPTS, DEFAULT_TICK_MS } from '../scheduler/scheduler-loop.js';
import { formatDuration } from '../core/duration.js';
import { Redactor } from '../core/secrets.js';
import { sendOverdueNotifications } from '../notify/notify.js';
import { scheduleLine } from './describe-schedule.js';
import type { GlobalOptions } from './main.js';

export interface ServiceSettings {
  leaseMs: number;
  graceMs: number;
  pollMs: number;
  tickMs: number;
  maxRunAttempts: number;
}

/** Environment variables that tune the service (all optional; documented in docs/operations.md). */
export const SERVICE_ENV = {
  leaseMs: 'PIPEWRIGHT_LEASE_MS',
  graceMs: 'PIPEWRIGHT_SHUTDOWN_GRACE_MS',
  pollMs: 'PIPEWRIGHT_POLL_MS',
  tickMs: 'PIPEWRIGHT_TICK_MS',
  maxRunAttempts: 'PIPEWRIGHT_MAX_RUN_ATTEMPTS',
} as const;

export function serviceSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ServiceSettings {
  const read = (name: string, fallback: number, min: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      throw new PwError('PW_USAGE', `${name} expects a whole number ≥ ${min}, found '${raw}'`, {
        hint: `Unset ${name} to use the default (${fallback}).`,
      });
    }
    return value;
  };
  return {
    leaseMs: read(SERVICE_ENV.leaseMs, DEFAULT_LEASE_MS, 300),
    graceMs: read(SERVICE_ENV.graceMs, DEFAULT_GRACE_MS, 0),
    pollMs: read(SERVICE_ENV.pollMs, DEFAULT_POLL_MS, 10),
    tickMs: read(SERVICE_ENV.tickMs, DEFAULT_TICK_MS, 100),
    maxRunAttempts: read(SERVICE_ENV.maxRunAttempts, DEFAULT_MAX_RUN_ATTEMPTS, 1),
  };
}

export function parseConcurrency(text: string, option = '--concurrency'): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 64) {
    throw new PwError('PW_USAGE', `${option} expects a whole number from 1 to 64, found '${text}'`);
  }
  return value;
}

export interface ServiceSession {
  project: Project;
  store: StateStore;
  settings: ServiceSettings;
  /** Where the store is, for the start-up banner (passwords masked). */
  storeLabel: string;
}

export async function openServiceSession(globals: GlobalOptions): Promise<ServiceSession> {
  const settings = serviceSettings();
  const project = await loadProject(globals.project);
  const store = await openStateStore(project.spec.state, project.dir);
  const location = process.env[STATE_URL_ENV]?.trim() || project.spec.state;
  let storeLabel = `SQLite ${location}`;
  if (/^postgres(?:ql)?:\/\//i.test(location)) {
    // Loaded only here: the store already pulled in the PostgreSQL driver this module needs.
    const { redactPostgresUrl } = await import('../store/postgres/postgres-dialect.js');
    storeLabel = `PostgreSQL ${redactPostgresUrl(location)}`;
  }
  return { project, store, settings, storeLabel };
}

/** Resolves with the first SIGTERM or SIGINT; a second one exits at once with code 130. */
export function untilShutdownSignal(onSecond: () => void = () => process.exit(130)): {
  signal: Promise<NodeJS.Signals>;
  dispose: () => void;
} {
  let received: NodeJS.Signals | undefined;
  let resolveSignal: (signal: NodeJS.Signals) => void = () => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => (resolveSignal = resolve));
  const handler = (name: NodeJS.Signals) => {
    if (received) {
      process.stderr.write(
        `${name} again: quitting at once; running runs are resumed by the next worker after their lease expires\n`,
      );
      onSecond();
      return;
    }
    received = name;
    resolveSignal(name);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    signal,
    dispose: () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}

/** One line per pipeline: its schedule in words and next slot, or why it does not run. */
export function pipelineOverview(
  pipelines: readonly SyncedPipeline[],
  projectTimezone: string,
  paused: ReadonlySet<string>,
): string[] {
  if (pipelines.length === 0) return ['  (no pipelines yet: add pipelines/<id>.yaml; the folder is watched)'];
  const width = Math.max(...pipelines.map((pipeline) => pipeline.id.length));
  return pipelines.map((pipeline) => {
    const id = pipeline.id.padEnd(width);
    const pausedNote = paused.has(pipeline.id) ? ' [paused]' : '';
    if (pipeline.invalidReason !== undefined) {
      const runs =
        pipeline.revision === undefined ? 'not running' : `revision ${pipeline.revision} keeps running`;
      return `  ${id}  invalid (${runs}): ${pipeline.invalidReason}${pausedNote}`;
    }
    const schedule = pipeline.spec?.schedule;
    if (!schedule)
      return `  ${id}  no schedule; start it with: pipewright trigger ${pipeline.id}${pausedNote}`;
    return `  ${id}  ${scheduleLine(schedule, projectTimezone)} (catchup: ${schedule.catchup})${pausedNote}`;
  });
}

export function describeSettings(session: ServiceSession): string {
  const { settings, project } = session;
  const limit = project.spec.service.max_running;
  return [
    `lease ${formatDuration(settings.leaseMs)}`,
    `shutdown grace ${formatDuration(settings.graceMs)}`,
    ...(limit === undefined ? [] : [`at most ${limit} running across all workers`]),
  ].join(', ');
}

/** A worker configured from the session's settings; `serve` and `worker` differ only in where it runs. */
export function createWorker(session: ServiceSession, concurrency: number, log: ServiceLog): Worker {
  const { store, project, settings } = session;
  return new Worker({
    store,
    project,
    concurrency,
    leaseMs: settings.leaseMs,
    pollMs: settings.pollMs,
    graceMs: settings.graceMs,
    maxRunAttempts: settings.maxRunAttempts,
    // Every worker applies the limit when it claims, so it holds across processes sharing the store.
    ...(project.spec.service.max_running === undefined
      ? {}
      : { maxRunning: project.spec.service.max_running }),
    log,
  });
}

/** A scheduler over the pipelines the definition sync keeps in the store. */
export function createScheduler(
  session: ServiceSession,
  definitions: DefinitionSync,
  log: ServiceLog,
): Scheduler {
  return new Scheduler({
    store: session.store,
    projectTimezone: session.project.spec.timezone,
    pipelineIds: () => definitions.scheduledIds(),
    intervalMs: session.settings.tickMs,
    maxRunAttempts: session.settings.maxRunAttempts,
    log,
    // expect.success_within missed: the pipeline's on_failure notifications (src/notify/notify.ts).
    onOverdue: (overdue) =>
      sendOverdueNotifications({
        projectDir: session.project.dir,
        project: session.project.spec,
        store: session.store,
        env: process.env,
        redactor: new Redactor(),
        log: (level, message) => log(level, `${overdue.pipelineId}: ${message}`),
        pipeline: overdue.spec,
        window: overdue.window,
        lastSuccess: overdue.lastSuccess,
        now: overdue.now,
      }),
  });
}

/**
 * The watched folders: the routes of pipewright.yaml (`watch:`) and the `triggers: [{ watch }]` of the
 * pipelines the definitions sync found valid.
 */
export function createFolderWatcher(
  session: ServiceSession,
  definitions: DefinitionSync,
  log: ServiceLog,
): FolderWatcher {
  return new FolderWatcher({
    store: session.store,
    projectDir: session.project.dir,
    timezone: session.project.spec.timezone,
    pipelines: () =>
      definitions
        .pipelines()
        .flatMap((pipeline) =>
          pipeline.spec && pipeline.revision !== undefined
            ? [{ id: pipeline.id, revision: pipeline.revision, spec: pipeline.spec }]
            : [],
        ),
    routes: session.project.spec.watch,
    locate: session.project.locate,
    log,
  });
}

/** Pipelines paused through the CLI or API, for the start-up overview. */
export async function pausedPipelines(store: StateStore): Promise<Set<string>> {
  return new Set(
    (await store.listPipelineStates()).filter((state) => state.paused).map((state) => state.pipelineId),
  );
}

export function drainingMessage(signal: string, settings: ServiceSettings): string {
  return `${signal}: shutting down; no new runs are claimed, running ones get ${formatDuration(settings.graceMs)} to finish`;
}
