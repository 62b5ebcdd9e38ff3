/**
 * What the e-mail and webhook deliveries share: the error that carries how many attempts were made,
 * backoff between attempts, recipient lists, byte sizes, and URLs made safe for the ledger.
 */
import { z } from 'zod';
import { PwError, type PwErrorDetails } from '../../core/errors/pw-error.js';
import type { ErrorCode } from '../../core/errors/codes.js';
import { sleep } from '../../engine/retry.js';
import type { DeliveryReport, StepContext } from '../../core/step.js';

/** A delivery that failed after `attempts` attempts; the ledger records the count. */
export class DeliveryError extends PwError {
  readonly attempts: number;

  constructor(code: ErrorCode, message: string, attempts: number, details: PwErrorDetails = {}) {
    super(code, message, details);
    this.name = 'DeliveryError';
    this.attempts = attempts;
  }
}

/** How many attempts a failed delivery made; `fallback` for errors raised before any attempt. */
export function attemptsOf(error: unknown, fallback = 0): number {
  return error instanceof DeliveryError ? error.attempts : fallback;
}

/** The wait before attempt `next` (2 = the first retry): base × 2^(next−2), the upper half jittered. */
export function retryDelay(baseMs: number, next: number, random: () => number = Math.random): number {
  const ceiling = baseMs * 2 ** Math.max(0, next - 2);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function waitBeforeRetry(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal);
}

/** One address, a comma-separated list, or a list of either. */
export const recipientsSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** Addresses from a `to`-like field: split on commas and semicolons outside quotes and <…>, trimmed. */
export function addressList(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const parts: string[] = [];
  for (const entry of typeof value === 'string' ? [value] : value) {
    let current = '';
    let quoted = false;
    let angle = false;
    for (const char of entry) {
      if (char === '"') quoted = !quoted;
      else if (char === '<' && !quoted) angle = true;
      else if (char === '>' && !quoted) angle = false;
      if ((char === ',' || char === ';') && !quoted && !angle) {
        parts.push(current);
        current = '';
      } else current += char;
    }
    parts.push(current);
  }
  return parts.map((part) => part.trim()).filter((part) => part.length > 0);
}

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$/i;
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Bytes from a number or text such as `10MB` (decimal) or `8MiB` (binary). */
export function parseByteSize(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const match = SIZE.exec(value);
  if (!match) return undefined;
  return Math.floor(Number(match[1]) * (UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1));
}

export const byteSizeSchema = z
  .union([z.int().min(0), z.string()])
  .refine((value) => parseByteSize(value) !== undefined, {
    message: 'expected a size such as 10MB, 500KB or 8MiB, or a number of bytes',
  });

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** A URL as the ledger and messages show it: no credentials, no query string, no fragment. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return url.replace(/[?#].*$/, '');
  }
}

/**
 * Records a delivery without letting the ledger decide the step's fate: a message that was sent must
 * not be sent again because the state store refused its record, and a delivery error must not be
 * replaced by a store error. A record that cannot be written is a warning in the run log.
 */
export async function recordDelivery(ctx: StepContext, report: DeliveryReport): Promise<void> {
  try {
    await ctx.deliveries.record(report);
  } catch (error) {
    ctx.log.warn(
      `the ${report.kind} to ${report.target} (${report.status}) could not be recorded in the deliveries ledger: ${(error as Error).message}`,
    );
  }
}
