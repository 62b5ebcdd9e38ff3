/**
 * Turns the `path:` of a read step (a file or a glob, relative to the project) into the sorted list
 * of files to read. A name that exists is taken literally even if it contains glob characters, so a
 * file called `report[1].csv` can still be read. When nothing matches, the error names the folder that
 * was searched and what it does contain, because a typo in a folder name is the usual cause.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { PwError } from '../../core/errors/pw-error.js';
import { displayPath } from './duckdb-errors.js';

export interface InputFile {
  absolute: string;
  /** Relative to the project folder, with forward slashes: what users see and `source_column` holds. */
  relative: string;
  bytes: number;
}

/** The part of a glob before its first wildcard segment: the folder the search starts in. */
export function staticBase(pattern: string): string {
  const segments = pattern.split('/');
  const fixed: string[] = [];
  for (const segment of segments.slice(0, -1)) {
    if (isDynamicPattern(segment)) break;
    fixed.push(segment);
  }
  return fixed.join('/') || '.';
}

async function describeFolder(folder: string): Promise<string> {
  try {
    const entries = await readdir(folder);
    if (entries.length === 0) return `The folder ${folder} is empty.`;
    const shown = entries.sort().slice(0, 8);
    const more = entries.length > shown.length ? `, … (${entries.length} entries)` : '';
    return `The folder ${folder} contains: ${shown.join(', ')}${more}.`;
  } catch {
    return `The folder ${folder} does not exist.`;
  }
}

export async function findInputFiles(projectDir: string, pattern: string): Promise<InputFile[]> {
  const literal = isAbsolute(pattern) ? pattern : resolve(projectDir, pattern);
  let paths: string[];
  const literalStat = await stat(literal).catch(() => undefined);
  if (literalStat?.isFile()) {
    paths = [literal];
  } else if (literalStat?.isDirectory()) {
    throw new PwError('PW_INPUT_NOT_FOUND', `'${pattern}' is a folder, not a file`, {
      path: 'with.path',
      expected: 'a file or a glob',
      found: 'a folder',
      hint: `To read every file in it, use a glob such as '${pattern.replace(/\/$/, '')}/*.csv'.`,
    });
  } else if (isDynamicPattern(pattern)) {
    const found = await glob(pattern, { cwd: projectDir, absolute: true, onlyFiles: true, dot: false });
    paths = found.sort();
  } else {
    paths = [];
  }

  if (paths.length === 0) {
    const dynamic = isDynamicPattern(pattern) && !literalStat;
    const folder = dynamic ? resolve(projectDir, staticBase(pattern)) : dirname(literal);
    const shownFolder = displayPath(projectDir, folder) || '.';
    const message = dynamic
      ? `No file matches '${pattern}' (searched in ${shownFolder})`
      : `Input file '${pattern}' does not exist (looked in ${shownFolder})`;
    throw new PwError('PW_INPUT_NOT_FOUND', message, {
      path: 'with.path',
      expected: dynamic ? 'at least one file matching the glob' : 'an existing file',
      found: 'nothing',
      hint: `${await describeFolder(folder)} Paths are relative to the project folder ${projectDir}.`,
    });
  }

  return Promise.all(
    paths.map(async (absolute) => ({
      absolute,
      relative: displayPath(projectDir, absolute),
      bytes: (await stat(absolute)).size,
    })),
  );
}
