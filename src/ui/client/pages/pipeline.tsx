/** One pipeline: its definition and step graph, the next runs, history with filters, a trend chart, its loads. */
import { useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { useLoad } from '../hooks.js';
import { can, useSession } from '../session.js';
import type { LoadRecord, Pipeline, RunSummary } from '../types.js';
import { StatusBadge } from '../components/status-badge.js';
import { Dag } from '../components/dag.js';
import { YamlView } from '../components/yaml-view.js';
import { PipelineActions } from '../components/pipeline-actions.js';
import { ReadOnlyNote } from '../components/read-only-note.js';
import { TrendChart } from '../components/trend-chart.js';
import { Time } from '../components/time.js';
import { formatDuration, runDuration } from '../format.js';
import { LoadError } from './load-error.js';
import { scheduleText } from './pipelines.js';

export function PipelinePage({ id }: { id: string }) {
  const session = useSession();
  const path = `/api/pipelines/${encodeURIComponent(id)}?next=5`;
  const { data: pipeline, error, reload } = useLoad(() => api.get<Pipeline>(path), path, 15_000);
  if (error && !pipeline) {
    return (
      <main id="main">
        <h1>{id}</h1>
        <LoadError error={error} />
      </main>
    );
  }
  if (!pipeline) {
    return (
      <main id="main">
        <h1>{id}</h1>
        <p class="muted">Loading…</p>
      </main>
    );
  }
  const zone = pipeline.schedule?.timezone ?? null;
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/">Pipelines</a> / {pipeline.id}
      </nav>
      <div class="title-row">
        <h1>
          {pipeline.id} {pipeline.paused ? <span class="badge st-paused">❚❚ paused</span> : null}
        </h1>
        <PipelineActions pipeline={pipeline} onChanged={reload} />
      </div>
      {!can(session, 'operate') ? <ReadOnlyNote what="this pipeline and its runs" /> : null}
      {pipeline.description ? <p>{pipeline.description}</p> : null}
      {pipeline.invalid_reason ? (
        <p class="error-box" role="alert">
          <span aria-hidden="true">⚠</span> Invalid definition: {pipeline.invalid_reason}
        </p>
      ) : null}
      <dl class="facts">
        <dt>Schedule</dt>
        <dd>{scheduleText(pipeline)}</dd>
        <dt>Revision</dt>
        <dd>{pipeline.revision ?? '—'}</dd>
        <dt>File</dt>
        <dd>
          <code>{pipeline.file ?? '—'}</code>
        </dd>
      </dl>

      <section aria-labelledby="next-h">
        <h2 id="next-h">Next runs</h2>
        {pipeline.paused ? (
          <p class="muted">Paused: nothing is scheduled until it is resumed.</p>
        ) : pipeline.schedule?.next && pipeline.schedule.next.length > 0 ? (
          <ol class="next">
            {pipeline.schedule.next.slice(0, 5).map((at) => (
              <li key={at}>
                <Time at={at} zone={zone} />
              </li>
            ))}
          </ol>
        ) : (
          <p class="muted">No schedule: runs only when triggered.</p>
        )}
      </section>

      <section aria-labelledby="trend-h">
        <h2 id="trend-h">Duration and success</h2>
        <TrendChart
          runs={pipeline.stats?.runs ?? pipeline.recent_runs ?? []}
          successRate={pipeline.stats?.success_rate ?? null}
        />
      </section>

      <section aria-labelledby="graph-h">
        <h2 id="graph-h">Steps</h2>
        <Dag steps={pipeline.definition?.steps ?? []} />
      </section>

      <section aria-labelledby="history-h">
        <h2 id="history-h">Run history</h2>
        <RunHistory pipeline={pipeline.id} zone={zone} />
      </section>

      <section aria-labelledby="loads-h">
        <h2 id="loads-h">Data loads</h2>
        <Loads pipeline={pipeline.id} />
      </section>

      <section aria-labelledby="yaml-h">
        <h2 id="yaml-h">Definition</h2>
        {pipeline.definition?.yaml ? (
          <YamlView source={pipeline.definition.yaml} />
        ) : (
          <p class="muted">Not available.</p>
        )}
      </section>
    </main>
  );
}

