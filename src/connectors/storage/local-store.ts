/**
 * The local-folder object store: key `a/b/c.parquet` is the file `<dir>/a/b/c.parquet`. Writes go to a
 * temporary name beside the target and are renamed into place, so a listing or a reader never sees a
 * partial object; the temporaries (`.name.xxxxxxxx.tmp`) are hidden from listings.
 */
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { PwError } from '../../core/errors/pw-error.js';
import { writeAtomically } from '../../engine/atomic-file.js';
import {
  fileDigests,
  type GetResult,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './object-store.js';

const TEMPORARY = /^\..+\.[0-9a-f]{8}\.tmp$/;

export class LocalObjectStore implements ObjectStore {
  readonly description: string;

  constructor(private readonly dir: string) {
    this.description = dir;
  }

  private pathOf(key: string): string {
    return join(this.dir, ...key.split('/'));
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const info = await stat(this.pathOf(key)).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    return { key, size: info.size, lastModified: info.mtime, etag: undefined };
  }

  async putFile(key: string, file: string, _options: PutOptions): Promise<PutResult> {
    const target = this.pathOf(key);
    const existing = await stat(target).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new PwError(
        'PW_OUTPUT_EXISTS',
        `Cannot store '${key}' in ${this.description}: a folder has that name`,
      );
    }
    let stored = { sha256: '', bytes: 0 };
    await writeAtomically(target, async (temp) => {
      await copyFile(file, temp);
      // The SHA-256 of what was stored, from the copy (the input is read once, by copyFile).
      stored = await fileDigests(temp);
    });
    return { bytes: stored.bytes, etag: undefined, parts: 1, sha256: stored.sha256 };
  }

  async getFile(key: string, tempPath: string): Promise<GetResult> {
    const source = this.pathOf(key);
    const info = await stat(source).catch(() => undefined);
    if (!info?.isFile()) {
      throw new PwError('PW_INPUT_NOT_FOUND', `No object '${key}' in ${this.description}`, {
        hint: 'Check the key, or list the store with storage.list.',
      });
    }
    await mkdir(dirname(tempPath), { recursive: true });
    await copyFile(source, tempPath);
    // A copy on the same machine: compare the bytes of both sides.
    const [original, copy] = await Promise.all([fileDigests(source), fileDigests(tempPath)]);
    if (original.sha256 !== copy.sha256) {
      throw new PwError('PW_STORAGE_CHECKSUM', `The copy of '${key}' does not match the stored file`);
    }
    return { bytes: copy.bytes, verified: 'sha256' };
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    // Only walk the folder the prefix names (everything after its last `/` filters names).
    const slash = prefix.lastIndexOf('/');
    const start = slash < 0 ? this.dir : this.pathOf(prefix.slice(0, slash));
    const walk = async (folder: string): Promise<void> => {
      const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && !TEMPORARY.test(entry.name)) {
          const key = relative(this.dir, path).split(sep).join('/');
          if (!key.startsWith(prefix)) continue;
          const info = await stat(path).catch(() => undefined);
          if (info) found.push({ key, size: info.size, lastModified: info.mtime, etag: undefined });
        }
      }
    };
    await walk(start);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) await rm(this.pathOf(key), { force: true });
  }

  close(): void {}
}
