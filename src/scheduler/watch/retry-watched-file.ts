/**
 * Retrying the run of a watched file (`pipewright retry`, `POST /api/runs/{id}/retry`). The failed run
 * left its file in `failed/` beside `<name>.error.txt`, but the run's `{{ trigger.file }}` names its
 * place in `processing/`. So the file goes back first, in this order:
 *
 * 1. the file is renamed from `failed/` to the path in processing/ the run knows;
 * 2. in one transaction the ledger row goes from `failed` back to `queued` and the run is queued again,
 *    so the watcher files the retry's outcome (processed/ or failed/) exactly once, like a first run;
 * 3. the `.error.txt` is removed: it described the attempt that failed (the run keeps its logs).
 *
 * A retry interrupted after 1 finds the file in processing/ with the same content and no other ledger
 * row claiming that path, and carries on. Refused, changing nothing: the file is in neither place
 * (PW_WATCH_FILE_MISSING), another file holds its name in processing/, or the watcher has not filed the
 * failure yet (PW_RUN_NOT_RESUMABLE).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { PwError } from '../../core/errors/pw-error.js';
import type { RunPatch, RunRecord, StateStore, WatchedFileRecord } from '../../store/state-store.js';

const IN_FLIGHT = ['claimed', 'queued', 'finishing'] as const;

export async function retryWatchedFileRun(
  store: StateStore,
  run: RunRecord,
  entry: WatchedFileRecord,
  patch: RunPatch,
): Promise<void> {
  const shown = (path: string) => relative(dirname(entry.dir), path);
  if (entry.state === 'queued' || entry.state === 'finishing') {
    throw new PwError(
      'PW_RUN_NOT_RESUMABLE',
      `Run ${run.id} ended, but the watcher has not moved its file ${entry.name} to failed/ yet`,
      {
        hint: 'Retry in a few seconds. The service that watches the folder (`pipewright serve` or `pipewright scheduler`) files it within one poll; if none is running, start it first.',
      },
    );
  }
  const processing = entry.processingPath;
  const failed = entry.finalPath ?? '';
  if (entry.state !== 'failed' || failed === '') {
    throw new PwError(
      'PW_WATCH_FILE_MISSING',
      `Run ${run.id} cannot be retried: its file ${entry.name} was never filed in failed/ (ledger state ${entry.state}${entry.message ? `: ${entry.message}` : ''})`,
      {
        hint: `Drop the file into ${shown(entry.dir)}/ again: it arrives as a new file with a new run.`,
      },
    );
  }
  const inFailed = await exists(failed);
  const holder = (await store.listWatchedFiles({ dir: entry.dir, states: [...IN_FLIGHT] })).find(
    (row) => row.id !== entry.id && row.processingPath === processing,
  );
  if (holder !== undefined) {
    throw new PwError(
      'PW_RUN_NOT_RESUMABLE',
      `Run ${run.id} cannot be retried now: ${shown(processing)} belongs to another file that arrived since (run ${holder.runId})`,
      { hint: `Retry once run ${holder.runId} has ended and its file has left processing/.` },
    );
  }
  const inProcessing = await exists(processing);
  if (inFailed && inProcessing) {
    throw new PwError(
      'PW_RUN_NOT_RESUMABLE',
      `Run ${run.id} cannot be retried: ${shown(processing)} is taken by a file the watcher does not know, and nothing is overwritten`,
      { hint: `Move that file away, then retry; the run's file is at ${shown(failed)}.` },
    );
  }
  // Back in processing/ from a retry that stopped before its transaction: carry on with it.
  const resumed = !inFailed && inProcessing && (await sha256Of(processing)) === entry.sha256;
  if (!inFailed && !resumed) {
    throw new PwError(
      'PW_WATCH_FILE_MISSING',
      `Run ${run.id} cannot be retried: its file ${entry.name} is no longer at ${shown(failed)}`,
      {
        hint: `Put the file back at ${shown(failed)} and retry, or drop a corrected copy into ${shown(entry.dir)}/: it arrives as a new file with a new run.`,
      },
    );
  }
  if (inFailed) {
    await mkdir(dirname(processing), { recursive: true });
    await rename(failed, processing);
  }
  if (!(await store.retryWatchedFileRun(entry.id, run.id, patch))) {
    throw new PwError(
      'PW_RUN_NOT_RESUMABLE',
      `Run ${run.id} cannot be retried: the ledger entry of ${entry.name} changed meanwhile (another retry?)`,
      { hint: `See where it is now with \`pipewright show ${run.id}\`.` },
    );
  }
  await rm(`${failed}.error.txt`, { force: true });
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await streamPipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
