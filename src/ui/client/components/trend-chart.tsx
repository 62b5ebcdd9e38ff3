/** Duration of the last finished runs as bars, coloured and shaped by outcome, plus the success rate. */
import type { RunSummary } from '../types.js';
import { formatDuration, formatTime, runDuration } from '../format.js';

const WIDTH = 600;
const HEIGHT = 120;

export function TrendChart({ runs, successRate }: { runs: RunSummary[]; successRate: number | null }) {
  const finished = runs.filter(
    (run) => run.status === 'succeeded' || run.status === 'failed' || run.status === 'cancelled',
  );
  if (finished.length === 0) return <p class="muted">No finished runs yet.</p>;
  const oldestFirst = [...finished].reverse();
  const durations = oldestFirst.map((run) => runDuration(run) ?? 0);
  const max = Math.max(1, ...durations);
  const rate = successRate ?? finished.filter((run) => run.status === 'succeeded').length / finished.length;
  // at least 20 slots, so two runs are two thin bars rather than two blocks
  const step = WIDTH / Math.max(20, oldestFirst.length);
  return (
    <figure class="trend">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-labelledby="trend-caption"
      >
        {oldestFirst.map((run, index) => {
          const height = Math.max(2, ((durations[index] ?? 0) / max) * (HEIGHT - 4));
          return (
            <rect
              key={run.id}
              class={`bar st-${run.status}`}
              x={index * step + step * 0.1}
              y={HEIGHT - height}
              width={Math.max(1, step * 0.8)}
              height={height}
            >
              <title>{`${formatTime(run.started_at)}: ${run.status}, ${formatDuration(durations[index])}`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption id="trend-caption">
        Last {finished.length} finished runs: {Math.round(rate * 100)}% succeeded; longest{' '}
        {formatDuration(max)}. Failed runs are red, cancelled ones grey; hover a bar for its run.
      </figcaption>
    </figure>
  );
}
