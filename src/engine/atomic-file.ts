/**
 * Outputs are written under a temporary name in the target folder and renamed into place, so no
 * reader ever sees half a file and a crash leaves the previous version intact.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export function temporaryPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Removes temporary files an earlier writer of the same target left behind when its process was
 * killed between writing and renaming. Only names of exactly our pattern for this target qualify.
 */
export async function removeStaleTemporaries(target: string): Promise<string[]> {
  const prefix = `.${basename(target)}.`;
  const names = await readdir(dirname(target)).catch(() => [] as string[]);
  const stale = names.filter(
    (name) => name.startsWith(prefix) && /^[0-9a-f]{8}\.tmp$/.test(name.slice(prefix.length)),
  );
  await Promise.all(stale.map((name) => rm(join(dirname(target), name), { force: true, recursive: true })));
  return stale;
}

/**
 * Runs `write(tempPath)`, then applies `mode` and renames onto `target`. The temporary file is
 * removed when writing fails.
 */
export async function writeAtomically(
  target: string,
  write: (tempPath: string) => Promise<void>,
  options: { mode?: number | undefined } = {},
): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  await removeStaleTemporaries(target);
  const temp = temporaryPathFor(target);
  try {
    await write(temp);
    if (options.mode !== undefined) await chmod(temp, options.mode);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true, recursive: true });
    throw error;
  }
}
