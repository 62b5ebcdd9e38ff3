/**
 * Catch-up: which slots to queue at `now`, given the last slot already queued, per the pipeline's
 * `catchup` policy. Pure: the caller passes the clock (`now`) and what the store remembers (`lastSlot`,
 * `createdAt`), so downtime, a clock jumping forward and a clock jumping back are plain inputs.
 *
 * The missed slots are those in (lastSlot, now]. A slot at or before `lastSlot` is never returned, so
 * a clock that jumps backwards queues nothing twice (the store's unique (pipeline, scheduled_for) key
 * guards against racing schedulers on top of this).
 * - `none`: only a slot that is due right now, i.e. the most recent one within `graceMs` (default 60 s)
 *   of `now`; older missed slots are dropped.
 * - `latest`: the most recent missed slot; the older ones are dropped.
 * - `all`: every missed slot, oldest first, but at most `max_catchup` (default 100): the most recent
 *   ones are kept and the older ones dropped, so that a clock jumping forward by years stays bounded
 *   and the next call does not pick up the dropped ones (they are at or before the new lastSlot).
 *
 * A pipeline seen for the first time (`lastSlot` undefined) never backfills history: `none` and `all`
 * consider only slots after `createdAt`. `latest` queues the most recent slot at or before `now`
 * (looking back at most FIRST_SIGHT_LOOKBACK_MS), even when it precedes `createdAt`, so that a new
 * project with `catchup: latest` (the default, and the demo's) runs once at start-up.
 *
 * `dropped` counts the missed slots not queued; counting stops at DROPPED_COUNT_CAP, and
 * `droppedCapped` then says the true number is higher.
 */
import type { ScheduleSpec } from '../core/spec/pipeline-schema.js';
import { compileSchedule, countSlots, latestSlots, nextSlotAfter } from './cron-slots.js';

export const DEFAULT_GRACE_MS = 60_000;
export const DEFAULT_MAX_CATCHUP = 100;
export const DROPPED_COUNT_CAP = 10_000;
/** How far back `latest` looks for a slot on first sight: a little over a year. */
export const FIRST_SIGHT_LOOKBACK_MS = 400 * 86_400_000;

export interface CatchUpInput {
  schedule: Pick<ScheduleSpec, 'cron' | 'catchup'> & {
    timezone?: string | undefined;
    max_catchup?: number | undefined;
  };
  projectTimezone: string;
  /** The most recent slot already queued for this pipeline; undefined for a pipeline never scheduled. */
  lastSlot: Date | undefined;
  now: Date;
  /** When the scheduler first saw the pipeline. */
  createdAt: Date;
  /** With `none`, how late a slot may be and still count as due (default 60 s). */
  graceMs?: number;
}

export interface CatchUpPlan {
  /** The slots to queue now, oldest first; each is later than `lastSlot` and at or before `now`. */
  slots: Date[];
  /** Missed slots the policy leaves out. */
  dropped: number;
  /** True when there were more than DROPPED_COUNT_CAP dropped slots and counting stopped there. */
  droppedCapped: boolean;
  /** The first slot after `now`, i.e. when to look again; undefined when the schedule has ended. */
  next: Date | undefined;
}

export function slotsToQueue(input: CatchUpInput): CatchUpPlan {
  const { schedule, lastSlot, now, createdAt } = input;
  const compiled = compileSchedule(schedule, input.projectTimezone);
  const next = nextSlotAfter(compiled, now);
  const policy = schedule.catchup;

  // The exclusive lower bound of the missed slots.
  let since: number;
  if (lastSlot !== undefined)
    since = policy === 'latest' ? lastSlot.getTime() : Math.max(lastSlot.getTime(), createdAt.getTime());
  else since = policy === 'latest' ? now.getTime() - FIRST_SIGHT_LOOKBACK_MS : createdAt.getTime();
  if (now.getTime() <= since) return { slots: [], dropped: 0, droppedCapped: false, next };

  let keep: Date[];
  if (policy === 'none') {
    const dueFrom = Math.max(since, now.getTime() - (input.graceMs ?? DEFAULT_GRACE_MS));
    keep = latestSlots(compiled, new Date(dueFrom), now, 1);
  } else if (policy === 'latest') {
    keep = latestSlots(compiled, new Date(since), now, 1);
  } else {
    keep = latestSlots(compiled, new Date(since), now, schedule.max_catchup ?? DEFAULT_MAX_CATCHUP);
  }

  // Dropped: the missed slots before the first one kept (or all of them when none is kept). On first
  // sight `latest` looks back only to find a slot to run; those earlier slots were never missed.
  const firstKept = keep[0] ?? new Date(now.getTime() + 1);
  const dropped =
    lastSlot === undefined && policy === 'latest'
      ? 0
      : countSlots(compiled, new Date(since), firstKept, DROPPED_COUNT_CAP + 1);
  return {
    slots: keep,
    dropped: Math.min(dropped, DROPPED_COUNT_CAP),
    droppedCapped: dropped > DROPPED_COUNT_CAP,
    next,
  };
}
