/**
 * What `trigger` holds in a run's templates. A run queued for an inbox batch (trigger
 * `batch:<inbox>/<batch id>`) sees `trigger.batch`: its id, inbox, storage folder (absolute), and the
 * files it stored ({ name, stored_as, path, bytes, sha256 }); other runs see an empty object.
 */
import { resolve } from 'node:path';
import type { ProjectSpec } from '../core/spec/project-schema.js';
import type { StateStore } from '../store/state-store.js';

export async function triggerData(
  trigger: string,
  store: StateStore,
  project: ProjectSpec,
  projectDir: string,
): Promise<Record<string, unknown>> {
  const match = /^batch:([^/]+)\/(.+)$/.exec(trigger);
  if (match === null) return {};
  const [, inbox = '', id = ''] = match;
  const batch = await store.getInboxBatch(id);
  const config = Object.hasOwn(project.inboxes, inbox) ? project.inboxes[inbox] : undefined;
  if (batch === undefined || config === undefined) return {};
  const folder = resolve(projectDir, config.storage);
  return {
    batch: {
      id: batch.id,
      inbox,
      folder,
      received_at: batch.receivedAt,
      bytes: batch.bytes,
      files: batch.files.map((file) => ({ ...file, path: resolve(folder, file.stored_as) })),
    },
  };
}
