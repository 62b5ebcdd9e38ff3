/** One log entry as a terminal line: time, level, step, message. */
import type { LogEntry } from '../store/state-store.js';
import type { Style } from './style.js';

export function formatLogLine(entry: LogEntry, style: Style): string {
  const time = entry.at.toISOString().slice(11, 23);
  const level = entry.level.toUpperCase().padEnd(5);
  const coloured =
    entry.level === 'error'
      ? style.red(level)
      : entry.level === 'warn'
        ? style.yellow(level)
        : style.dim(level);
  const step = entry.stepId ? `[${entry.stepId}] ` : '';
  const hint = typeof entry.data?.hint === 'string' ? ` (hint: ${entry.data.hint})` : '';
  return `${style.dim(time)} ${coloured} ${step}${entry.message}${hint}`;
}
