/**
 * The Prometheus metrics of `GET /metrics`. They describe the whole deployment — every process sharing
 * the state store, since with PostgreSQL the workers and schedulers run elsewhere — so they are read
 * from the store at scrape time rather than counted in this process:
 *
 * - gauges (runs by status, the queue) and the lease-expiry counter are read whole on every scrape;
 * - the duration histograms are cumulative, so they are derived incrementally: the first scrape reads
 *   every finished run and step attempt, later ones only those finished since (in finish order, through
 *   the indexes of migration 0004), and each finish is observed exactly once.
 *
 * Each app has its own prom-client `Registry` (never the global one), so several apps in one process do
 * not clash; it also carries prom-client's standard process and Node.js metrics for the serving process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type {
  FinishedRunCursor,
  FinishedRunTiming,
  FinishedStepCursor,
  FinishedStepTiming,
  RunStatus,
  StateStore,
} from '../store/state-store.js';

/** Runs take seconds to hours. */
export const RUN_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];
/** Step attempts take milliseconds to an hour. */
export const STEP_DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600];
/** Rows per store read; a first scrape of a long history reads it in pages of this size. */
export const FINISHED_PAGE_SIZE = 5000;
/**
 * How far before the newest finish already counted each scrape reads again. A finish can become visible
 * after newer ones (its transaction committed later, or another machine's clock is a little behind);
 * re-reading this window, and remembering which finishes in it were counted, catches it exactly once.
 */
export const REREAD_WINDOW_MS = 5 * 60_000;

const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const FINISHED_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface StoreMetricsOptions {
  store: StateStore;
  version: string;
  clock?: () => Date;
  /** prom-client's process_* and nodejs_* metrics of this process; default true. */
  processMetrics?: boolean;
  /** Rows per store read; default FINISHED_PAGE_SIZE. */
  pageSize?: number;
}

/**
 * Reads rows finished after a watermark, page by page, and hands each one to `observe` exactly once:
 * rows finished within REREAD_WINDOW_MS of the newest one seen are read again on the next poll and
 * skipped by their key.
 */
class FinishedFeed<Row, Cursor> {
  #newest: number | undefined;
  readonly #counted = new Map<string, number>();

  constructor(
    private readonly pageSize: number,
    private readonly source: {
      read(after: Cursor | undefined, limit: number): Promise<Row[]>;
      /** The cursor just before every row finished at `at`. */
      startAt(at: Date): Cursor;
      cursorAfter(row: Row): Cursor;
      finishedAt(row: Row): Date;
      key(row: Row): string;
      observe(row: Row): void;
    },
  ) {}

