/** "Run now": the params form in a dialog; a started run opens its page. */
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { navigate } from '../router.js';
import type { Pipeline, RunSummary } from '../types.js';
import { Dialog } from './confirm-dialog.js';
import { ParamsForm, type FieldErrors } from './params-form.js';

export function RunDialog({
  pipeline,
  open,
  onClose,
}: {
  pipeline: Pipeline;
  open: boolean;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string | null>(null);

  const start = async (params: Record<string, string | number | boolean>) => {
    setBusy(true);
    setGeneral(null);
    setServerErrors({});
    try {
      const run = await api.post<RunSummary>(`/api/pipelines/${encodeURIComponent(pipeline.id)}/runs`, {
        params,
      });
      onClose();
      navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (error) {
      if (error instanceof ApiError) {
        const fields: FieldErrors = {};
        for (const entry of error.errors) fields[entry.field.replace(/^params\./, '')] = entry.message;
        setServerErrors(fields);
        setGeneral(Object.keys(fields).length > 0 ? null : error.message);
      } else {
        setGeneral(String(error));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Run ${pipeline.id} now`} open={open} onClose={onClose}>
      <ParamsForm
        specs={pipeline.params ?? {}}
        serverErrors={serverErrors}
        generalError={general}
        busy={busy}
        onSubmit={(values) => void start(values)}
        onCancel={onClose}
      />
    </Dialog>
  );
}
