/**
 * Start-up recovery of inbox batches, run by `serve` before it listens (so no batch is being received
 * meanwhile). What a crash can leave behind, by the step of receive-batch.ts it interrupted:
 *
 * - `.incoming/<id>.json.part`: the body never finished arriving. No record exists and the sender got
 *   no answer. Recorded `rejected` with that reason and moved to `.rejected/<id>.json.part`.
 * - `.incoming/<id>.json` with no record: the body was stored whole (it is renamed only after fsync)
 *   but the service stopped before recording it, so the sender got no answer either. Recorded
 *   `rejected` and moved to `.rejected/<id>.json`. Neither is ever deleted.
 * - `.incoming/<id>.json` recorded `received`: unpacked again, then stored and queued as usual. What
 *   the interrupted unpack left is undone first: its `.incoming/<id>.tmp/` and the files it had already
 *   linked into storage (hard links of those temporaries: same device and inode). When its summary had
 *   been written, the unpack had finished: the batch is recorded from the summary instead, so no file
 *   is stored twice.
 * - recorded `received` with the payload already in `.rejected/`: it was refused, but the reason was
 *   not recorded; recorded `rejected` saying so.
 * - `.incoming/<id>.json` recorded `stored`: its files are stored; the leftover payload is removed.
 * - recorded `stored` with a run id that names no run: the run is queued under that id.
 *
 * Everything is recorded before files move, so a crash during recovery is finished by the next one,
 * and a recovery that finds nothing left does nothing.
 */
