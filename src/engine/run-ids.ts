/**
 * Run ids sort by creation time and are short enough to type: `20261123-034512-k3f9qa`. Commands
 * accept any unique prefix.
 */
import { randomInt } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const SUFFIX_LENGTH = 6;

// Six random characters give ~2e9 suffixes per second: ample across processes, but thousands of ids
// made in one second by one process would collide now and then. Suffixes already handed out for the
// current second are remembered, so this process never repeats an id.
let currentStamp = '';
const issued = new Set<string>();

export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  if (stamp !== currentStamp) {
    currentStamp = stamp;
    issued.clear();
  }
  let suffix: string;
  do {
    // randomInt is uniform over the alphabet (a byte modulo 36 favours the first four characters).
    suffix = Array.from({ length: SUFFIX_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  } while (issued.has(suffix));
  issued.add(suffix);
  return `${stamp}-${suffix}`;
}
