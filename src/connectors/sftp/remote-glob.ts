/**
 * Remote paths for sftp.get: a path, or a glob with `*` (any characters but `/`), `?` (one character)
 * and `[abc]` classes in its last segment only, e.g. `/outgoing/*.csv`. Listing one folder keeps a
 * fetch to a single readdir; names starting with a dot match only a pattern that starts with one.
 */
import { posix } from 'node:path';

export interface RemotePattern {
  /** The folder listed (`.` for the login folder). */
  dir: string;
  /** The last segment; undefined when the path has no wildcard. */
  matcher: RegExp | undefined;
  /** The path itself when it has no wildcard. */
  literal: string | undefined;
  /** Whether the pattern starts with a dot (and so may match hidden names). */
  dotted: boolean;
}

const WILDCARD = /[*?[]/;

export function hasWildcard(text: string): boolean {
  return WILDCARD.test(text);
}

/** Parses a remote path or glob; returns a message when wildcards are where they cannot be. */
export function parseRemotePattern(remote: string): RemotePattern | string {
  const dir = posix.dirname(remote);
  const last = posix.basename(remote);
  if (hasWildcard(dir)) return 'wildcards (* ? [) are allowed in the last path segment only';
  if (remote.endsWith('/') || last === '')
    return 'name a file or a pattern such as /outgoing/*.csv, not a folder';
  if (!hasWildcard(last)) return { dir, matcher: undefined, literal: remote, dotted: last.startsWith('.') };
  return { dir, matcher: globToRegExp(last), literal: undefined, dotted: last.startsWith('.') };
}

export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index] ?? '';
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const end = pattern.indexOf(']', index + 2);
      if (end === -1) source += '\\[';
      else {
        let body = pattern.slice(index + 1, end);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        source += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
        index = end;
      }
    } else source += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Whether a listed name matches: hidden names only for patterns that start with a dot. */
export function matchesName(pattern: RemotePattern, name: string): boolean {
  if (pattern.matcher === undefined) return false;
  if (name.startsWith('.') && !pattern.dotted) return false;
  return pattern.matcher.test(name);
}

/** `to` for a moved file: `move_to` relative to the file's folder unless absolute. */
export function movedPath(remoteFile: string, moveTo: string): string {
  const folder = posix.isAbsolute(moveTo) ? moveTo : posix.join(posix.dirname(remoteFile), moveTo);
  return posix.join(folder, posix.basename(remoteFile));
}
