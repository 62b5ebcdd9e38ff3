/**
 * Run ids sort by creation time and are short enough to type: `20261123-034512-k3f9qa`. Commands
 * accept any unique prefix.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = [...randomBytes(6)].map((byte) => ALPHABET[byte % ALPHABET.length]).join('');
  return `${stamp}-${suffix}`;
}
