/** An artifact's preview as the server describes it: a table, an inline image/PDF/report, text, or why not. */
import { api } from '../api.js';
import { useLoad } from '../hooks.js';
import type { Artifact, Preview } from '../types.js';

export function artifactUrl(runId: string, artifact: Artifact, download = false): string {
  const base =
    artifact.download ??
    `/api/runs/${encodeURIComponent(runId)}/artifacts/${encodeURIComponent(String(artifact.id))}`;
  return download ? `${base}${base.includes('?') ? '&' : '?'}download=1` : base;
}

export function ArtifactPreview({ runId, artifact }: { runId: string; artifact: Artifact }) {
  const path = `${artifactUrl(runId, artifact)}/preview`;
  const { data, error } = useLoad(() => api.get<Preview>(path), path);
  if (error) return <p class="error">No preview: {error.message}</p>;
  if (!data) return <p class="muted">Loading the preview…</p>;
  switch (data.kind) {
    case 'table':
      return (
        <div class="table-scroll" tabIndex={0} role="region" aria-label={`Preview of ${artifact.name}`}>
          <table>
            <caption>
              {data.truncated
                ? `First ${data.rows.length} of ${data.total_rows} rows`
                : `${data.total_rows} rows`}
            </caption>
            <thead>
              <tr>
                {data.columns.map((column) => (
                  <th key={column.name} scope="col" title={column.type}>
                    {column.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {data.rows.map((row, index) => (
                <tr key={index}>
                  {row.map((cell, column) => (
                    <td key={column}>
                      {cell === null ? '∅' : typeof cell === 'object' ? JSON.stringify(cell) : String(cell)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    case 'inline':
      if (data.media_type.startsWith('image/')) {
        return <img class="preview-img" src={data.url} alt={`Preview of ${artifact.name}`} />;
      }
      return (
        <iframe
          class="preview-frame"
          src={data.url}
          title={`Preview of ${artifact.name}`}
          // a report cannot run scripts or act with the viewer's session (the server also sends CSP sandbox)
          sandbox={data.media_type === 'application/pdf' ? undefined : ''}
        />
      );
    case 'text':
      return (
        <pre class="preview-text" tabIndex={0}>
          {data.text}
          {data.truncated ? '\n… (truncated)' : ''}
        </pre>
      );
    case 'none':
      return (
        <p class="notice" role="note">
          No preview: {data.reason}. Use Download to get the file.
        </p>
      );
  }
}
