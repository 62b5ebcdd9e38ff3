/**
 * Receiving one batch for an inbox, in the order that keeps every accepted file: the raw payload is
 * stored durably (spool-payload.ts) and recorded in the state store; only then is it unpacked into the
 * inbox's storage folder. A refused payload is moved to `<storage>/.rejected/<id>.json` and recorded
 * with its error; an accepted one is recorded with its files and the id its run will get, the raw
 * payload is removed (its files and summary are stored by then) and the inbox's pipeline is queued
 * under that id with the batch as its trigger. A crash between any two steps is finished at the next
 * start of `serve` (recover-batches.ts).
 */
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { queueManualRun } from '../../api/queue-manual-run.js';
import { toPwError } from '../../core/errors/pw-error.js';
import type { ProjectSpec } from '../../core/spec/project-schema.js';
import { newRunId } from '../../engine/run-ids.js';
import type { Project } from '../../project/load-project.js';
import type { InboxBatchFile, StateStore } from '../../store/state-store.js';
import { spoolPayload } from './spool-payload.js';
import { unpackPayload, type UnpackResult } from './unpack-payload.js';

export type InboxConfig = ProjectSpec['inboxes'][string];

export const MB = 1024 * 1024;

export interface ReceivedBatch {
  id: string;
  inbox: string;
  bytes: number;
  result: UnpackResult;
  runId: string | undefined;
  /** Why the inbox's pipeline could not be queued (the files are stored all the same). */
  runError: string | undefined;
}

export function storageDirOf(project: Project, inbox: InboxConfig): string {
  return resolve(project.dir, inbox.storage);
}

/** The trigger of a run queued for a batch: `batch:<inbox>/<batch id>`. */
export function batchTrigger(inbox: string, id: string): string {
  return `batch:${inbox}/${id}`;
}

export async function receiveBatch(input: {
  project: Project;
  store: StateStore;
  inboxName: string;
  inbox: InboxConfig;
  body: Readable;
  now: Date;
}): Promise<ReceivedBatch> {
  const { store, inbox, inboxName, now } = input;
  const storageDir = storageDirOf(input.project, inbox);
  const id = newRunId(now);
  const spooled = await spoolPayload(
    input.body,
    join(storageDir, '.incoming'),
    id,
    inbox.max_payload_mb * MB,
    `inbox '${inboxName}'`,
  );
  await store.recordInboxBatch({
    id,
    inbox: inboxName,
    receivedAt: now,
    bytes: spooled.bytes,
    status: 'received',
    files: [],
  });
  return storeSpooledBatch({ ...input, id, spoolPath: spooled.path, bytes: spooled.bytes });
}

/** What `storeSpooledBatch` needs: a batch recorded `received` and its payload in `.incoming/`. */
export interface SpooledBatch {
  project: Project;
  store: StateStore;
  inboxName: string;
  inbox: InboxConfig;
  id: string;
  spoolPath: string;
  bytes: number;
  /** When the batch was received: its stored files are named by it. */
  now: Date;
  /** When its run is queued; default `now` (recovery queues later than the batch arrived). */
  queuedAt?: Date;
  /**
   * Start-up recovery found the files stored and the summary written by an unpack a crash interrupted
   * afterwards (recover-batches.ts): the batch is recorded from it instead of unpacked again.
   */
  committed?: UnpackResult | undefined;
}

/**
 * Unpacks a spooled payload, records the batch `stored` with its files and the id of the run it will
 * get, removes the payload and queues the inbox's pipeline under that id; a refused payload goes to
 * `.rejected/` and is recorded `rejected`. The receiving route and start-up recovery share it.
 */
export async function storeSpooledBatch(batch: SpooledBatch): Promise<ReceivedBatch> {
  const { project, store, inbox, inboxName, id, now } = batch;
  const storageDir = storageDirOf(project, inbox);
  let result: UnpackResult;
  try {
    result =
      batch.committed ??
      (await unpackPayload(createReadStream(batch.spoolPath, { highWaterMark: 256 * 1024 }), {
        storageDir,
        batchId: id,
        allowedTypes: inbox.allowed_types,
        maxFiles: inbox.max_files,
        maxFileBytes: inbox.max_file_mb * MB,
        now,
        source: `POST /api/inboxes/${inboxName}/batches`,
      }));
  } catch (error) {
    const rejected = join(storageDir, '.rejected');
    await mkdir(rejected, { recursive: true });
    await rename(batch.spoolPath, join(rejected, `${id}.json`));
    await store.updateInboxBatch(id, { status: 'rejected', error: toPwError(error).message });
    throw error;
  }
  const files: InboxBatchFile[] = result.files.map((file) => ({
    name: file.name,
    stored_as: file.storedAs,
    bytes: file.bytes,
    sha256: file.sha256,
  }));
  // The run id is recorded with the files, so a crash before the run is queued is finished at start.
  const queuedAt = batch.queuedAt ?? now;
  const plannedRunId = inbox.pipeline === undefined ? undefined : newRunId(queuedAt);
  await store.updateInboxBatch(id, {
    status: 'stored',
    files,
    ...(plannedRunId === undefined ? {} : { runId: plannedRunId }),
  });
  await rm(batch.spoolPath, { force: true });
  const queued = await queueBatchRun({
    project,
    store,
    inboxName,
    inbox,
    id,
    runId: plannedRunId,
    now: queuedAt,
  });
  return { id, inbox: inboxName, bytes: batch.bytes, result, ...queued };
}

/**
 * Queues the inbox pipeline's run of a stored batch under the id recorded with it, once: when that run
 * exists already, nothing more is queued. A pipeline that cannot be queued is recorded as the batch's
 * error and its run id cleared (the files stay stored).
 */
export async function queueBatchRun(input: {
  project: Project;
  store: StateStore;
  inboxName: string;
  inbox: InboxConfig;
  id: string;
  runId: string | undefined;
  now: Date;
}): Promise<{ runId: string | undefined; runError: string | undefined }> {
  const { project, store, inbox, inboxName, id, runId } = input;
  if (inbox.pipeline === undefined || runId === undefined) return { runId: undefined, runError: undefined };
  try {
    const run = await queueManualRun({
      project,
      store,
      pipelineId: inbox.pipeline,
      params: {},
      trigger: batchTrigger(inboxName, id),
      now: input.now,
      id: runId,
    });
    return { runId: run.id, runError: undefined };
  } catch (error) {
    const runError = toPwError(error).message;
    await store.updateInboxBatch(id, { runId: undefined, error: `pipeline not queued: ${runError}` });
    return { runId: undefined, runError };
  }
}
