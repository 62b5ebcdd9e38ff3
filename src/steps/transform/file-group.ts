/**
 * Turns the `group:` of a file-writing step into a numeric gid. A number (or a text of digits) is taken
 * as it is; a name is looked up in /etc/group, which is where Debian keeps local groups. Groups that
 * only exist in a directory service (LDAP, NIS) are not listed there and must be given by number.
 */
import { readFile } from 'node:fs/promises';
import { PwError } from '../../core/errors/pw-error.js';

export const GROUP_FILE = '/etc/group';

/** `name:password:gid:members` lines → name → gid; malformed lines and comments are passed over. */
export function parseGroupFile(text: string): Map<string, number> {
  const groups = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === undefined || name === '' || name.startsWith('#') || gid === undefined) continue;
    if (/^\d+$/.test(gid) && !groups.has(name)) groups.set(name, Number(gid));
  }
  return groups;
}

export async function resolveGroup(group: string | number, groupFile = GROUP_FILE): Promise<number> {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  const gid = parseGroupFile(text).get(group);
  if (gid !== undefined) return gid;
  throw new PwError('PW_SPEC_TYPE', `group '${group}' does not exist on this machine`, {
    path: 'with.group',
    expected: `a group name listed in ${groupFile}, or a numeric gid`,
    found: group,
    hint: `Create it (groupadd ${group}), fix the spelling, or give the gid as a number for a group from LDAP or NIS.`,
  });
}
