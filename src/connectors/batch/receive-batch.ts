/**
 * Receiving one batch for an inbox, in the order that keeps every accepted file: the raw payload is
 * stored durably (spool-payload.ts) and recorded in the state store; only then is it unpacked into the
 * inbox's storage folder. A refused payload is moved to `<storage>/.rejected/<id>.json` and recorded
 * with its error; an accepted one is recorded with its files, the inbox's pipeline is queued with the
 * batch as its trigger, and the raw payload is removed (its files and summary are stored by then).
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
  const { project, store, inbox, inboxName, now } = input;
  const storageDir = storageDirOf(project, inbox);
  const id = newRunId(now);
  const source = `POST /api/inboxes/${inboxName}/batches`;
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
  let result: UnpackResult;
  try {
    result = await unpackPayload(createReadStream(spooled.path, { highWaterMark: 256 * 1024 }), {
      storageDir,
      batchId: id,
      allowedTypes: inbox.allowed_types,
      maxFiles: inbox.max_files,
      maxFileBytes: inbox.max_file_mb * MB,
      now,
      source,
    });
  } catch (error) {
    const rejected = join(storageDir, '.rejected');
    await mkdir(rejected, { recursive: true });
    await rename(spooled.path, join(rejected, `${id}.json`));
    await store.updateInboxBatch(id, { status: 'rejected', error: toPwError(error).message });
    throw error;
  }
  const files: InboxBatchFile[] = result.files.map((file) => ({
    name: file.name,
    stored_as: file.storedAs,
    bytes: file.bytes,
    sha256: file.sha256,
  }));
  await store.updateInboxBatch(id, { status: 'stored', files });
  await rm(spooled.path, { force: true });
  let runId: string | undefined;
  let runError: string | undefined;
  if (inbox.pipeline !== undefined) {
    try {
      const run = await queueManualRun({
        project,
        store,
        pipelineId: inbox.pipeline,
        params: {},
        trigger: batchTrigger(inboxName, id),
        now,
      });
      runId = run.id;
      await store.updateInboxBatch(id, { runId });
    } catch (error) {
      runError = toPwError(error).message;
      await store.updateInboxBatch(id, { error: `pipeline not queued: ${runError}` });
    }
  }
  return { id, inbox: inboxName, bytes: spooled.bytes, result, runId, runError };
}
