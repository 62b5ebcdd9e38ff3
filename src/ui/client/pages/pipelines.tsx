/** Every pipeline at a glance: schedule, next and last run, the last 20 outcomes, and its actions. */
import { api } from '../api.js';
import { useLoad } from '../hooks.js';
import { can, useSession } from '../session.js';
import type { Pipeline } from '../types.js';
import { StatusBadge } from '../components/status-badge.js';
import { OutcomeStrip } from '../components/outcome-strip.js';
import { PipelineActions } from '../components/pipeline-actions.js';
import { ReadOnlyNote } from '../components/read-only-note.js';
import { Time } from '../components/time.js';
import { formatDuration, runDuration } from '../format.js';
import { LoadError } from './load-error.js';

export function scheduleText(pipeline: Pipeline): string {
  const schedule = pipeline.schedule;
  if (!schedule) return 'manual only';
  const words = schedule.in_words ?? schedule.cron;
  const zone = schedule.timezone ?? 'UTC';
  return words.includes(zone) ? words : `${words}, ${zone}`;
}

export function PipelinesPage() {
  const session = useSession();
  const { data, error, reload } = useLoad(
    () => api.get<{ pipelines: Pipeline[] }>('/api/pipelines'),
    'pipelines',
    10_000,
  );
  const pipelines = data?.pipelines ?? null;
  return (
    <main id="main">
      <h1>Pipelines</h1>
      {!can(session, 'operate') ? <ReadOnlyNote what="every pipeline and run" /> : null}
      {error && !pipelines ? <LoadError error={error} /> : null}
      {!pipelines ? (
        error ? null : (
          <p class="muted">Loading…</p>
        )
      ) : pipelines.length === 0 ? (
        <p>
          No pipelines yet: add a file under <code>pipelines/</code>.
        </p>
      ) : (
        <table class="pipelines cards" data-ready="true">
          <thead>
            <tr>
              <th scope="col">Pipeline</th>
              <th scope="col">Schedule</th>
              <th scope="col">Next run</th>
              <th scope="col">Last run</th>
              <th scope="col">Duration</th>
              <th scope="col">Last 20</th>
              {can(session, 'operate') ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {pipelines.map((pipeline) => {
              const zone = pipeline.schedule?.timezone ?? null;
              const last = pipeline.last_run ?? null;
              return (
                <tr key={pipeline.id} class={pipeline.invalid_reason ? 'invalid' : undefined}>
                  <th scope="row" data-label="Pipeline">
                    <a href={`/pipelines/${encodeURIComponent(pipeline.id)}`}>{pipeline.id}</a>
                    {pipeline.paused ? <span class="badge st-paused">❚❚ paused</span> : null}
                    {pipeline.description ? <span class="desc">{pipeline.description}</span> : null}
                    {pipeline.invalid_reason ? (
                      <span class="error">
                        <span aria-hidden="true">⚠</span> Invalid definition: {pipeline.invalid_reason}
                      </span>
                    ) : null}
                  </th>
                  <td data-label="Schedule">{scheduleText(pipeline)}</td>
                  <td data-label="Next run">
                    {pipeline.paused ? (
                      <span class="muted">paused</span>
                    ) : (
                      <Time at={pipeline.schedule?.next?.[0]} zone={zone} />
                    )}
                  </td>
                  <td data-label="Last run">
                    {last ? (
                      <a href={`/runs/${encodeURIComponent(last.id)}`} class="plain">
                        <StatusBadge status={last.status} />{' '}
                        <Time at={last.finished_at ?? last.started_at ?? last.queued_at} zone={zone} />
                      </a>
                    ) : (
                      <span class="muted">never</span>
                    )}
                  </td>
                  <td data-label="Duration">{last ? formatDuration(runDuration(last)) : '—'}</td>
                  <td data-label="Last 20">
                    <OutcomeStrip runs={pipeline.recent_runs ?? (last ? [last] : [])} />
                  </td>
                  {can(session, 'operate') ? (
                    <td data-label="Actions">
                      <PipelineActions pipeline={pipeline} onChanged={reload} />
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}
