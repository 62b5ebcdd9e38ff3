/**
 * Run logs: buffered into the state store in batches, redacted of secrets, mirrored to an optional
 * listener (the CLI's live view). When the store cannot take them they go to a local fallback file,
 * so a run never loses its log because the store is down.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LogLevel, StepLogger } from '../core/step.js';
import type { LogEntry, StateStore } from '../store/state-store.js';

export interface Redacts {
  redact(text: string): string;
}

export type LogListener = (entry: LogEntry) => void;

const FLUSH_INTERVAL_MS = 250;
const MAX_BUFFER = 500;

export class RunLog {
  readonly #pending: LogEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    private readonly runId: string,
    private readonly redactor: Redacts,
    private readonly fallbackFile: string,
    private readonly listener?: LogListener,
  ) {}

  write(level: LogLevel, message: string, data?: Record<string, unknown>, stepId?: string): void {
    const entry: LogEntry = {
      runId: this.runId,
      stepId,
      at: new Date(),
      level,
      message: this.redactor.redact(message),
      data: data === undefined ? undefined : this.#redactData(data),
    };
    this.#pending.push(entry);
    this.listener?.(entry);
    if (this.#pending.length >= MAX_BUFFER) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /**
   * Masks secrets in every string, key and number of `data` (as plain JSON). Masking the serialised
   * text instead would break it whenever a secret appears as a number (`{"pin":4711}` → invalid JSON).
   */
  #redactData(data: Record<string, unknown>): Record<string, unknown> {
    const mask = (value: unknown): unknown => {
      if (typeof value === 'string') return this.redactor.redact(value);
      if (typeof value === 'number') {
        const text = String(value);
        const masked = this.redactor.redact(text);
        return masked === text ? value : masked;
      }
      if (Array.isArray(value)) return value.map(mask);
      if (value !== null && typeof value === 'object') {
        return Object.fromEntries(
          Object.entries(value).map(([key, entry]) => [this.redactor.redact(key), mask(entry)]),
        );
      }
      return value;
    };
    return mask(JSON.parse(JSON.stringify(data, jsonSafe))) as Record<string, unknown>;
  }

  forStep(stepId: string): StepLogger {
    return {
      debug: (message, data) => this.write('debug', message, data, stepId),
      info: (message, data) => this.write('info', message, data, stepId),
      warn: (message, data) => this.write('warn', message, data, stepId),
      error: (message, data) => this.write('error', message, data, stepId),
    };
  }

  /** Writes everything buffered; safe to call often, never throws. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending.splice(0);
    if (batch.length === 0) return this.#flushing;
    this.#flushing = this.#flushing.then(() => this.#persist(batch));
    return this.#flushing;
  }

  async #persist(batch: LogEntry[]): Promise<void> {
    try {
      await this.store.appendLogs(batch);
    } catch (error) {
      const lines = batch.map((entry) =>
        JSON.stringify({ ...entry, at: entry.at.toISOString(), storeError: (error as Error).message }),
      );
      try {
        await mkdir(dirname(this.fallbackFile), { recursive: true });
        await appendFile(this.fallbackFile, `${lines.join('\n')}\n`);
      } catch {
        // Both the store and the disk refused; stderr is the last place left.
        process.stderr.write(`${lines.join('\n')}\n`);
      }
    }
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
