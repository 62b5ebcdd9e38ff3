/** Across pipelines: recent runs, notifications sent, files received — failures first. */
import { api } from '../api.js';
import { useLoad } from '../hooks.js';
import type { Delivery, RunSummary } from '../types.js';
import { StatusBadge } from '../components/status-badge.js';
import { Time } from '../components/time.js';
import { formatDuration, runDuration } from '../format.js';
import { LoadError } from './load-error.js';

interface FileReceived {
  source?: string;
  name?: string;
  path?: string;
  status?: string;
  received_at?: string;
  error?: string | null;
}

interface Activity {
  runs: RunSummary[];
  deliveries: Delivery[];
  files: FileReceived[];
}

export function ActivityPage() {
  const { data, error } = useLoad(() => api.get<Activity>('/api/activity?limit=50'), 'activity', 10_000);
  return (
    <main id="main">
      <h1>Activity</h1>
      {error && !data ? <LoadError error={error} /> : null}
      {!data ? (
        error ? null : (
          <p class="muted">Loading…</p>
        )
      ) : (
        <>
          <section aria-labelledby="runs-h">
            <h2 id="runs-h">Runs</h2>
            {data.runs.length === 0 ? (
              <p class="muted">No runs yet.</p>
            ) : (
              <table class="cards">
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">Pipeline</th>
                    <th scope="col">Status</th>
                    <th scope="col">Queued</th>
                    <th scope="col">Duration</th>
                    <th scope="col">Error</th>
                  </tr>
                </thead>
                <tbody>
                  {data.runs.map((run) => (
                    <tr key={run.id}>
                      <th scope="row" data-label="Run">
                        <a href={`/runs/${encodeURIComponent(run.id)}`}>{run.id}</a>
                      </th>
                      <td data-label="Pipeline">
                        <a href={`/pipelines/${encodeURIComponent(run.pipeline ?? '')}`}>{run.pipeline}</a>
                      </td>
                      <td data-label="Status">
                        <StatusBadge status={run.status} />
                      </td>
                      <td data-label="Queued">
                        <Time at={run.queued_at} />
                      </td>
                      <td data-label="Duration">{formatDuration(runDuration(run))}</td>
                      <td data-label="Error">{run.error ? <code>{run.error.code}</code> : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section aria-labelledby="deliveries-h">
            <h2 id="deliveries-h">Notifications and e-mails</h2>
            {data.deliveries.length === 0 ? (
              <p class="muted">Nothing sent yet.</p>
            ) : (
              <table class="cards">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Kind</th>
                    <th scope="col">To</th>
                    <th scope="col">Status</th>
                    <th scope="col">Run</th>
                  </tr>
                </thead>
                <tbody>
                  {data.deliveries.map((delivery) => (
                    <tr key={delivery.id}>
                      <td data-label="When">
                        <Time at={delivery.created_at} />
                      </td>
                      <td data-label="Kind">
                        {delivery.kind}
                        {delivery.subject ? `: ${delivery.subject}` : ''}
                      </td>
                      <td data-label="To">
                        <code>{delivery.target}</code>
                      </td>
                      <td data-label="Status">
                        <span class={`badge st-${delivery.status}`}>{delivery.status}</span>
                        {delivery.error ? (
                          <span class="error">
                            {' '}
                            {typeof delivery.error === 'string' ? delivery.error : delivery.error.message}
                          </span>
                        ) : null}
                      </td>
                      <td data-label="Run">
                        {delivery.run_id ? (
                          <a href={`/runs/${encodeURIComponent(delivery.run_id)}`}>{delivery.run_id}</a>
                        ) : (
                          '—'
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section aria-labelledby="files-h">
            <h2 id="files-h">Files received</h2>
            {data.files.length === 0 ? (
              <p class="muted">No files received by watched folders or inboxes.</p>
            ) : (
              <ul class="plain-list">
                {data.files.map((file, index) => (
                  <li key={index}>
                    <StatusBadge status={file.status ?? 'succeeded'} /> <code>{file.name ?? file.path}</code>{' '}
                    {file.source ? `from ${file.source}` : ''} <Time at={file.received_at} />
                    {file.error ? <span class="error"> {file.error}</span> : null}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </main>
  );
}
