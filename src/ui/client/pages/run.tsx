/** One run: what, who and with what; the step timeline; live logs; artifacts; cancel and retry. */
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { useLoad } from '../hooks.js';
import { navigate } from '../router.js';
import { can, useSession } from '../session.js';
import type { Artifact, RunDetail } from '../types.js';
import { StatusBadge } from '../components/status-badge.js';
import { Gantt } from '../components/gantt.js';
import { LogView } from '../components/log-view.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { ArtifactPreview, artifactUrl } from '../components/artifact-preview.js';
import { ReadOnlyNote } from '../components/read-only-note.js';
import { Time } from '../components/time.js';
import { formatBytes, formatDuration, runDuration } from '../format.js';
import { LoadError } from './load-error.js';

const ACTIVE = new Set(['queued', 'running']);

export function RunPage({ id }: { id: string }) {
  const session = useSession();
  const path = `/api/runs/${encodeURIComponent(id)}`;
  const [active, setActive] = useState(true);
  const {
    data: run,
    error,
    reload,
  } = useLoad(
    async () => {
      const value = await api.get<RunDetail>(path);
      setActive(ACTIVE.has(value.status));
      return value;
    },
    path,
    active ? 1500 : undefined,
  );
  const [confirm, setConfirm] = useState<'cancel' | 'retry' | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  if (!run) {
    return (
      <main id="main">
        <h1>Run {id}</h1>
        {error ? <LoadError error={error} /> : <p class="muted">Loading…</p>}
      </main>
    );
  }

  const act = async (what: 'cancel' | 'retry') => {
    setConfirm(null);
    setActionError(null);
    try {
      const next = await api.post<RunDetail>(`${path}/${what}`);
      if (next.id !== run.id) navigate(`/runs/${encodeURIComponent(next.id)}`);
      setActive(true);
      reload();
    } catch (failure) {
      setActionError(failure instanceof ApiError ? failure.message : String(failure));
    }
  };
  const operate = can(session, 'operate');
  const failedStep = run.error?.step ?? run.steps.find((step) => step.status === 'failed')?.step ?? null;

  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/">Pipelines</a> /{' '}
        <a href={`/pipelines/${encodeURIComponent(run.pipeline)}`}>{run.pipeline}</a> / {run.id}
      </nav>
      <div class="title-row">
        <h1>
          Run {run.id} <StatusBadge status={run.status} />
        </h1>
        {operate ? (
          <span class="row-actions">
            {ACTIVE.has(run.status) ? (
              <button type="button" class="danger" onClick={() => setConfirm('cancel')}>
                Cancel run
              </button>
            ) : null}
            {run.status === 'failed' || run.status === 'cancelled' ? (
              <button type="button" class="primary" onClick={() => setConfirm('retry')}>
                Retry{failedStep ? ` from ${failedStep}` : ''}
              </button>
            ) : null}
          </span>
        ) : null}
      </div>
      {!operate ? <ReadOnlyNote what="this run" /> : null}
      {actionError ? (
        <p class="error-box" role="alert">
          {actionError}
        </p>
      ) : null}
      <ConfirmDialog
        open={confirm === 'cancel'}
        title="Cancel this run?"
        message={`Run ${run.id} of ${run.pipeline} stops within seconds; steps already done keep their outputs.`}
        confirmLabel="Cancel run"
        danger
        onConfirm={() => void act('cancel')}
        onClose={() => setConfirm(null)}
      />
      <ConfirmDialog
        open={confirm === 'retry'}
        title="Retry this run?"
        message={`Run ${run.id} is queued again and resumes ${failedStep ? `from step ${failedStep}` : 'from its failed step'}.`}
        confirmLabel="Retry"
        onConfirm={() => void act('retry')}
        onClose={() => setConfirm(null)}
      />

      <dl class="facts">
        <dt>Trigger</dt>
        <dd>{run.trigger ?? '—'}</dd>
        <dt>Revision</dt>
        <dd>{run.revision ?? '—'}</dd>
        <dt>Attempt</dt>
        <dd>{run.attempt}</dd>
        <dt>Queued</dt>
        <dd>
          <Time at={run.queued_at} />
        </dd>
        <dt>Started</dt>
        <dd>
          <Time at={run.started_at} />
        </dd>
        <dt>Finished</dt>
        <dd>
          <Time at={run.finished_at} />
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(runDuration(run))}</dd>
        <dt>Parameters</dt>
        <dd>
          {run.params && Object.keys(run.params).length > 0 ? (
            <code>
              {Object.entries(run.params)
                .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
                .join(', ')}
            </code>
          ) : (
            <span class="muted">defaults</span>
          )}
        </dd>
      </dl>
      {run.error ? (
        <div class="error-box" role="alert">
          <p>
            <code>{run.error.code}</code>
            {run.error.step ? ` in step ${run.error.step}` : ''}: {run.error.message}
          </p>
          {run.error.hint ? <p class="hint">Hint: {run.error.hint}</p> : null}
        </div>
      ) : null}

      <section aria-labelledby="steps-h">
        <h2 id="steps-h">Steps</h2>
        <Gantt attempts={run.steps} running={ACTIVE.has(run.status)} />
      </section>

      <section aria-labelledby="logs-h">
        <h2 id="logs-h">Log</h2>
        <LogView runId={run.id} />
      </section>

      <section aria-labelledby="artifacts-h">
        <h2 id="artifacts-h">Artifacts</h2>
        <Artifacts runId={run.id} artifacts={run.artifacts} />
      </section>

      {run.deliveries.length > 0 ? (
        <section aria-labelledby="deliveries-h">
          <h2 id="deliveries-h">Deliveries</h2>
          <ul class="plain-list">
            {run.deliveries.map((delivery) => (
              <li key={delivery.id}>
                <span class={`badge st-${delivery.status}`}>{delivery.status}</span> {delivery.kind} to{' '}
                <code>{delivery.target}</code>
                {delivery.subject ? `: ${delivery.subject}` : ''}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </main>
  );
}

function Artifacts({ runId, artifacts }: { runId: string; artifacts: Artifact[] }) {
  const [open, setOpen] = useState<string | null>(null);
  if (artifacts.length === 0) return <p class="muted">No artifacts.</p>;
  return (
    <ul class="artifacts">
      {artifacts.map((artifact) => {
        const key = String(artifact.id);
        const deleted = artifact.deleted_at !== null;
        return (
          <li key={key}>
            <div class="artifact-row">
              <span>
                <strong>{artifact.name}</strong> <span class="muted">from {artifact.step}</span>
              </span>
              <span class="muted">
                {artifact.content_type} · {formatBytes(artifact.bytes)}
              </span>
              {deleted ? (
                <span class="muted">deleted by retention</span>
              ) : (
                <span class="row-actions">
                  <a class="button" href={artifactUrl(runId, artifact, true)} download={artifact.name}>
                    Download
                  </a>
                  <button
                    type="button"
                    aria-expanded={open === key}
                    onClick={() => setOpen(open === key ? null : key)}
                  >
                    {open === key ? 'Hide preview' : 'Preview'}
                  </button>
                </span>
              )}
            </div>
            {open === key && !deleted ? <ArtifactPreview runId={runId} artifact={artifact} /> : null}
          </li>
        );
      })}
    </ul>
  );
}
