/**
 * Whether a run marked `running` still has a live process. A process killed hard (power loss,
 * SIGKILL, OOM) cannot update its run, so the record says running until someone resumes it; the
 * CLI says so instead of showing it as if it were live.
 */
import { hostname } from 'node:os';
import type { RunRecord } from '../store/state-store.js';

export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the run says running, ran on this host, and its process no longer exists. */
export function isOrphaned(run: RunRecord): boolean {
  return (
    run.status === 'running' && run.host === hostname() && run.pid !== undefined && !processIsAlive(run.pid)
  );
}

export function orphanNote(run: RunRecord): string | undefined {
  return isOrphaned(run)
    ? `its process ${run.pid} is gone; resume with pipewright run --resume ${run.id}`
    : undefined;
}
