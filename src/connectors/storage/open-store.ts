/** Opens the object store a storage step names (or the embedded default, the project's storage/ folder). */
import type { StepContext } from '../../core/step.js';
import { STORAGE_CONNECTION_TYPES, storageSettings } from './config.js';
import { LocalObjectStore } from './local-store.js';
import type { ObjectStore } from './object-store.js';

export async function openObjectStore(
  ctx: StepContext,
  connection: string | undefined,
): Promise<ObjectStore> {
  const raw = connection === undefined ? undefined : ctx.connection(connection, STORAGE_CONNECTION_TYPES);
  const settings = storageSettings(connection, raw, ctx.projectDir);
  if (settings.type === 'local') return new LocalObjectStore(settings.dir);
  const { S3ObjectStore } = await import('./s3-store.js');
  return S3ObjectStore.open(settings);
}
