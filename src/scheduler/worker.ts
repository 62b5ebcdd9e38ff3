/**
 * A worker executes queued runs: it claims one at a time per free slot (`concurrency` slots) with a
 * lease, runs it with the definition revision it was queued with, and keeps the lease alive by
 * heartbeat while the run goes.
 *
 * - Idle, it polls the queue every `pollMs` (default 250 ms); it claims again as soon as a slot frees,
 *   and at once when `nudge()` says a run was queued (`serve` does so for runs queued in its process).
 * - Heartbeat: every leaseMs/3 the lease is renewed. When renewal fails, the lease expired and the
 *   run was requeued for someone else: the run is aborted here without recording its end.
 * - Cancel: the run record is read every couple of seconds; `cancelRequestedAt` aborts the run's
 *   signal, which reaches the running steps, and the run ends `cancelled`.
 * - Lost workers: expired leases are returned to the queue (also done by the scheduler), so a worker
 *   killed with SIGKILL has its run resumed by another from the last checkpoint after leaseMs.
 * - `stop()`: no more claims; running runs get `graceMs` (default 30 s) to finish, then they are
 *   aborted. Each is recorded `cancelled` at its checkpoint and then put back in the queue (attempt + 1)
 *   so that another worker, or this one after a restart, resumes it from its last finished step.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { PwError, toPwError } from '../core/errors/pw-error.js';
import { formatDuration } from '../core/duration.js';
import { assertSecrets } from '../core/secrets.js';
import { pipelineSchema, type PipelineSpec } from '../core/spec/pipeline-schema.js';
import { patientStore } from '../engine/patient-store.js';
import { executeRun } from '../engine/execute-run.js';
import type { RunListener } from '../engine/run-events.js';
import type { Project } from '../project/load-project.js';
import { loadUserStep, moduleReferences } from '../project/user-steps.js';
import { listPipelineFiles } from '../project/load-project.js';
import type { StepRegistry } from '../steps/registry.js';
import type { RunRecord, StateStore } from '../store/state-store.js';
import { silentLog, type ServiceLog } from './service-log.js';
import { DEFAULT_MAX_RUN_ATTEMPTS } from './scheduler-loop.js';
import { PipelineSettings } from './pipeline-settings.js';
import { queueDownstreamRuns } from './upstream.js';

export const DEFAULT_LEASE_MS = 60_000;
export const DEFAULT_POLL_MS = 250;
export const DEFAULT_GRACE_MS = 30_000;
const CANCEL_POLL_MS = 2_000;

export interface WorkerOptions {
  store: StateStore;
  project: Project;
  /** Runs executed at once (default 1). */
  concurrency?: number;
  leaseMs?: number;
  pollMs?: number;
  graceMs?: number;
  maxRunAttempts?: number;
  /** Also return expired leases to the queue (default true), so workers alone recover lost runs. */
  requeueExpired?: boolean;
  workerId?: string;
  clock?: () => Date;
  env?: Readonly<Record<string, string | undefined>>;
  log?: ServiceLog;
  /** Most runs running at once across all workers (global limit; default none). */
  maxRunning?: number;
  /**
   * The pipelines whose `max_active_runs` limits apply (default: the files in the project's pipelines
   * folder); their latest revisions are read every `limitsRefreshMs` (default 5 s).
   */
  pipelineIds?: () => Iterable<string>;
  limitsRefreshMs?: number;
  /** Every event of every run this worker executes (live progress for an API later). */
  listener?: (runId: string, ...event: Parameters<RunListener>) => void;
}

interface ActiveRun {
  run: RunRecord;
  controller: AbortController;
  /** The lease was lost: someone else owns the run now. */
  lost: boolean;
  /** Aborted because this worker is shutting down. */
  shutdown: boolean;
  /** Aborted because someone asked to cancel it. */
  cancelRequested: boolean;
  done: Promise<void>;
}

interface PreparedRun {
  pipeline: PipelineSpec;
  registry: StepRegistry;
  sourcePath: string;
}

export class Worker {
  readonly id: string;
  private readonly store: StateStore;
  /** The same store, waiting out an outage: for what must not be given up lightly. */
  private readonly patientStore: StateStore;
  private readonly project: Project;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly clock: () => Date;
  private readonly log: ServiceLog;
  private readonly active = new Map<string, ActiveRun>();
  private stopping = false;
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** A nudge that came while the loop was claiming: the claim may have missed that run, so claim again. */
  private nudged = false;
  private lastRequeue = 0;
  private startedCount = 0;
  private readonly settings: PipelineSettings;

