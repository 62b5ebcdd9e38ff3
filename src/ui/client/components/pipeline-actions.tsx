/** Run now and pause/resume for one pipeline, for tokens that may operate. */
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { can, useSession } from '../session.js';
import type { Pipeline } from '../types.js';
import { RunDialog } from './run-dialog.js';

export function PipelineActions({ pipeline, onChanged }: { pipeline: Pipeline; onChanged: () => void }) {
  const session = useSession();
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!can(session, 'operate')) return null;
  const toggle = async () => {
    setError(null);
    try {
      await api.post(
        `/api/pipelines/${encodeURIComponent(pipeline.id)}/${pipeline.paused ? 'resume' : 'pause'}`,
      );
      onChanged();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : String(failure));
    }
  };
  return (
    <span class="row-actions">
      <button
        type="button"
        class="primary"
        disabled={Boolean(pipeline.invalid_reason)}
        onClick={() => setRunning(true)}
      >
        Run now<span class="vh"> for {pipeline.id}</span>
      </button>
      {pipeline.schedule ? (
        <button type="button" onClick={() => void toggle()}>
          {pipeline.paused ? 'Resume' : 'Pause'}
          <span class="vh"> {pipeline.id}</span>
        </button>
      ) : null}
      {error ? (
        <span class="error" role="alert">
          {error}
        </span>
      ) : null}
      <RunDialog pipeline={pipeline} open={running} onClose={() => setRunning(false)} />
    </span>
  );
}
