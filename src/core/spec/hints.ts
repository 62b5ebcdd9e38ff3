/**
 * "Did you mean …?" suggestions for misspelt names: step types, step ids, field names, time zones.
 * A suggestion is only worth showing when it is clearly the intended word, so the distance allowed
 * grows slowly with the word's length and short words get almost no slack.
 */

/** Optimal-string-alignment distance: Levenshtein plus adjacent transpositions ("fiels" → "files"). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rolling rows are enough for the transposition look-back.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, before[j - 2]! + 1);
      }
      current[j] = best;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length]!;
}

function allowedDistance(word: string): number {
  if (word.length <= 3) return 1;
  if (word.length <= 6) return 2;
  return 3;
}

/** The last segment of a dotted or slashed name: `files.read` → `read`, `Europe/Berlin` → `Berlin`. */
function lastSegment(name: string): string {
  const parts = name.split(/[./]/);
  return parts[parts.length - 1] ?? name;
}

/**
 * The candidate the user most likely meant, or undefined when none is close enough. Comparison
 * ignores case; ties go to the earlier candidate so results are stable. When nothing is close by
 * spelling, a candidate whose last segment is exactly the word (`read` → `files.read`,
 * `Berlin` → `Europe/Berlin`) is suggested if it is the only one.
 */
export function didYouMean(
  word: string,
  candidates: Iterable<string>,
  maxDistance?: number,
): string | undefined {
  const needle = word.toLowerCase();
  const limit = Math.min(maxDistance ?? allowedDistance(needle), Math.max(needle.length - 1, 0));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const bySegment: string[] = [];
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const lower = candidate.toLowerCase();
    const distance = lower === needle ? 0 : editDistance(needle, lower);
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
    if (needle !== '' && lastSegment(lower) === needle && lower !== needle) bySegment.push(candidate);
  }
  if (best !== undefined) return best;
  return bySegment.length === 1 ? bySegment[0] : undefined;
}

/** `did you mean 'files.read'?`, or undefined when there is no good suggestion. */
export function didYouMeanHint(word: string, candidates: Iterable<string>): string | undefined {
  const suggestion = didYouMean(word, candidates);
  return suggestion === undefined ? undefined : `did you mean '${suggestion}'?`;
}

/** `'a', 'b' and 'c'` — for hints that list the accepted values. */
export function listQuoted(values: readonly unknown[], conjunction = 'or'): string {
  const quoted = values.map((value) => (typeof value === 'string' ? `'${value}'` : String(value)));
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')} ${conjunction} ${quoted[quoted.length - 1]}`;
}
