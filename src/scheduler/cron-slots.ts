/**
 * Cron slots: the instants at which a schedule fires, as UTC `Date`s, computed without I/O or a clock.
 *
 * A cron expression describes local wall-clock times in the schedule's zone (`schedule.timezone`, else
 * the project's). Each matching wall-clock time runs once, mapped to an instant by these rules:
 * - it exists once: that instant;
 * - it does not exist (spring forward, e.g. 02:30 on 2026-03-29 in Europe/Berlin): the first instant
 *   after the gap, i.e. 03:00 local. Several times in one gap (02:00, 02:15 …) and a match at 03:00
 *   itself all collapse into that one slot;
 * - it exists twice (fall back, e.g. 02:30 on 2026-10-25 in Europe/Berlin): the first occurrence only.
 * So hourly schedules follow the wall clock, not elapsed time. On a spring-forward day `0 * * * *`
 * fires 23 times (02:00 becomes 03:00 and merges with it) and `30 * * * *` 24 times (02:30 runs at
 * 03:00, then 03:30). On a fall-back day both fire 24 times: the repeated hour's times run in its first
 * pass, and the second pass has no run (e.g. Berlin 2026-10-25: 02:30 CEST, then 03:30 CET).
 *
 * croner 10 (which documents "jobs scheduled during DST gaps are skipped; jobs in DST overlaps run once
 * at first occurrence") disagrees with the gap rule: for 02:30 on a spring-forward day it returns 03:30,
 * and hourly enumeration across the gap returns the same instant twice. So croner only parses the
 * expression and walks wall-clock times in a zone without DST (UTC offset 0); this module maps each
 * wall-clock time to an instant with the zone rules from luxon. The mapping is monotone
 * (non-decreasing), so consecutive equal instants are the only duplicates to drop.
 */
import { Cron } from 'croner';
import { IANAZone } from 'luxon';
import { PwError } from '../core/errors/pw-error.js';
import { checkCron, checkTimeZone } from '../core/spec/checks.js';
import type { ScheduleSpec } from '../core/spec/pipeline-schema.js';

