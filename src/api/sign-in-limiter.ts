/**
 * Failed sign-in limiting for `POST /ui/session`: each client address may fail a few times per window;
 * beyond that it is refused (429) until the window ends, so tokens cannot be guessed at speed. In memory
 * and per process: a restart forgives, which is fine for a limit on guessing 256-bit tokens.
 */
export interface SignInLimiterOptions {
  /** Failures allowed per address per window; default 10. */
  maxFailures?: number;
  /** Default 15 minutes. */
  windowMs?: number;
}

/** Addresses tracked at once; beyond this, finished windows are dropped first. */
const MAX_TRACKED = 10_000;

export class SignInLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #failures = new Map<string, { count: number; since: number }>();

  constructor(options: SignInLimiterOptions = {}) {
    this.#max = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 15 * 60 * 1000;
  }

  /** Milliseconds until `address` may try again, or 0 when it may now. */
  retryAfterMs(address: string, now: number): number {
    const entry = this.#failures.get(address);
    if (entry === undefined || now - entry.since >= this.#windowMs) return 0;
    return entry.count >= this.#max ? entry.since + this.#windowMs - now : 0;
  }

  fail(address: string, now: number): void {
    const entry = this.#failures.get(address);
    if (entry === undefined || now - entry.since >= this.#windowMs) {
      if (this.#failures.size >= MAX_TRACKED) this.#prune(now);
      this.#failures.set(address, { count: 1, since: now });
    } else {
      entry.count += 1;
    }
  }

  succeed(address: string): void {
    this.#failures.delete(address);
  }

  #prune(now: number): void {
    for (const [address, entry] of this.#failures) {
      if (now - entry.since >= this.#windowMs) this.#failures.delete(address);
    }
    // Still full of live windows (many addresses failing at once): forget the oldest.
    for (const address of this.#failures.keys()) {
      if (this.#failures.size < MAX_TRACKED) break;
      this.#failures.delete(address);
    }
  }
}
