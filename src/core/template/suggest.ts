/**
 * "Did you mean" suggestions for template names (variables, filters): several close names at once,
 * since a scope often holds more than one plausible candidate. The distance is the one the spec
 * validator uses, so a swapped pair of letters (`lwo` for `low`) counts as one typo everywhere.
 */
import { editDistance } from '../spec/hints.js';

/** Candidates close enough to `input` to be a plausible typo, closest first. */
export function closestNames(input: string, candidates: Iterable<string>, limit = 3): string[] {
  const needle = input.toLowerCase();
  // Short names tolerate one typo; longer ones roughly one per three characters.
  const tolerance = Math.max(1, Math.floor(needle.length / 3));
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of new Set(candidates)) {
    const hay = name.toLowerCase();
    const distance = editDistance(needle, hay);
    const prefix = needle.length >= 3 && (hay.startsWith(needle) || needle.startsWith(hay));
    if (distance <= tolerance || prefix)
      scored.push({ name, score: prefix ? Math.min(distance, 1) : distance });
  }
  scored.sort((x, y) => x.score - y.score || x.name.localeCompare(y.name));
  return scored.slice(0, limit).map((entry) => entry.name);
}

/** `a`, `a` or `b`, `a`, `b` or `c`: for hints. */
export function orList(names: readonly string[]): string {
  const quoted = names.map((name) => `\`${name}\``);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1] ?? ''}`;
}
