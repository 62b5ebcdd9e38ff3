/** What a page says when its data could not be read. */
import type { ApiError } from '../api.js';

export function LoadError({ error }: { error: ApiError }) {
  return (
    <div class="notice error-box" role="alert">
      <p>
        {error.status === 404 ? 'Not found: ' : 'Could not load this page: '}
        {error.message}
      </p>
      {error.hint ? <p class="hint">Hint: {error.hint}</p> : null}
    </div>
  );
}