const STATUSES = ['', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];

function RunHistory({ pipeline, zone }: { pipeline: string; zone: string | null }) {
  const [status, setStatus] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  // a stack of cursors: the first page has none; "Newer" pops one
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1) ?? null;
  const path = `/api/runs${query({
    pipeline,
    status,
    from: from ? new Date(`${from}T00:00:00`).toISOString() : null,
    to: to ? new Date(`${to}T23:59:59.999`).toISOString() : null,
    limit: 20,
    cursor,
  })}`;
  const { data, error } = useLoad(
    () => api.get<{ runs: RunSummary[]; next: string | null }>(path),
    path,
    cursor ? undefined : 10_000,
  );
  const resetting = (set: (value: string) => void) => (event: Event) => {
    set((event.currentTarget as HTMLInputElement).value);
    setCursors([]);
  };
  return (
    <>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Status{' '}
          <select value={status} onChange={resetting(setStatus)}>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {value === '' ? 'any' : value}
              </option>
            ))}
          </select>
        </label>
        <label>
          From <input type="date" value={from} onChange={resetting(setFrom)} />
        </label>
        <label>
          To <input type="date" value={to} onChange={resetting(setTo)} />
        </label>
      </form>
      {error ? <LoadError error={error} /> : null}
      {data && data.runs.length === 0 ? <p class="muted">No runs match.</p> : null}
      {data && data.runs.length > 0 ? (
        <table class="cards">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Trigger</th>
              <th scope="col">Queued</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {data.runs.map((run) => (
              <tr key={run.id}>
                <th scope="row" data-label="Run">
                  <a href={`/runs/${encodeURIComponent(run.id)}`}>{run.id}</a>
                </th>
                <td data-label="Status">
                  <StatusBadge status={run.status} />
                </td>
                <td data-label="Trigger">{run.trigger ?? '—'}</td>
                <td data-label="Queued">
                  <Time at={run.queued_at} zone={zone} />
                </td>
                <td data-label="Duration">{formatDuration(runDuration(run))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="pager">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors((old) => old.slice(0, -1))}
        >
          ← Newer
        </button>
        <button
          type="button"
          disabled={!data?.next}
          onClick={() => data?.next && setCursors((old) => [...old, data.next as string])}
        >
          Older →
        </button>
      </div>
    </>
  );
}

function Loads({ pipeline }: { pipeline: string }) {
  const path = `/api/pipelines/${encodeURIComponent(pipeline)}/loads?limit=20`;
  const { data, error } = useLoad(() => api.get<{ loads: LoadRecord[]; next: string | null }>(path), path);
  if (error)
    return error.status === 404 ? (
      <p class="muted">The data-load ledger is not available on this server.</p>
    ) : (
      <LoadError error={error} />
    );
  if (!data) return <p class="muted">Loading…</p>;
  if (data.loads.length === 0) return <p class="muted">No data loads recorded.</p>;
  return (
    <table class="cards">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Run</th>
          <th scope="col">Step</th>
          <th scope="col">Target</th>
          <th scope="col">Rows</th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody>
        {data.loads.map((load, index) => (
          <tr key={`${load.run_id}-${load.step}-${index}`}>
            <td data-label="When">
              <Time at={load.created_at} />
            </td>
            <td data-label="Run">
              <a href={`/runs/${encodeURIComponent(load.run_id)}`}>{load.run_id}</a>
            </td>
            <td data-label="Step">{load.step}</td>
            <td data-label="Target">
              <code>{load.target}</code>
            </td>
            <td data-label="Rows">{load.rows ?? '—'}</td>
            <td data-label="Status">
              <StatusBadge status={load.status} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
