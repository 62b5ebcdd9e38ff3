/**
 * Backfill: queue one run per schedule slot in a date range (trigger `backfill`), oldest first, so that
 * workers execute them in slot order. Each run gets `scheduled_for` = its slot, so templates see the
 * slot's dates as a scheduled run would.
 *
 * - Range bounds are dates (`2026-01-05`: the whole day, in the schedule's time zone) or instants
 *   (`2026-01-05T08:00:00Z`, `2026-01-05T08:00+01:00`; without an offset: local time in that zone).
 *   Both bounds are inclusive.
 * - Idempotent per slot: a slot that already has a `backfill` run (any status) is not queued again;
 *   retry a failed one with `pipewright retry`.
 * - More than `maxSlots` (default 1000) slots need `confirmed`; more than HARD_MAX_SLOTS are refused.
 */
import { DateTime } from 'luxon';
import { PwError } from '../core/errors/pw-error.js';
import type { PipelineSpec } from '../core/spec/pipeline-schema.js';
import { newRunId } from '../engine/run-ids.js';
import type { RunRecord, StateStore } from '../store/state-store.js';
import { compileSchedule, compiledSlotsBetween } from './cron-slots.js';

export const BACKFILL_TRIGGER = 'backfill';
export const DEFAULT_BACKFILL_CONFIRM_OVER = 1000;
export const HARD_MAX_SLOTS = 100_000;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Parses a range bound; `end` makes a date mean the end of that day. */
export function parseRangeBound(text: string, timezone: string, end: boolean, flag: string): Date {
  const trimmed = text.trim();
  const parsed = DateTime.fromISO(trimmed, { zone: timezone, setZone: false });
  if (!parsed.isValid) {
    throw new PwError('PW_USAGE', `${flag} expects a date or an instant, found '${text}'`, {
      hint: 'Write 2026-01-05 (a whole day in the schedule time zone) or 2026-01-05T08:00:00Z.',
    });
  }
  if (DATE_ONLY.test(trimmed) && end) return new Date(parsed.plus({ days: 1 }).toMillis() - 1);
  return parsed.toJSDate();
}

export interface BackfillRequest {
  store: StateStore;
  spec: PipelineSpec;
  revision: number;
  projectTimezone: string;
  from: Date;
  to: Date;
  params: Record<string, unknown>;
  now: Date;
  /** Allow more than `confirmOver` slots. */
  confirmed?: boolean;
  confirmOver?: number;
}

export interface BackfillResult {
  slots: Date[];
  queued: RunRecord[];
  /** Slots that already had a backfill run, with that run. */
  existing: RunRecord[];
}

/** The slots of the pipeline's schedule in [from, to]; throws a usage error when there are too many. */
export function backfillSlots(
  spec: PipelineSpec,
  projectTimezone: string,
  from: Date,
  to: Date,
  options: { confirmed?: boolean; confirmOver?: number } = {},
): Date[] {
  if (!spec.schedule) {
    throw new PwError('PW_USAGE', `Pipeline '${spec.id}' has no schedule, so it has no slots to backfill`, {
      hint: `Queue single runs with \`pipewright trigger ${spec.id}\`.`,
    });
  }
  if (from.getTime() > to.getTime()) {
    throw new PwError('PW_USAGE', `--from (${from.toISOString()}) is after --to (${to.toISOString()})`);
  }
  const confirmOver = options.confirmOver ?? DEFAULT_BACKFILL_CONFIRM_OVER;
  const limit = options.confirmed ? HARD_MAX_SLOTS : confirmOver;
  const compiled = compileSchedule(spec.schedule, projectTimezone);
  const slots = compiledSlotsBetween(compiled, new Date(from.getTime() - 1), to, limit + 1);
  if (slots.length > limit) {
    throw new PwError(
      'PW_USAGE',
      `The range holds more than ${limit} slots of '${spec.schedule.cron}'; nothing was queued`,
      {
        hint: options.confirmed
          ? `Split the range: at most ${HARD_MAX_SLOTS} slots are queued at once.`
          : 'Narrow the range, or pass --yes to queue them all.',
      },
    );
  }
  return slots;
}

export async function backfill(request: BackfillRequest): Promise<BackfillResult> {
  const { store, spec } = request;
  const slots = backfillSlots(spec, request.projectTimezone, request.from, request.to, request);
  const existingBySlot = new Map<number, RunRecord>();
  if (slots.length > 0) {
    // The store has no trigger or time filter: read the pipeline's runs once and match them here.
    const runs = await store.listRuns({ pipelineId: spec.id, limit: 1_000_000 });
    for (const run of runs) {
      if (run.trigger === BACKFILL_TRIGGER) existingBySlot.set(run.scheduledFor.getTime(), run);
    }
  }
  const queued: RunRecord[] = [];
  const existing: RunRecord[] = [];
  for (const [index, slot] of slots.entries()) {
    const found = existingBySlot.get(slot.getTime());
    if (found) {
      existing.push(found);
      continue;
    }
    // Queue times a millisecond apart keep the claim order (queued_at, then id) the slot order.
    const queuedAt = new Date(request.now.getTime() + index);
    const run = await store.enqueueRun({
      id: newRunId(queuedAt),
      pipelineId: spec.id,
      revision: request.revision,
      status: 'queued',
      trigger: BACKFILL_TRIGGER,
      params: request.params,
      scheduledFor: slot,
      queuedAt,
    });
    if (!run)
      throw new PwError('PW_STORE', `The store did not queue the backfill run for ${slot.toISOString()}`);
    queued.push(run);
  }
  return { slots, queued, existing };
}