  constructor(private readonly options: WorkerOptions) {
    this.store = options.store;
    this.patientStore = patientStore(options.store);
    this.project = options.project;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.clock = options.clock ?? (() => new Date());
    this.log = options.log ?? silentLog;
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const ids =
      options.pipelineIds ?? (async () => (await listPipelineFiles(this.project)).map((file) => file.id));
    this.settings = new PipelineSettings(this.store, ids, options.limitsRefreshMs);
  }

  /** Re-reads the pipelines' `max_active_runs` at the next claim (call when definitions changed). */
  refreshLimits(): void {
    this.settings.invalidate();
  }

  /**
   * A run was just queued: claim now instead of at the next poll. Only a hint; a worker that is full
   * ignores it until a slot frees, and runs queued elsewhere are still found by polling.
   */
  nudge(): void {
    this.nudged = true;
    if (this.active.size < this.concurrency) this.wakeUp?.();
  }

  /** How many runs this worker is executing now. */
  get running(): number {
    return this.active.size;
  }

  /** How many runs this worker has started since it was created (a run shorter than a poll counts too). */
  get started(): number {
    return this.startedCount;
  }

  start(): void {
    if (this.loop || this.stopping) return;
    this.loop = this.claimLoop();
  }

  /**
   * Stops claiming, gives running runs `graceMs` to finish, then aborts them (they are requeued to be
   * resumed). Resolves when every run has ended.
   */
  stop(graceMs: number = this.graceMs): Promise<void> {
    this.stopped ??= this.shutdown(graceMs);
    return this.stopped;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.loop;
    if (this.active.size === 0) return;
    this.log(
      'info',
      `waiting up to ${formatDuration(graceMs)} for ${this.active.size} running run(s) to finish`,
    );
    const all = Promise.all([...this.active.values()].map((entry) => entry.done));
    const finished = await Promise.race([all.then(() => true), delay(graceMs, false, { ref: false })]);
    if (finished) return;
    for (const entry of this.active.values()) {
      entry.shutdown = true;
      entry.controller.abort(
        new PwError('PW_CANCELLED', 'The worker shut down before the run finished', {
          hint: 'The run goes back to the queue; a worker resumes it from its last finished step.',
        }),
      );
    }
    await all;
  }

  private async claimLoop(): Promise<void> {
    let claimFailingSince: number | undefined;
    let lastClaimErrorLog = 0;
    while (!this.stopping) {
      if (this.active.size >= this.concurrency) {
        await this.sleep(undefined);
        continue;
      }
      let run: RunRecord | undefined;
      this.nudged = false;
      try {
        await this.requeueExpired();
        const maxRunningPerPipeline = await this.settings.current();
        run = await this.store.claimRun({
          workerId: this.id,
          now: this.clock(),
          leaseMs: this.leaseMs,
          maxRunning: this.options.maxRunning,
          maxRunningPerPipeline,
        });
      } catch (error) {
        // Once a minute is enough to say that the store is still away; every second would bury the log.
        const now = Date.now();
        if (claimFailingSince === undefined || now - lastClaimErrorLog >= 60_000) {
          this.log('error', `claiming a run failed: ${toPwError(error).message}`);
          lastClaimErrorLog = now;
        }
        claimFailingSince ??= now;
        await this.sleep(Math.max(this.pollMs, 1_000));
        continue;
      }
      if (claimFailingSince !== undefined) {
        this.log('info', `claiming works again after ${formatDuration(Date.now() - claimFailingSince)}`);
        claimFailingSince = undefined;
      }
      if (run) this.launch(run);
      else if (!this.nudged) await this.sleep(this.pollMs);
    }
  }

