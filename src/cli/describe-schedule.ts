/** A schedule as a short line: the cron expression, its zone and the next instant it fires. */
import { Cron } from 'croner';
import type { ScheduleSpec } from '../core/spec/pipeline-schema.js';

export function describeSchedule(schedule: ScheduleSpec, projectTimezone: string, now: Date = new Date()): string {
  const timezone = schedule.timezone ?? projectTimezone;
  const next = new Cron(schedule.cron, { timezone, paused: true }).nextRun(now);
  return `cron "${schedule.cron}" ${timezone}${next ? `, next ${next.toISOString()}` : ''}`;
}
