/**
 * What a worker needs to know about every pipeline, read from each one's latest revision in the store:
 * the `max_active_runs` limits it passes to `claimRun`, and the `after` lists that say which pipelines
 * a successful run triggers. Kept cheap: rebuilt at most every `refreshMs` (default 5 s), one revision
 * lookup per pipeline, and a definition is parsed only when its revision changed, so an edited pipeline
 * file takes effect within a few seconds.
 */
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import type { StateStore } from '../store/state-store.js';

export const DEFAULT_SETTINGS_REFRESH_MS = 5_000;

interface Known {
  revision: number;
  limit: number | undefined;
  after: readonly string[];
}

export class PipelineSettings {
  private readonly known = new Map<string, Known>();
  private limits: Record<string, number> = {};
  private downstream = new Map<string, string[]>();
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly store: StateStore,
    /** The pipelines to look at (those with a file in the project folder, or the synced ones). */
    private readonly pipelineIds: () => Promise<Iterable<string>> | Iterable<string>,
    private readonly refreshMs: number = DEFAULT_SETTINGS_REFRESH_MS,
  ) {}

  /** The `max_active_runs` limits by pipeline id (pipelines without a limit are absent). */
  async current(): Promise<Readonly<Record<string, number>>> {
    await this.fresh();
    return this.limits;
  }

  /** The pipelines whose latest revision lists `pipelineId` in `after`, sorted. */
  async downstreamOf(pipelineId: string): Promise<readonly string[]> {
    await this.fresh();
    return this.downstream.get(pipelineId) ?? [];
  }

  /** Forces a refresh at the next call (e.g. after definitions changed). */
  invalidate(): void {
    this.refreshedAt = Number.NEGATIVE_INFINITY;
  }

  private async fresh(): Promise<void> {
    if (Date.now() - this.refreshedAt < this.refreshMs) return;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    await this.refreshing;
  }

  private async refresh(): Promise<void> {
    const limits: Record<string, number> = {};
    const downstream = new Map<string, string[]>();
    for (const id of await this.pipelineIds()) {
      const latest = await this.store.latestPipelineRevision(id);
      if (!latest) continue;
      let entry = this.known.get(id);
      if (entry?.revision !== latest.revision) {
        const parsed = pipelineSchema.safeParse(latest.definition);
        entry = {
          revision: latest.revision,
          limit: parsed.success ? parsed.data.max_active_runs : undefined,
          after: parsed.success ? (parsed.data.after ?? []) : [],
        };
        this.known.set(id, entry);
      }
      if (entry.limit !== undefined) limits[id] = entry.limit;
      for (const upstream of entry.after) {
        const list = downstream.get(upstream) ?? [];
        if (!list.includes(id)) list.push(id);
        downstream.set(upstream, list.sort());
      }
    }
    this.limits = limits;
    this.downstream = downstream;
    this.refreshedAt = Date.now();
  }
}