import { lstat, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { toPwError } from '../../core/errors/pw-error.js';
import type { Project } from '../../project/load-project.js';
import { silentLog, type ServiceLog } from '../../scheduler/service-log.js';
import { freePath } from '../../scheduler/watch/watch-names.js';
import type { InboxBatchRecord, StateStore } from '../../store/state-store.js';
import { queueBatchRun, storageDirOf, storeSpooledBatch, type InboxConfig } from './receive-batch.js';
import { batchStamp, type StoredFile, type UnpackResult } from './unpack-payload.js';

export interface BatchRecoveryOptions {
  project: Project;
  store: StateStore;
  log?: ServiceLog;
  clock?: () => Date;
}

/** Batch ids by what recovery did with them (tests and the start-up log read it). */
export interface BatchRecoveryReport {
  /** Received before the crash, stored now. */
  stored: string[];
  /** Stored before the crash; their pipeline's run queued now. */
  queued: string[];
  /** Moved to `.rejected/` (or recorded refused) now. */
  rejected: string[];
  /** Stored before the crash; their leftover payload removed now. */
  cleaned: string[];
}

export async function recoverInboxBatches(options: BatchRecoveryOptions): Promise<BatchRecoveryReport> {
  const { project, store } = options;
  const log = options.log ?? silentLog;
  const clock = options.clock ?? (() => new Date());
  const report: BatchRecoveryReport = { stored: [], queued: [], rejected: [], cleaned: [] };
  const inboxes = project.spec.inboxes;
  const inboxOf = (name: string): InboxConfig | undefined =>
    Object.hasOwn(inboxes, name) ? inboxes[name] : undefined;

  for (const batch of await store.listUnfinishedInboxBatches()) {
    const inbox = inboxOf(batch.inbox);
    if (inbox === undefined) {
      log(
        'warn',
        `inbox ${batch.inbox}: batch ${batch.id} is ${batch.status} but the inbox is no longer in pipewright.yaml; left as it is`,
      );
      continue;
    }
    try {
      if (batch.status === 'received') await resumeReceived(batch, inbox);
      else await queueStored(batch, inbox);
    } catch (error) {
      log(
        'error',
        `inbox ${batch.inbox}: batch ${batch.id} could not be recovered: ${toPwError(error).message}`,
      );
    }
  }

  // Payloads nobody recorded, and leftovers of batches that got further than their payload.
  const owners = new Map<string, string>();
  for (const [name, inbox] of Object.entries(inboxes)) {
    const dir = storageDirOf(project, inbox);
    if (!owners.has(dir)) owners.set(dir, name);
  }
  for (const [storageDir, inboxName] of owners) {
    let names: string[];
    try {
      names = await readdir(join(storageDir, '.incoming'));
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const match = /^(.+)\.json(\.part)?$/.exec(name);
      if (!match?.[1]) continue;
      const id = match[1];
      const path = join(storageDir, '.incoming', name);
      try {
        const record = await store.getInboxBatch(id);
        if (record === undefined)
          await rejectUnrecorded(storageDir, inboxName, id, path, match[2] !== undefined);
        else if (record.status === 'stored') {
          await rm(path, { force: true });
          report.cleaned.push(id);
          log(
            'info',
            `inbox ${record.inbox}: batch ${id} was stored before the service stopped; removed its payload from .incoming/`,
          );
        } else if (record.status === 'rejected') {
          await moveToRejected(storageDir, name, path);
          report.rejected.push(id);
          log(
            'info',
            `inbox ${record.inbox}: batch ${id} was refused before the service stopped; moved its payload to .rejected/`,
          );
        }
        // `received`: handled above, or its inbox is gone.
      } catch (error) {
        log(
          'error',
          `inbox ${inboxName}: ${name} in .incoming/ could not be recovered: ${toPwError(error).message}`,
        );
      }
    }
  }
  return report;

  async function resumeReceived(batch: InboxBatchRecord, inbox: InboxConfig): Promise<void> {
    const storageDir = storageDirOf(project, inbox);
    const spoolPath = join(storageDir, '.incoming', `${batch.id}.json`);
    if (!(await exists(spoolPath))) {
      const refused = await exists(join(storageDir, '.rejected', `${batch.id}.json`));
      const error = refused
        ? 'refused, but the service stopped before the reason was recorded; the payload is in .rejected/'
        : `its payload is not at ${relative(project.dir, spoolPath)} (removed by hand, or the inbox's storage changed?); nothing was stored`;
      await store.updateInboxBatch(batch.id, { status: 'rejected', error });
      report.rejected.push(batch.id);
      log('warn', `inbox ${batch.inbox}: batch ${batch.id} ${error}`);
      return;
    }
    const committed = await undoInterruptedUnpack(storageDir, batch.id, batch.receivedAt);
    try {
      const stored = await storeSpooledBatch({
        project,
        store,
        inboxName: batch.inbox,
        inbox,
        id: batch.id,
        spoolPath,
        bytes: batch.bytes,
        now: batch.receivedAt,
        queuedAt: clock(),
        committed,
      });
      report.stored.push(batch.id);
      const run = stored.runId
        ? `; queued run ${stored.runId}`
        : stored.runError
          ? `; pipeline not queued: ${stored.runError}`
          : '';
      log(
        'info',
        `inbox ${batch.inbox}: batch ${batch.id} was received before the service stopped; ${committed ? 'its unpack had finished, recorded' : 'unpacked now,'} ${stored.result.files.length} file${stored.result.files.length === 1 ? '' : 's'}${run}`,
      );
    } catch (error) {
      report.rejected.push(batch.id);
      log(
        'warn',
        `inbox ${batch.inbox}: batch ${batch.id} was received before the service stopped and is refused now: ${toPwError(error).message}; the payload is in .rejected/`,
      );
    }
  }

  async function queueStored(batch: InboxBatchRecord, inbox: InboxConfig): Promise<void> {
    const queued = await queueBatchRun({
      project,
      store,
      inboxName: batch.inbox,
      inbox,
      id: batch.id,
      runId: batch.runId,
      now: clock(),
    });
    if (queued.runId !== undefined) {
      report.queued.push(batch.id);
      log(
        'info',
        `inbox ${batch.inbox}: batch ${batch.id} was stored before the service stopped; queued run ${queued.runId}`,
      );
    } else {
      log(
        'warn',
        `inbox ${batch.inbox}: batch ${batch.id}: pipeline not queued: ${queued.runError ?? 'no pipeline'}`,
      );
    }
  }

  async function rejectUnrecorded(
    storageDir: string,
    inboxName: string,
    id: string,
    path: string,
    partial: boolean,
  ): Promise<void> {
    const info = await stat(path);
    const kept = `.rejected/${id}.json${partial ? '.part' : ''}`;
    const error = partial
      ? `the request body never finished arriving (the service or the connection stopped); the sender got no answer. Kept as ${kept}`
      : `the payload arrived whole, but the service stopped before recording it; the sender got no answer and should send it again. Kept as ${kept}`;
    // Recorded first: a crash before the move leaves a rejected record, and the next start moves it.
    await store.recordInboxBatch({
      id,
      inbox: inboxName,
      receivedAt: info.mtime,
      bytes: info.size,
      status: 'rejected',
      files: [],
      error,
    });
    await moveToRejected(storageDir, `${id}.json${partial ? '.part' : ''}`, path);
    report.rejected.push(id);
    log('warn', `inbox ${inboxName}: payload ${id}: ${error}`);
  }
}

async function moveToRejected(storageDir: string, name: string, path: string): Promise<void> {
  const folder = join(storageDir, '.rejected');
  await mkdir(folder, { recursive: true });
  await rename(path, await freePath(folder, name));
}

/**
 * Undoes what an unpack interrupted by a crash left, so it can run again without storing anything
 * twice; returns its result instead when it had finished (its summary is there).
 */
export async function undoInterruptedUnpack(
  storageDir: string,
  batchId: string,
  receivedAt: Date,
): Promise<UnpackResult | undefined> {
  const stamp = batchStamp(receivedAt);
  const summaryPath = join(storageDir, `${stamp}_batch-${batchId}_summary.json`);
  const temporaries = join(storageDir, '.incoming', `${batchId}.tmp`);
  const committed = await readSummary(summaryPath, storageDir, batchId);
  if (committed === undefined) {
    // Files linked into storage before the crash are the temporaries under another name.
    const linked = await inodesIn(temporaries);
    if (linked.size > 0) {
      for (const name of await readdir(storageDir)) {
        if (!name.startsWith(stamp)) continue;
        const info = await lstat(join(storageDir, name)).catch(() => undefined);
        if (info?.isFile() && linked.has(`${info.dev}:${info.ino}`)) await rm(join(storageDir, name));
      }
    }
    await rm(`${summaryPath}.tmp`, { force: true });
  }
  await rm(temporaries, { recursive: true, force: true });
  return committed;
}

async function inodesIn(dir: string): Promise<Set<string>> {
  const found = new Set<string>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return found;
  }
  for (const name of names) {
    const info = await lstat(join(dir, name)).catch(() => undefined);
    if (info?.isFile()) found.add(`${info.dev}:${info.ino}`);
  }
  return found;
}

/** The result an unpack recorded in its summary; undefined when there is none (or it is unreadable). */
async function readSummary(
  path: string,
  storageDir: string,
  batchId: string,
): Promise<UnpackResult | undefined> {
  let summary: unknown;
  try {
    summary = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof summary !== 'object' || summary === null) return undefined;
  const { batch_id: id, files, batch_metadata: metadata } = summary as Record<string, unknown>;
  if (id !== batchId || !Array.isArray(files)) return undefined;
  const stored: StoredFile[] = [];
  for (const file of files as Record<string, unknown>[]) {
    const { filename, stored_as: storedAs, size, sha256, content_type: contentType } = file;
    if (typeof filename !== 'string' || typeof storedAs !== 'string' || typeof size !== 'number')
      return undefined;
    stored.push({
      name: filename,
      storedAs,
      path: join(storageDir, storedAs),
      bytes: size,
      sha256: typeof sha256 === 'string' ? sha256 : '',
      contentType: typeof contentType === 'string' ? contentType : '',
    });
  }
  return {
    batchId,
    files: stored,
    metadata: typeof metadata === 'object' && metadata !== null ? (metadata as UnpackResult['metadata']) : {},
    summaryPath: path,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
