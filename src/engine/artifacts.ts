/**
 * A step's artifact sink: files it produced (rejects, reports, exports) are hashed and recorded in
 * the state store so the CLI, API and UI can list and serve them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ArtifactInfo, Artifacts, RunArtifact } from '../core/step.js';
import type { StateStore } from '../store/state-store.js';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function createArtifacts(store: StateStore, runId: string, stepId: string, dir: string): Artifacts {
  let created = false;
  return {
    get dir() {
      return dir;
    },
    async register(path, options = {}): Promise<ArtifactInfo> {
      if (!created) {
        await mkdir(dir, { recursive: true });
        created = true;
      }
      const info = await stat(path);
      const name = options.name ?? basename(path);
      await store.addArtifact({
        runId,
        stepId,
        name,
        path,
        bytes: info.size,
        sha256: await sha256File(path),
        contentType: options.contentType,
        createdAt: new Date(),
      });
      return { name, path, bytes: info.size, contentType: options.contentType };
    },
    async list(): Promise<RunArtifact[]> {
      const records = await store.listArtifacts(runId);
      return records
        .filter((record) => record.deletedAt === undefined)
        .map((record) => ({
          stepId: record.stepId,
          name: record.name,
          path: record.path,
          bytes: record.bytes,
          contentType: record.contentType,
        }));
    },
  };
}
