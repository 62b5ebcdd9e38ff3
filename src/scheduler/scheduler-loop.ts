/**
 * The scheduler: on every tick it returns runs with an expired lease to the queue, then queues the
 * slots each scheduled pipeline is due for, per its catch-up policy (`slotsToQueue`).
 *
 * - Only pipelines in `pipelineIds()` are considered (the definitions sync lists those with a file
 *   and a valid revision); a paused pipeline queues nothing.
 * - The schedule comes from the pipeline's latest valid revision in the store, and runs are queued
 *   with that revision and the parameter defaults, trigger `schedule`.
 * - A slot is queued at most once: the store refuses a second scheduled run for the same
 *   (pipeline, scheduled_for), so schedulers that restart, race or run on several machines can only
 *   skip slots someone else queued. `lastScheduledSlot` makes catch-up resume where anyone left off.
 * - The clock is injectable: downtime, a clock jumping forward and racing schedulers are test inputs.
 *
 * `start()` ticks at once and then every `intervalMs` (default 15 s), or earlier when a slot falls
 * due before that.
 */
import { pipelineSchema, type PipelineSpec } from '../core/spec/pipeline-schema.js';
import { resolveParams } from '../core/params.js';
import { toPwError } from '../core/errors/pw-error.js';
import { parseDuration } from '../core/duration.js';
import { newRunId } from '../engine/run-ids.js';
import type { RunRecord, StateStore } from '../store/state-store.js';
import { slotsToQueue } from './catch-up.js';
import { silentLog, type ServiceLog } from './service-log.js';

export const DEFAULT_TICK_MS = 15_000;
/** A run whose lease expired this many times is failed instead of requeued again. */
export const DEFAULT_MAX_RUN_ATTEMPTS = 3;

export interface SchedulerOptions {
  store: StateStore;
  projectTimezone: string;
  /** The pipelines to schedule (read on every tick). */
  pipelineIds: () => Iterable<string>;
  clock?: () => Date;
  intervalMs?: number;
  maxRunAttempts?: number;
  /** With `catchup: none`, how late a slot may be and still be queued (default 60 s). */
  graceMs?: number;
  log?: ServiceLog;
  /**
   * Told once per missed `expect.success_within` window (when the warning is logged), to send the
   * pipeline's on_failure notifications. Runs in the background; `stop()` waits for it.
   */
  onOverdue?: (overdue: OverdueEvent) => Promise<unknown>;
}

export interface OverdueEvent {
  pipelineId: string;
  spec: PipelineSpec;
  window: string;
  lastSuccess: Date | undefined;
  now: Date;
}

export interface TickResult {
  queued: RunRecord[];
  /** Slots this scheduler computed but another one had already queued. */
  skipped: number;
  requeued: RunRecord[];
  failed: RunRecord[];
  /** Dead-man warnings raised by this tick (`expect.success_within` passed without a success). */
  overdue: { pipelineId: string; lastSuccess: Date | undefined; window: string }[];
  /** Slots not queued because the pipeline had max_active_runs active runs (`overlap: skip`). */
  overlapSkipped: { pipelineId: string; slot: Date }[];
  /** The earliest upcoming slot over all scheduled pipelines. */
  next: Date | undefined;
}

interface CachedDefinition {
  revision: number;
  spec: PipelineSpec;
  firstCreatedAt: Date;
}

export class Scheduler {
  private readonly store: StateStore;
  private readonly clock: () => Date;
  private readonly intervalMs: number;
  private readonly log: ServiceLog;
  private readonly definitions = new Map<string, CachedDefinition>();
  /** Problems already logged, so a broken pipeline is reported once, not every tick. */
  private readonly reported = new Set<string>();
  private readonly droppedLogged = new Map<string, string>();
  /** With `overlap: skip`, the newest slot skipped per pipeline: it and earlier ones are not queued later. */
  private readonly skippedThrough = new Map<string, Date>();
  /** Per pipeline, the dead-man window already warned about (so each window warns once). */
  private readonly overdueWarned = new Map<string, string>();
  /** Dead-man notifications still being sent. */
  private readonly notifying = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<TickResult> | undefined;
  private stopped = true;

  constructor(private readonly options: SchedulerOptions) {
    this.store = options.store;
    this.clock = options.clock ?? (() => new Date());
    this.intervalMs = options.intervalMs ?? DEFAULT_TICK_MS;
    this.log = options.log ?? silentLog;
  }

  /** One pass; overlapping calls share the pass in progress. */
  tick(): Promise<TickResult> {
    this.ticking ??= this.tickOnce().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop();
  }