  /** Sleeps `ms` (undefined: until woken) or until a slot frees or stop() is called. */
  private async sleep(ms: number | undefined): Promise<void> {
    if (this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      function done() {
        if (timer) clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = undefined;
  }

  private async requeueExpired(): Promise<void> {
    if (this.options.requeueExpired === false) return;
    const now = this.clock();
    if (now.getTime() - this.lastRequeue < Math.min(this.leaseMs / 2, 5_000)) return;
    this.lastRequeue = now.getTime();
    const { requeued, failed } = await this.store.requeueExpiredLeases(
      now,
      this.options.maxRunAttempts ?? DEFAULT_MAX_RUN_ATTEMPTS,
    );
    for (const run of requeued)
      this.log(
        'warn',
        `run ${run.id} (${run.pipelineId}) lost its worker's lease; requeued as attempt ${run.attempt}`,
      );
    for (const run of failed)
      this.log('error', `run ${run.id} (${run.pipelineId}) lost its worker's lease too often; marked failed`);
  }

  private launch(run: RunRecord): void {
    const entry: ActiveRun = {
      run,
      controller: new AbortController(),
      lost: false,
      shutdown: false,
      cancelRequested: false,
      done: Promise.resolve(),
    };
    this.active.set(run.id, entry);
    this.startedCount += 1;
    entry.done = this.execute(entry)
      .catch((error: unknown) => this.log('error', `run ${run.id}: ${toPwError(error).message}`))
      .finally(() => {
        this.active.delete(run.id);
        this.wakeUp?.();
      });
  }

  private async execute(entry: ActiveRun): Promise<void> {
    const { run } = entry;
    const started = Date.now();
    this.log(
      'info',
      `run ${run.id} (${run.pipelineId}, ${run.trigger}) claimed${run.attempt > 1 ? `, attempt ${run.attempt}` : ''}`,
    );
    const heartbeat = this.heartbeat(entry);
    try {
      let prepared: PreparedRun;
      try {
        prepared = await this.prepare(run);
      } catch (error) {
        await this.failBeforeStart(run, toPwError(error));
        return;
      }
      let owned = true;
      const outcome = await executeRun({
        projectDir: this.project.dir,
        project: this.project.spec,
        registry: prepared.registry,
        pipeline: prepared.pipeline,
        sourcePath: prepared.sourcePath,
        store: this.store,
        params: run.params,
        trigger: run.trigger,
        scheduledFor: run.scheduledFor,
        signal: entry.controller.signal,
        claimed: run,
        // Asked once, right before the end is recorded. The heartbeat may not have noticed yet that the
        // lease was taken over during a store outage, so the lease is renewed here as the proof.
        stillClaimed: async () => (owned = !entry.lost && (await this.confirmLease(run))),
        env: this.options.env ?? process.env,
        ...(this.options.listener ? { listener: (event) => this.options.listener?.(run.id, event) } : {}),
      });
      const took = formatDuration(Date.now() - started);
      if (!owned) {
        this.log('warn', `run ${run.id}: stopped here after its lease passed to another worker`);
      } else if (outcome.run.status === 'cancelled' && entry.shutdown && !entry.cancelRequested) {
        await this.requeue(outcome.run);
      } else {
        const error = outcome.run.error ? `: ${outcome.run.error.code} ${outcome.run.error.message}` : '';
        this.log(
          outcome.run.status === 'succeeded' ? 'info' : 'warn',
          `run ${run.id} (${run.pipelineId}) ${outcome.run.status} in ${took}${error}`,
        );
        if (outcome.run.status === 'succeeded') await this.triggerDownstream(outcome.run);
      }
    } finally {
      heartbeat.stop();
      await heartbeat.idle();
    }
  }

  /** Queues a run of every pipeline that lists this one in `after` (never throws). */
  private async triggerDownstream(run: RunRecord): Promise<void> {
    try {
      const downstream = await this.settings.downstreamOf(run.pipelineId);
      if (downstream.length === 0) return;
      await queueDownstreamRuns({
        store: this.store,
        upstream: run,
        downstream,
        now: this.clock(),
        log: this.log,
      });
    } catch (error) {
      this.log('error', `run ${run.id}: queuing downstream pipelines failed: ${toPwError(error).message}`);
    }
  }

  /** The run's stored revision, with the user-written step modules it names from the project folder. */
  private async prepare(run: RunRecord): Promise<PreparedRun> {
    const revision = await this.store.getPipelineRevision(run.pipelineId, run.revision);
    if (!revision) {
      throw new PwError(
        'PW_RUN_NOT_RESUMABLE',
        `The definition revision ${run.revision} of pipeline '${run.pipelineId}' is missing from the store`,
      );
    }
    const pipeline = pipelineSchema.parse(revision.definition);
    const modules = [];
    for (const uses of moduleReferences(pipeline))
      modules.push(await loadUserStep(this.project.dir, uses, revision.sourcePath));
    const registry = modules.length > 0 ? this.project.registry.extend(modules) : this.project.registry;
    assertSecrets(
      { steps: pipeline.steps },
      { env: this.options.env ?? process.env, projectDir: this.project.dir },
    );
    return { pipeline, registry, sourcePath: revision.sourcePath };
  }

  /** A run that cannot even start here (definition, step module or secret missing) fails with why. */
  private async failBeforeStart(run: RunRecord, error: PwError): Promise<void> {
    const at = this.clock();
    await this.store.appendLogs([
      {
        runId: run.id,
        at,
        level: 'error',
        message: `run failed before its first step: ${error.code} ${error.message}`,
      },
    ]);
    await this.store.updateRun(run.id, {
      status: 'failed',
      finishedAt: at,
      host: hostname(),
      pid: process.pid,
      error: { code: error.code, message: error.message, hint: error.hint },
    });
    this.log(
      'warn',
      `run ${run.id} (${run.pipelineId}) failed before its first step: ${error.code} ${error.message}`,
    );
  }

  /** Renews the run's lease, waiting for an unreachable store; false when it belongs to someone else now. */
  private async confirmLease(run: RunRecord): Promise<boolean> {
    const until = new Date(this.clock().getTime() + this.leaseMs);
    try {
      return await this.patientStore.renewLease(run.id, this.id, until);
    } catch (error) {
      this.log('warn', `run ${run.id}: cannot confirm its lease: ${toPwError(error).message}`);
      return false;
    }
  }

  /** After a shutdown interrupted it: back to the queue, to be resumed from its checkpoint. */
  private async requeue(run: RunRecord): Promise<void> {
    const at = this.clock();
    await this.store.appendLogs([
      {
        runId: run.id,
        at,
        level: 'warn',
        message: 'the worker shut down; run requeued to resume from its last finished step',
      },
    ]);
    await this.store.updateRun(run.id, {
      status: 'queued',
      attempt: run.attempt + 1,
      finishedAt: undefined,
      error: undefined,
    });
    this.log(
      'info',
      `run ${run.id} (${run.pipelineId}) interrupted by shutdown; requeued to resume as attempt ${run.attempt + 1}`,
    );
  }

  /** Renews the lease every leaseMs/3 and watches for a cancel request, until stopped. */
  private heartbeat(entry: ActiveRun): { stop: () => void; idle: () => Promise<void> } {
    const renewEvery = Math.max(50, Math.floor(this.leaseMs / 3));
    const every = Math.min(renewEvery, CANCEL_POLL_MS);
    let lastRenew = Date.now();
    let busy: Promise<void> | undefined;
    const beat = async () => {
      if (Date.now() - lastRenew >= renewEvery - every / 2) {
        lastRenew = Date.now();
        const until = new Date(this.clock().getTime() + this.leaseMs);
        if (!(await this.store.renewLease(entry.run.id, this.id, until))) {
          entry.lost = true;
          entry.controller.abort(
            new PwError(
              'PW_CANCELLED',
              'This worker lost the lease of the run (it was requeued for another worker)',
            ),
          );
          return;
        }
      }
      const current = await this.store.getRun(entry.run.id);
      if (current?.cancelRequestedAt !== undefined && !entry.controller.signal.aborted) {
        entry.cancelRequested = true;
        this.log('info', `run ${entry.run.id}: cancel requested; stopping it`);
        entry.controller.abort(
          new PwError(
            'PW_CANCELLED',
            `The run was cancelled on request at ${current.cancelRequestedAt.toISOString()}`,
            {
              hint: 'Resume it with `pipewright run --resume`.',
            },
          ),
        );
      }
    };
    const timer = setInterval(() => {
      if (busy) return; // the store is slow: never pile up heartbeats
      busy = beat()
        .catch((error: unknown) =>
          this.log('warn', `run ${entry.run.id}: heartbeat failed: ${toPwError(error).message}`),
        )
        .finally(() => {
          busy = undefined;
        });
    }, every);
    return {
      stop: () => clearInterval(timer),
      idle: async () => {
        await busy;
      },
    };
  }
}
