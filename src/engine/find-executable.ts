/**
 * Where steps that drive a Debian program (Chromium for report PDFs, LibreOffice for legacy .xls)
 * find it when no path is configured: a well-known location first, then each name on PATH.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** `preferred` if it is executable, else the first of `names` in an absolute PATH folder. */
export async function findExecutable(
  preferred: string,
  names: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  if (await isExecutable(preferred)) return preferred;
  const folders = (env['PATH'] ?? '').split(delimiter).filter((folder) => isAbsolute(folder));
  for (const name of names) {
    for (const folder of folders) {
      const candidate = join(folder, name);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}
