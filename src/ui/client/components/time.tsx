/** An instant in the viewer's zone, with the pipeline's zone (or UTC) on hover. */
import { formatInZone, formatTime } from '../format.js';

export function Time({ at, zone }: { at: string | null | undefined; zone?: string | null | undefined }) {
  if (!at) return <span class="muted">—</span>;
  return (
    <time dateTime={at} title={formatInZone(at, zone ?? 'UTC')}>
      {formatTime(at)}
    </time>
  );
}
