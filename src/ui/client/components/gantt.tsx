/** Step attempts on a shared time axis (CSS grid rows, bars placed by percentage), with their figures. */
import type { StepAttempt } from '../types.js';
import { StatusBadge } from './status-badge.js';
import { durationBetween, formatDuration, formatTime } from '../format.js';

export function Gantt({ attempts, running }: { attempts: StepAttempt[]; running: boolean }) {
  if (attempts.length === 0) return <p class="muted">No step has started yet.</p>;
  const starts = attempts
    .map((attempt) => (attempt.started_at ? Date.parse(attempt.started_at) : Number.NaN))
    .filter(Number.isFinite);
  const ends = attempts.map((attempt) =>
    attempt.finished_at ? Date.parse(attempt.finished_at) : running ? Date.now() : Number.NaN,
  );
  const t0 = Math.min(...starts);
  const t1 = Math.max(t0 + 1, ...ends.filter(Number.isFinite));
  const span = t1 - t0;
  return (
    <div class="gantt" role="table" aria-label="Step timeline">
      <div class="g-row g-head" role="row">
        <span role="columnheader">Step</span>
        <span role="columnheader">Timeline ({formatDuration(span)})</span>
        <span role="columnheader">Rows in → out</span>
        <span role="columnheader">Duration</span>
      </div>
      {attempts.map((attempt, index) => {
        const start = attempt.started_at ? Date.parse(attempt.started_at) : t0;
        const end = ends[index] ?? start;
        const left = ((start - t0) / span) * 100;
        const width = Math.max(0.5, ((Number.isFinite(end) ? end - start : 0) / span) * 100);
        const rowsIn = attempt.rows_in ?? null;
        const rowsOut = attempt.rows_out ?? attempt.rows ?? null;
        return (
          <div
            class="g-row"
            role="row"
            key={`${attempt.step}-${attempt.run_attempt ?? 1}-${attempt.attempt}`}
          >
            <span role="cell" class="g-step">
              <strong>{attempt.step}</strong>
              {attempt.attempt > 1 ? <span class="muted"> attempt {attempt.attempt}</span> : null}
              <br />
              <StatusBadge status={attempt.status} />
            </span>
            <span
              role="cell"
              class="g-track"
              title={`${formatTime(attempt.started_at)} → ${formatTime(attempt.finished_at)}`}
            >
              <span
                class={`g-bar st-${attempt.status}`}
                style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}
              />
            </span>
            <span role="cell">{rowsIn === null ? (rowsOut ?? '—') : `${rowsIn} → ${rowsOut ?? '—'}`}</span>
            <span role="cell">
              {formatDuration(durationBetween(attempt.started_at, attempt.finished_at))}
            </span>
            {attempt.error ? (
              <span role="cell" class="g-error">
                <code>{attempt.error.code}</code> {attempt.error.message}
                {attempt.error.hint ? <span class="hint">Hint: {attempt.error.hint}</span> : null}
              </span>
            ) : null}
          </div>
        );
      })}
    </div>
  );
}