/** A parsed schedule: reuse one for many look-ups. */
export interface CompiledSchedule {
  readonly cron: string;
  readonly timezone: string;
  /** croner over wall-clock times: its "UTC" dates are local times in `timezone`. */
  readonly wallClock: Cron;
  readonly zone: IANAZone;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Latest Date JavaScript can represent; "no upper bound". */
export const END_OF_TIME = new Date(8.64e15);

const cache = new Map<string, CompiledSchedule>();
const CACHE_LIMIT = 512;

/**
 * Validates and parses a schedule. Throws PW_SPEC_TIMEZONE for an unknown zone and PW_SPEC_CRON for an
 * expression croner rejects or that never matches.
 */
export function compileSchedule(
  schedule: Pick<ScheduleSpec, 'cron' | 'timezone'>,
  projectTimezone: string,
): CompiledSchedule {
  const timezone = schedule.timezone ?? projectTimezone;
  const key = `${schedule.cron}\u0000${timezone}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;

  const zoneProblem = checkTimeZone(timezone);
  const zone = IANAZone.create(timezone);
  if (zoneProblem !== undefined || !zone.isValid) {
    const problem = zoneProblem ?? { message: `Unknown time zone '${timezone}'` };
    throw new PwError('PW_SPEC_TIMEZONE', problem.message, {
      path: schedule.timezone === undefined ? 'timezone' : 'schedule.timezone',
      found: timezone,
      expected: problem.expected,
      hint: problem.hint,
    });
  }
  const cronProblem = checkCron(schedule.cron, timezone);
  if (cronProblem !== undefined) {
    throw new PwError('PW_SPEC_CRON', cronProblem.message, {
      path: 'schedule.cron',
      found: schedule.cron,
      expected: cronProblem.expected,
      hint: cronProblem.hint,
    });
  }
  // Same parsing options as validation (checks.ts), but walking a zone without DST.
  const wallClock = new Cron(schedule.cron, { paused: true, utcOffset: 0 });
  const compiled: CompiledSchedule = { cron: schedule.cron, timezone, wallClock, zone };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, compiled);
  return compiled;
}

/** The zone's offset from UTC at an instant, in milliseconds. */
function offsetAt(zone: IANAZone, instant: number): number {
  return zone.offset(instant) * MINUTE;
}

/** The local wall-clock time of an instant, encoded as the epoch value of the same fields in UTC. */
export function wallClockOf(zone: IANAZone, instant: number): number {
  return instant + offsetAt(zone, instant);
}

/**
 * The instant a local wall-clock time runs at: the time itself when it exists, its first occurrence
 * when it is repeated, the first instant after the gap when it was skipped.
 */
export function instantOfWallClock(zone: IANAZone, wall: number): number {
  // Offsets range from -12h to +14h, so the candidates are the offsets in effect around `wall`.
  const before = offsetAt(zone, wall - 15 * HOUR);
  const after = offsetAt(zone, wall + 15 * HOUR);
  let first: number | undefined;
  for (const offset of before === after ? [before] : [before, after]) {
    const instant = wall - offset;
    if (offsetAt(zone, instant) === offset && (first === undefined || instant < first)) first = instant;
  }
  if (first !== undefined) return first;
  // In a gap: the transition lies in (wall - later offset, wall - earlier offset]; find it exactly.
  let low = wall - Math.max(before, after);
  let high = wall - Math.min(before, after);
  const offsetBefore = offsetAt(zone, low);
  while (high - low > 1) {
    const middle = low + Math.floor((high - low) / 2);
    if (offsetAt(zone, middle) === offsetBefore) low = middle;
    else high = middle;
  }
  return high;
}

/**
 * Every slot after `fromExclusive`, in order, without end (until the expression has no more matches,
 * e.g. past a year field). Wall-clock times at or before the local time of `fromExclusive` all map
 * to instants at or before it, so the walk starts there; a few after it can still map back before
 * it (inside a repeated hour) and are skipped along with duplicates.
 */
export function* iterateSlots(
  compiled: CompiledSchedule,
  fromExclusive: Date,
): Generator<Date, void, undefined> {
  let last = fromExclusive.getTime();
  if (!Number.isFinite(last))
    throw new PwError('PW_INTERNAL', 'iterateSlots: fromExclusive is an invalid Date');
  let wall: Date | null = new Date(wallClockOf(compiled.zone, last));
  for (;;) {
    wall = compiled.wallClock.nextRun(wall);
    if (wall === null) return;
    const instant = instantOfWallClock(compiled.zone, wall.getTime());
    if (instant <= last) continue;
    last = instant;
    yield new Date(instant);
  }
}

/** The slots in (fromExclusive, toInclusive], oldest first, at most `limit` of them. */
export function slotsBetween(
  schedule: Pick<ScheduleSpec, 'cron' | 'timezone'>,
  projectTimezone: string,
  fromExclusive: Date,
  toInclusive: Date,
  limit: number,
): Date[] {
  return compiledSlotsBetween(compileSchedule(schedule, projectTimezone), fromExclusive, toInclusive, limit);
}

export function compiledSlotsBetween(
  compiled: CompiledSchedule,
  fromExclusive: Date,
  toInclusive: Date,
  limit: number,
): Date[] {
  const slots: Date[] = [];
  if (limit <= 0 || toInclusive.getTime() <= fromExclusive.getTime()) return slots;
  for (const slot of iterateSlots(compiled, fromExclusive)) {
    if (slot.getTime() > toInclusive.getTime()) break;
    slots.push(slot);
    if (slots.length >= limit) break;
  }
  return slots;
}

/** The next `count` slots strictly after `after`. */
export function nextSlots(
  schedule: Pick<ScheduleSpec, 'cron' | 'timezone'>,
  projectTimezone: string,
  after: Date,
  count: number,
): Date[] {
  return slotsBetween(schedule, projectTimezone, after, END_OF_TIME, count);
}

/** The first slot strictly after `after`, or undefined when the expression has no more matches. */
export function nextSlotAfter(compiled: CompiledSchedule, after: Date): Date | undefined {
  for (const slot of iterateSlots(compiled, after)) return slot;
  return undefined;
}

/** How many slots lie in (fromExclusive, toInclusive), counting no further than `cap`. */
export function countSlots(
  compiled: CompiledSchedule,
  fromExclusive: Date,
  toExclusive: Date,
  cap: number,
): number {
  let count = 0;
  if (toExclusive.getTime() <= fromExclusive.getTime()) return 0;
  for (const slot of iterateSlots(compiled, fromExclusive)) {
    if (slot.getTime() >= toExclusive.getTime() || count >= cap) break;
    count += 1;
  }
  return count;
}

/**
 * The most recent `count` slots in (fromExclusive, toInclusive], oldest first. Looks back through
 * doubling windows so that a long gap costs about as much as the slots returned, not the slots skipped.
 */
export function latestSlots(
  compiled: CompiledSchedule,
  fromExclusive: Date,
  toInclusive: Date,
  count: number,
): Date[] {
  const from = fromExclusive.getTime();
  const to = toInclusive.getTime();
  if (count <= 0 || to <= from) return [];
  for (let window = HOUR; ; window *= 2) {
    const start = Math.max(from, to - window);
    const found: Date[] = [];
    for (const slot of iterateSlots(compiled, new Date(start))) {
      if (slot.getTime() > to) break;
      found.push(slot);
      if (found.length > 2 * count) found.splice(0, found.length - count);
    }
    if (found.length >= count || start === from) return found.slice(-count);
  }
}
