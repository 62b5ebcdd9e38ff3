/**
 * Durations as people write them in YAML: `500ms`, `10s`, `30m`, `1h30m`, `8d`. A bare number is
 * rejected on purpose: "timeout: 30" is ambiguous between seconds and minutes.
 */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(trimmed); match !== null; match = PART.exec(trimmed)) {
    const [whole, amount, unit] = match;
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
    consumed += whole.length;
  }
  // A run of digits long enough to overflow would otherwise come back as Infinity.
  return consumed === trimmed.length && total > 0 && Number.isFinite(total) ? Math.round(total) : undefined;
}

const pad = (value: number): string => value.toString().padStart(2, '0');

/**
 * A short human reading of a duration (`850ms`, `4.25s`, `12.5s`, `3m07s`, `2h05m`). Each unit is
 * chosen after rounding, so 59.96s reads `1m00s`, never `60.0s` or `1m60s`.
 */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  const whole = Math.round(ms);
  if (whole < 1000) return `${whole}ms`;
  const hundredths = Math.round(ms / 10);
  if (hundredths < 1000) return `${(hundredths / 100).toFixed(2)}s`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  const minutes = Math.round(ms / 60_000);
  return `${Math.floor(minutes / 60)}h${pad(minutes % 60)}m`;
}

/** setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); longer timeouts mean "no timeout". */
export function timerDelay(ms: number | undefined): number | undefined {
  return ms === undefined || ms > 2_147_483_647 ? undefined : ms;
}
