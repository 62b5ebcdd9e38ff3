/**
 * Live progress of a run. On a terminal: one line per step (state, attempt, rows, elapsed time),
 * redrawn in place, with warnings and errors printed above it. Elsewhere (CI logs, cron mail):
 * plain log lines, one per event, nothing redrawn.
 */
import type { RunListener } from '../engine/run-events.js';
import { formatDuration } from '../core/duration.js';
import { formatLogLine } from './log-line.js';
import { styleFor, type Style } from './style.js';

interface StepLine {
  state: 'waiting' | 'running' | 'succeeded' | 'failed' | 'done before';
  attempt: number;
  startedAt?: number;
  finishedAt?: number;
  rows?: number | undefined;
}

export interface ProgressReporter {
  listener: RunListener;
  close(): void;
}

export function createProgressReporter(
  stream: NodeJS.WriteStream,
  options: { verbose: boolean },
): ProgressReporter {
  const style = styleFor(stream);
  if (!stream.isTTY) {
    return {
      listener: (event) => {
        if (event.type === 'log' && (options.verbose || event.entry.level !== 'debug'))
          stream.write(`${formatLogLine(event.entry, style)}\n`);
      },
      close: () => undefined,
    };
  }

  const steps = new Map<string, StepLine>();
  let drawnLines = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    if (drawnLines > 0) stream.write(`\u001b[${drawnLines}A\u001b[0J`);
    const lines = [...steps.entries()].map(([id, line]) => renderLine(id, line, style));
    stream.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
    drawnLines = lines.length;
  };
  const printAbove = (text: string) => {
    if (drawnLines > 0) stream.write(`\u001b[${drawnLines}A\u001b[0J`);
    drawnLines = 0;
    stream.write(`${text}\n`);
    draw();
  };

  return {
    listener: (event) => {
      const now = Date.now();
      switch (event.type) {
        case 'run-started':
          stream.write(`${style.bold(`Run ${event.run.id}`)} ${event.run.pipelineId}\n`);
          for (const id of event.steps)
            steps.set(id, { state: event.alreadyDone.includes(id) ? 'done before' : 'waiting', attempt: 0 });
          timer = setInterval(draw, 200);
          timer.unref();
          break;
        case 'step-started':
          steps.set(event.stepId, { state: 'running', attempt: event.attempt, startedAt: now });
          break;
        case 'step-succeeded': {
          const line = steps.get(event.stepId);
          if (line) Object.assign(line, { state: 'succeeded', finishedAt: now, rows: event.result.rows });
          break;
        }
        case 'step-failed': {
          const line = steps.get(event.stepId);
          if (line) Object.assign(line, { state: 'failed', finishedAt: now });
          break;
        }
        case 'log':
          if (event.entry.level === 'warn' || event.entry.level === 'error' || options.verbose)
            printAbove(formatLogLine(event.entry, style));
          break;
        case 'run-finished':
          if (timer) clearInterval(timer);
          timer = undefined;
          draw();
          break;
      }
    },
    close: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

function renderLine(id: string, line: StepLine, style: Style): string {
  const symbol = {
    waiting: style.dim('·'),
    running: style.cyan('▶'),
    succeeded: style.green('✔'),
    failed: style.red('✖'),
    'done before': style.dim('✔'),
  }[line.state];
  const elapsed =
    line.startedAt === undefined ? '' : formatDuration((line.finishedAt ?? Date.now()) - line.startedAt);
  const rows = line.rows === undefined ? '' : `${line.rows} rows`;
  const attempt = line.attempt > 1 ? `attempt ${line.attempt}` : '';
  return `  ${symbol} ${id.padEnd(24)} ${line.state.padEnd(11)} ${rows.padEnd(14)} ${elapsed.padEnd(8)} ${attempt}`.trimEnd();
}
