/** The last runs' outcomes as a strip of small squares, oldest left; each is a link to its run. */
import type { RunSummary } from '../types.js';
import { formatTime } from '../format.js';

export function OutcomeStrip({ runs }: { runs: RunSummary[] }) {
  if (runs.length === 0) return <span class="muted">no runs yet</span>;
  const oldestFirst = [...runs].reverse();
  const failed = runs.filter((run) => run.status === 'failed').length;
  return (
    <ul class="strip" aria-label={`Last ${runs.length} runs, oldest first: ${failed} failed`}>
      {oldestFirst.map((run) => {
        const label = `${run.status}, ${formatTime(run.queued_at ?? run.started_at)}`;
        return (
          <li key={run.id}>
            <a
              href={`/runs/${encodeURIComponent(run.id)}`}
              class={`cell st-${run.status}`}
              title={label}
              aria-label={label}
            />
          </li>
        );
      })}
    </ul>
  );
}
