/**
 * Outputs are written under a temporary name in the target folder and renamed into place, so no
 * reader ever sees half a file and a crash leaves the previous version intact.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export function temporaryPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
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