  async poll(): Promise<void> {
    const source = this.source;
    let cursor =
      this.#newest === undefined ? undefined : source.startAt(new Date(this.#newest - REREAD_WINDOW_MS));
    for (;;) {
      const rows = await source.read(cursor, this.pageSize);
      for (const row of rows) {
        const at = source.finishedAt(row).getTime();
        const key = source.key(row);
        if (!this.#counted.has(key)) {
          this.#counted.set(key, at);
          source.observe(row);
        }
        if (this.#newest === undefined || at > this.#newest) this.#newest = at;
      }
      this.#forgetOld();
      const last = rows.at(-1);
      if (rows.length < this.pageSize || last === undefined) return;
      cursor = source.cursorAfter(last);
    }
  }

  /** Keys older than the window are never read again, so they need not be remembered. */
  #forgetOld(): void {
    if (this.#newest === undefined) return;
    const oldest = this.#newest - REREAD_WINDOW_MS;
    for (const [key, at] of this.#counted) if (at < oldest) this.#counted.delete(key);
  }
}

const seconds = (from: Date, to: Date): number => Math.max(0, (to.getTime() - from.getTime()) / 1000);

export class StoreMetrics {
  readonly registry = new Registry();
  readonly #store: StateStore;
  readonly #clock: () => Date;
  readonly #runs: Gauge<'status'>;
  readonly #queueDepth: Gauge;
  readonly #queueAge: Gauge;
  readonly #leaseExpiries: Counter;
  readonly #runFeed: FinishedFeed<FinishedRunTiming, FinishedRunCursor>;
  readonly #stepFeed: FinishedFeed<FinishedStepTiming, FinishedStepCursor>;
  #refreshing: Promise<void> | undefined;

  constructor(options: StoreMetricsOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? (() => new Date());
    const registers = [this.registry];
    new Gauge({
      name: 'pipewright_build_info',
      help: 'Always 1; the version label is the Pipewright version serving these metrics.',
      labelNames: ['version'],
      registers,
    }).set({ version: options.version }, 1);
    this.#runs = new Gauge({
      name: 'pipewright_runs',
      help: 'Runs in the state store by status.',
      labelNames: ['status'],
      registers,
    });
    this.#queueDepth = new Gauge({
      name: 'pipewright_queue_depth',
      help: 'Runs queued and not yet claimed by a worker.',
      registers,
    });
    this.#queueAge = new Gauge({
      name: 'pipewright_queue_oldest_age_seconds',
      help: 'How long the oldest queued run has been waiting; 0 when the queue is empty.',
      registers,
    });
    this.#leaseExpiries = new Counter({
      name: 'pipewright_lease_expiries_total',
      help: "Runs taken back because their worker's lease expired: requeued, or failed at the attempt cap.",
      registers,
    });
    const runDuration = new Histogram({
      name: 'pipewright_run_duration_seconds',
      help: 'Finished runs: seconds from start to finish, by pipeline and final status.',
      labelNames: ['pipeline', 'status'],
      buckets: RUN_DURATION_BUCKETS,
      registers,
    });
    const stepDuration = new Histogram({
      name: 'pipewright_step_duration_seconds',
      help: 'Finished step attempts: seconds from start to finish, by pipeline, step id and status.',
      labelNames: ['pipeline', 'step', 'status'],
      buckets: STEP_DURATION_BUCKETS,
      registers,
    });
    const pageSize = options.pageSize ?? FINISHED_PAGE_SIZE;
    this.#runFeed = new FinishedFeed<FinishedRunTiming, FinishedRunCursor>(pageSize, {
      read: (after, limit) => this.#store.listFinishedRuns(after, limit),
      startAt: (at) => ({ finishedAt: at, id: '' }),
      cursorAfter: (run) => ({ finishedAt: run.finishedAt, id: run.id }),
      finishedAt: (run) => run.finishedAt,
      // A retried run that finishes again is a new finish.
      key: (run) => `${run.id}@${run.finishedAt.getTime()}`,
      observe: (run) => {
        // A run cancelled before it started has no duration.
        if (run.startedAt === undefined || !FINISHED_RUN_STATUSES.has(run.status)) return;
        runDuration.observe(
          { pipeline: run.pipelineId, status: run.status },
          seconds(run.startedAt, run.finishedAt),
        );
      },
    });
    this.#stepFeed = new FinishedFeed<FinishedStepTiming, FinishedStepCursor>(pageSize, {
      read: (after, limit) => this.#store.listFinishedStepAttempts(after, limit),
      startAt: (at) => ({ finishedAt: at, runId: '', stepId: '', attempt: -1 }),
      cursorAfter: (step) => ({
        finishedAt: step.finishedAt,
        runId: step.runId,
        stepId: step.stepId,
        attempt: step.attempt,
      }),
      finishedAt: (step) => step.finishedAt,
      key: (step) => `${step.runId}\u0000${step.stepId}\u0000${step.attempt}`,
      observe: (step) =>
        stepDuration.observe(
          { pipeline: step.pipelineId, step: step.stepId, status: step.status },
          seconds(step.startedAt, step.finishedAt),
        ),
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** `text/plain; version=0.0.4; charset=utf-8`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Reads the store and answers the exposition text; a store failure rejects (PW_STORE). */
  async scrape(): Promise<string> {
    // Scrapes at the same moment share one refresh, so no finish is read twice by racing polls.
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    await this.#refreshing;
    return this.registry.metrics();
  }

  async #refresh(): Promise<void> {
    const [byStatus, queue, expiries] = await Promise.all([
      this.#store.countRunsByStatus(),
      this.#store.queueDepth(),
      this.#store.leaseExpiryCount(),
    ]);
    for (const status of RUN_STATUSES) this.#runs.set({ status }, byStatus[status]);
    this.#queueDepth.set(queue.queued);
    this.#queueAge.set(queue.oldestQueuedAt === undefined ? 0 : seconds(queue.oldestQueuedAt, this.#clock()));
    // The store holds the totals; the counter shows them as they are.
    this.#leaseExpiries.reset();
    this.#leaseExpiries.inc(expiries);
    await this.#runFeed.poll();
    await this.#stepFeed.poll();
  }
}
