/** A schedule as one line for the terminal: in words, with its zone and the next instant it fires. */
import type { ScheduleSpec } from '../core/spec/pipeline-schema.js';
import { describeSchedule } from '../scheduler/describe-schedule.js';
import { nextSlots } from '../scheduler/cron-slots.js';

export function scheduleLine(
  schedule: ScheduleSpec,
  projectTimezone: string,
  now: Date = new Date(),
): string {
  const [next] = nextSlots(schedule, projectTimezone, now, 1);
  return `${describeSchedule(schedule, projectTimezone)}${next ? `; next ${next.toISOString()}` : ''}`;
}
