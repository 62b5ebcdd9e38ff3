/**
 * Names in a watched folder: which files the watcher leaves alone (dotfiles, temporary names and its
 * own subfolders), free names for a file moved into a subfolder (a suffix, never an overwrite), and
 * the dated archive folder `processed/YYYY/MM/DD`.
 */
import { lstat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DateTime } from 'luxon';

/** The watcher's own subfolders inside a watched folder. */
export const WATCH_SUBFOLDERS = ['processing', 'processed', 'failed', 'duplicates'] as const;

/** Suffixes of files that are still being written by common tools (browsers, rsync, editors, curl). */
const TEMPORARY_SUFFIXES = ['.tmp', '.temp', '.part', '.partial', '.crdownload', '.download', '.swp', '~'];

/** True for names the watcher never picks up, whatever the pattern says. */
export function isIgnoredName(name: string): boolean {
  if (name.startsWith('.') || name.startsWith('~$')) return true;
  const lower = name.toLowerCase();
  if (lower.endsWith('.error.txt')) return true;
  return TEMPORARY_SUFFIXES.some((suffix) => lower.endsWith(suffix));
}

/** `name`, else `stem-1.ext`, `stem-2.ext` … : the first candidate `taken` says is free. */
export async function freeName(
  name: string,
  taken: (candidate: string) => Promise<boolean>,
): Promise<string> {
  if (!(await taken(name))) return name;
  const extension = extname(name);
  const stem = extension === '' || extension === name ? name : name.slice(0, -extension.length);
  for (let counter = 1; ; counter += 1) {
    const candidate = `${stem}-${counter}${extension}`;
    if (!(await taken(candidate))) return candidate;
  }
}

/** A free path for `name` in `folder` (a name is taken when anything, even a dangling link, has it). */
export async function freePath(
  folder: string,
  name: string,
  reserved?: ReadonlySet<string>,
): Promise<string> {
  const chosen = await freeName(name, async (candidate) => {
    const path = join(folder, candidate);
    if (reserved?.has(path)) return true;
    try {
      await lstat(path);
      return true;
    } catch {
      return false;
    }
  });
  return join(folder, chosen);
}

/** `processed/2026/11/23` for a run that ended at `at`, by the calendar of `timezone`. */
export function datedFolder(base: string, at: Date, timezone: string): string {
  const day = DateTime.fromJSDate(at, { zone: timezone });
  return join(base, day.toFormat('yyyy'), day.toFormat('MM'), day.toFormat('dd'));
}