  /** Stops ticking and waits for a tick in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking?.catch(() => undefined);
    await Promise.allSettled([...this.notifying]);
  }

  private loop(): void {
    if (this.stopped) return;
    this.tick()
      .then((result) => this.schedule(result.next))
      .catch((error: unknown) => {
        this.log('error', `tick failed: ${toPwError(error).message}`);
        this.schedule(undefined);
      });
  }

  private schedule(next: Date | undefined): void {
    if (this.stopped) return;
    let delay = this.intervalMs;
    if (next !== undefined)
      delay = Math.min(delay, Math.max(50, next.getTime() - this.clock().getTime() + 10));
    this.timer = setTimeout(() => this.loop(), delay);
  }

  private async tickOnce(): Promise<TickResult> {
    const now = this.clock();
    const result: TickResult = {
      queued: [],
      skipped: 0,
      requeued: [],
      failed: [],
      overlapSkipped: [],
      overdue: [],
      next: undefined,
    };
    const expired = await this.store.requeueExpiredLeases(
      now,
      this.options.maxRunAttempts ?? DEFAULT_MAX_RUN_ATTEMPTS,
    );
    result.requeued = expired.requeued;
    result.failed = expired.failed;
    for (const run of expired.requeued) {
      this.log(
        'warn',
        `run ${run.id} (${run.pipelineId}) lost its worker's lease; requeued as attempt ${run.attempt}`,
      );
    }
    for (const run of expired.failed) {
      this.log('error', `run ${run.id} (${run.pipelineId}) lost its worker's lease too often; marked failed`);
    }
    for (const pipelineId of this.options.pipelineIds()) {
      try {
        await this.schedulePipeline(pipelineId, now, result);
      } catch (error) {
        this.report(
          `${pipelineId}:error`,
          'error',
          `${pipelineId}: scheduling failed: ${toPwError(error).message}`,
        );
      }
    }
    return result;
  }

  private async schedulePipeline(pipelineId: string, now: Date, result: TickResult): Promise<void> {
    const state = await this.store.getPipelineState(pipelineId);
    if (state?.paused) return;
    const definition = await this.definition(pipelineId);
    if (!definition) return;
    if (definition.spec.expect) await this.checkExpectation(pipelineId, definition, now, result);
    const schedule = definition.spec.schedule;
    if (!schedule) return;

    const lastSlot = await this.store.lastScheduledSlot(pipelineId);
    const plan = slotsToQueue({
      schedule,
      projectTimezone: this.options.projectTimezone,
      lastSlot,
      now,
      createdAt: definition.firstCreatedAt,
      ...(this.options.graceMs === undefined ? {} : { graceMs: this.options.graceMs }),
    });
    if (plan.next && (result.next === undefined || plan.next < result.next)) result.next = plan.next;
    // With `none`, dropped slots stay behind the last queued one until the next slot is due: say it once.
    const dropKey = `${lastSlot?.toISOString() ?? '-'}|${plan.dropped}`;
    if (plan.dropped > 0 && this.droppedLogged.get(pipelineId) !== dropKey) {
      this.droppedLogged.set(pipelineId, dropKey);
      this.log(
        'warn',
        `${pipelineId}: ${plan.droppedCapped ? 'more than ' : ''}${plan.dropped} missed slot${plan.dropped === 1 ? '' : 's'} not queued (catchup: ${schedule.catchup}${schedule.catchup === 'all' ? `, max_catchup ${schedule.max_catchup ?? 100}` : ''})`,
      );
    }
    if (plan.slots.length === 0) return;

    let params: Record<string, unknown>;
    try {
      params = resolveParams(definition.spec.params, {});
    } catch (error) {
      this.report(
        `${pipelineId}@${definition.revision}:params`,
        'error',
        `${pipelineId}: cannot queue scheduled runs: ${toPwError(error).message.replace(/\s*\n\s*-?\s*/g, ' ')} (give every required parameter a default)`,
      );
      return;
    }
    const slots = await this.applyOverlap(pipelineId, definition.spec, plan.slots, result);
    for (const slot of slots) {
      const queued = await this.store.enqueueRun({
        id: newRunId(now),
        pipelineId,
        revision: definition.revision,
        status: 'queued',
        trigger: 'schedule',
        params,
        scheduledFor: slot,
        queuedAt: now,
      });
      if (queued) {
        result.queued.push(queued);
        this.log('info', `${pipelineId}: queued run ${queued.id} for ${slot.toISOString()}`);
      } else {
        result.skipped += 1;
      }
    }
  }

  /**
   * The dead-man check (`expect: { success_within }`): when no run succeeded within the window, and
   * the pipeline (its first revision) is older than the window, warn once per window: again when
   * another whole window passes without a success. Paused pipelines are not checked.
   */
  private async checkExpectation(
    pipelineId: string,
    definition: CachedDefinition,
    now: Date,
    result: TickResult,
  ): Promise<void> {
    const text = definition.spec.expect?.success_within;
    const window = text === undefined ? undefined : parseDuration(text);
    if (text === undefined || window === undefined || window <= 0) return;
    if (now.getTime() - definition.firstCreatedAt.getTime() < window) return;
    const [last] = await this.store.listRuns({ pipelineId, status: 'succeeded', limit: 1 });
    const lastSuccess = last ? (last.finishedAt ?? last.queuedAt) : undefined;
    if (lastSuccess && now.getTime() - lastSuccess.getTime() <= window) {
      this.overdueWarned.delete(pipelineId);
      return;
    }
    const anchor = Math.max(lastSuccess?.getTime() ?? 0, definition.firstCreatedAt.getTime());
    const key = `${anchor}|${Math.floor((now.getTime() - anchor) / window)}`;
    if (this.overdueWarned.get(pipelineId) === key) return;
    this.overdueWarned.set(pipelineId, key);
    result.overdue.push({ pipelineId, lastSuccess, window: text });
    this.log(
      'warn',
      `${pipelineId}: no run succeeded within ${text} (expect.success_within); ${lastSuccess ? `last success ${lastSuccess.toISOString()}` : 'no run has ever succeeded'}`,
    );
    if (this.options.onOverdue) {
      // In the background: slow notifications must not hold up queuing runs.
      const sending = this.options
        .onOverdue({ pipelineId, spec: definition.spec, window: text, lastSuccess, now })
        .catch((error: unknown) =>
          this.log('error', `${pipelineId}: dead-man notification failed: ${toPwError(error).message}`),
        )
        .finally(() => this.notifying.delete(sending));
      this.notifying.add(sending);
    }
  }

  /**
   * `overlap: skip` with `max_active_runs`: a slot is not queued while the pipeline already has that
   * many queued or running runs; it is logged and remembered so that catch-up does not queue it later.
   */
  private async applyOverlap(
    pipelineId: string,
    spec: PipelineSpec,
    slots: readonly Date[],
    result: TickResult,
  ): Promise<Date[]> {
    const through = this.skippedThrough.get(pipelineId);
    const pending = through ? slots.filter((slot) => slot > through) : [...slots];
    const max = spec.max_active_runs;
    if (spec.overlap !== 'skip' || max === undefined || pending.length === 0) return pending;
    let active =
      (await this.store.countRuns({ pipelineId, status: 'queued' })) +
      (await this.store.countRuns({ pipelineId, status: 'running' }));
    const kept: Date[] = [];
    for (const slot of pending) {
      if (active < max) {
        kept.push(slot);
        active += 1;
        continue;
      }
      this.skippedThrough.set(pipelineId, slot);
      result.overlapSkipped.push({ pipelineId, slot });
      this.log(
        'warn',
        `${pipelineId}: slot ${slot.toISOString()} skipped: ${active} run${active === 1 ? '' : 's'} already queued or running (max_active_runs ${max}, overlap: skip)`,
      );
    }
    return kept;
  }

  /** The latest valid revision, parsed once per revision; the first revision's time anchors catch-up. */
  private async definition(pipelineId: string): Promise<CachedDefinition | undefined> {
    const latest = await this.store.latestPipelineRevision(pipelineId);
    if (!latest) return undefined;
    const cached = this.definitions.get(pipelineId);
    if (cached?.revision === latest.revision) return cached;
    const parsed = pipelineSchema.safeParse(latest.definition);
    if (!parsed.success) {
      this.report(
        `${pipelineId}@${latest.revision}:parse`,
        'error',
        `${pipelineId}: stored revision ${latest.revision} does not parse`,
      );
      return undefined;
    }
    const first =
      cached?.firstCreatedAt ??
      (await this.store.getPipelineRevision(pipelineId, 1))?.createdAt ??
      latest.createdAt;
    const entry = { revision: latest.revision, spec: parsed.data, firstCreatedAt: first };
    this.definitions.set(pipelineId, entry);
    return entry;
  }

  private report(key: string, level: 'warn' | 'error', message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.log(level, message);
  }
}
