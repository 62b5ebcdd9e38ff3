/** A run or step status as colour + icon + word, never colour alone. */
import type { RunStatus } from '../types.js';

const ICONS: Record<string, string> = {
  succeeded: '✓',
  failed: '✕',
  running: '▶',
  queued: '…',
  cancelled: '■',
  skipped: '–',
};

export function StatusBadge({ status }: { status: RunStatus | string }) {
  return (
    <span class={`badge st-${status}`}>
      <span aria-hidden="true">{ICONS[status] ?? '•'}</span> {status}
    </span>
  );
}
