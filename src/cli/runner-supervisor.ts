/**
 * `serve` executes runs in a child process, the runner (`pipewright worker --runner`), not in its
 * own. Three reasons, all about running unattended on small machines:
 * - Memory: DuckDB, exceljs, the chart libraries and Chromium's driver stay loaded in whichever process
 *   ran a step. The runner exits after `idleMs` without work, so an idle service holds only what the
 *   API and the scheduler need.
 * - Responsiveness: the runner lowers its CPU priority (`nice`), so on a 2-core machine the API and
 *   the web UI still answer while runs take both cores.
 * - Isolation: a crash in a native library ends the runner, not the service; the runner's lease
 *   expires and its run is resumed.
 *
 * The supervisor starts the runner when a run is queued in this process (`nudge()`), or when its
 * poll finds queued runs (queued by another process sharing the store), and forwards nudges to a
 * running runner over IPC. A runner that dies unexpectedly is started again with a growing delay.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { formatDuration } from '../core/duration.js';
import { toPwError } from '../core/errors/pw-error.js';
import { PACKAGE_ROOT } from '../package-root.js';
import type { ServiceLog } from '../scheduler/service-log.js';
import type { StateStore } from '../store/state-store.js';
import { RUNNER_ENV, type RunnerMessage, type SupervisorMessage } from './runner-protocol.js';

export interface RunnerSupervisorOptions {
  projectDir: string;
  concurrency: number;
  store: StateStore;
  /** How often the queue is checked while no runner is up. */
  pollMs: number;
  /** A runner with nothing to do exits after this long. */
  idleMs: number;
  /** How long a stopping runner may take (its runs' grace period) before it is killed. */
  graceMs: number;
  log: ServiceLog;
  env?: NodeJS.ProcessEnv;
}

const MAX_RESTART_DELAY_MS = 30_000;

export class RunnerSupervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private restartDelayMs = 0;
  private notBefore = 0;
  private reportedRunning = 0;

  constructor(private readonly options: RunnerSupervisorOptions) {}

  /** Runs executing in the runner now (as it last reported). */
  get running(): number {
    return this.child === undefined ? 0 : this.reportedRunning;
  }

  /** The runner's process id while one is up (tests, diagnostics). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.schedule(0);
  }

  /** A run was queued in this process: have the runner claim it now, starting it if needed. */
  nudge(): void {
    if (this.stopping) return;
    if (this.child !== undefined) {
      this.send({ type: 'nudge' });
      return;
    }
    if (Date.now() >= this.notBefore) this.spawn();
  }

  /** Stops the runner (its runs get the grace period) and stops watching the queue. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    const exited = this.exited;
    if (child === undefined || exited === undefined) return;
    child.kill('SIGTERM');
    const killTimer = setTimeout(() => {
      this.options.log('warn', `runner ${child.pid} still running after the grace period; killing it`);
      child.kill('SIGKILL');
    }, this.options.graceMs + 10_000);
    try {
      await exited;
    } finally {
      clearTimeout(killTimer);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), delayMs);
    this.timer.unref();
  }

  /** While no runner is up: start one when something is queued. */
  private async check(): Promise<void> {
    if (this.stopping || this.checking) return;
    this.checking = true;
    try {
      if (this.child === undefined && Date.now() >= this.notBefore) {
        const queued = await this.options.store.countRuns({ status: 'queued' });
        if (queued > 0 && this.child === undefined && !this.stopping) this.spawn();
      }
    } catch (error) {
      // The store's own outage handling logs it; the next check tries again.
      this.options.log('warn', `cannot read the queue: ${toPwError(error).message}`);
    } finally {
      this.checking = false;
      this.schedule(this.options.pollMs);
    }
  }

  private spawn(): void {
    const { options } = this;
    const args = [
      '--project',
      options.projectDir,
      'worker',
      '--runner',
      '--concurrency',
      String(options.concurrency),
    ];
    const child = fork(join(PACKAGE_ROOT, 'bin', 'pipewright.js'), args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...(options.env ?? process.env), [RUNNER_ENV.idleMs]: String(options.idleMs) },
      // The service's own flags (a profiler, a preload) are not the runner's business.
      execArgv: process.execArgv.filter((flag) => flag === '--enable-source-maps'),
    });
    this.child = child;
    this.reportedRunning = 0;
    const startedAt = Date.now();
    child.on('message', (message: RunnerMessage) => {
      if (message.type === 'running') this.reportedRunning = message.count;
    });
    // An IPC write to a runner that is just exiting fails; its exit handler takes over.
    child.on('error', (error) => options.log('warn', `runner: ${error.message}`));
    this.exited = once(child, 'exit').then(([code, signal]) => {
      this.child = undefined;
      this.exited = undefined;
      this.reportedRunning = 0;
      this.onExit(code as number | null, signal as NodeJS.Signals | null, Date.now() - startedAt);
    });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, livedMs: number): void {
    if (this.stopping) return;
    if (code === 0) {
      // An idle exit: look at the queue at once, in case a run came in while it was leaving.
      this.restartDelayMs = 0;
      this.schedule(0);
      return;
    }
    // A crash: start again, after a delay that grows while crashes follow each other closely.
    this.restartDelayMs =
      livedMs > MAX_RESTART_DELAY_MS
        ? 1_000
        : Math.min(MAX_RESTART_DELAY_MS, this.restartDelayMs * 2 || 1_000);
    this.notBefore = Date.now() + this.restartDelayMs;
    this.options.log(
      'error',
      `runner exited unexpectedly (${signal ?? `code ${code}`}); its runs are resumed after their leases expire; ` +
        `starting a new runner when work is queued, not before ${formatDuration(this.restartDelayMs)}`,
    );
    this.schedule(this.restartDelayMs);
  }

  private send(message: SupervisorMessage): void {
    const child = this.child;
    if (child === undefined || !child.connected) return;
    child.send(message, (error) => {
      if (error) this.options.log('warn', `could not reach the runner: ${error.message}`);
    });
  }
}
