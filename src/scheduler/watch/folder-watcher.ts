/**
 * Watched folders (`triggers: [{ watch: { dir, pattern, stable_for } }]`): runs in the process that
 * runs the scheduler, scans each folder by polling (readdir + stat; fs.watch misses events on network
 * mounts and while the service is down) and turns each arrived file into exactly one run.
 *
 * - Claim, in this order: a ledger row (name, size, mtime, sha256, the run id it will get, state
 *   `claimed`), a rename into `<dir>/processing/` (same file system, atomic), then the run is queued
 *   and the row marked `queued` in one transaction that skips an existing run id. A crash between any
 *   two steps is finished by `recover()` at the next start: never two runs, never a lost file.
 * - Finish: when the run has ended, the file moves to `processed/YYYY/MM/DD/` (succeeded) or to
 *   `failed/` beside `<name>.error.txt` (failed, cancelled). The target is recorded (`finishing`)
 *   before the move, so a crash mid-way is completed at start. Names taken get a suffix, never an
 *   overwrite.
 * - A file whose content (sha256) equals a file of the same pipeline that succeeded or is in flight is
 *   a duplicate: recorded and moved to `duplicates/`, no run. A file that failed before may be
 *   dropped again and is processed again.
 * - Nothing outside the watched folder is written; files in paused pipelines' folders wait.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { resolveParams } from '../../core/params.js';
import { toPwError } from '../../core/errors/pw-error.js';
import { parseDuration } from '../../core/duration.js';
import type { PipelineSpec } from '../../core/spec/pipeline-schema.js';
import { newRunId } from '../../engine/run-ids.js';
import type { RunRecord, StateStore, WatchedFileRecord } from '../../store/state-store.js';
import { silentLog, type ServiceLog } from '../service-log.js';
import { StabilityTracker } from './stability.js';
import { datedFolder, freePath, isIgnoredName } from './watch-names.js';

export const DEFAULT_POLL_MS = 1000;
const IN_FLIGHT = ['claimed', 'queued', 'finishing'] as const;

export interface WatchedPipeline {
  id: string;
  revision: number;
  spec: PipelineSpec;
}

export interface FolderWatcherOptions {
  store: StateStore;
  projectDir: string;
  timezone: string;
  /** Pipelines with a valid definition and their stored revision (read on every scan). */
  pipelines: () => Iterable<WatchedPipeline>;
  log?: ServiceLog;
  clock?: () => Date;
}

/** One `watch` trigger of one pipeline. */
interface Watch {
  pipeline: WatchedPipeline;
  dir: string;
  pattern: RegExp;
  stableForMs: number;
  pollMs: number;
}

/** What a claim tells the caller (tests and the benchmark read it). */
export interface ClaimOutcome {
  name: string;
  entry: WatchedFileRecord;
}

export class FolderWatcher {
  private readonly store: StateStore;
  private readonly log: ServiceLog;
  private readonly clock: () => Date;
  private readonly trackers = new Map<string, StabilityTracker>();
  private readonly recovered = new Set<string>();
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: FolderWatcherOptions) {
    this.store = options.store;
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? (() => new Date());
  }

  /** The watch triggers of the current definitions. */
  watches(): Watch[] {
    const watches: Watch[] = [];
    for (const pipeline of this.options.pipelines()) {
      for (const trigger of pipeline.spec.triggers ?? []) {
        const { dir, pattern, stable_for, poll } = trigger.watch;
        watches.push({
          pipeline,
          dir: isAbsolute(dir) ? dir : resolve(this.options.projectDir, dir),
          pattern: new RegExp(pattern),
          stableForMs: parseDuration(stable_for) ?? 5000,
          pollMs: parseDuration(poll) ?? DEFAULT_POLL_MS,
        });
      }
    }
    return watches;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.scanning?.catch(() => undefined);
  }

  /** One pass over every watched folder; overlapping calls share the pass in progress. */
  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private loop(): void {
    if (this.stopped) return;
    this.scan()
      .catch((error: unknown) =>
        this.log('error', `watched folders: scan failed: ${toPwError(error).message}`),
      )
      .finally(() => {
        if (this.stopped) return;
        const watches = this.watches();
        const delay = Math.min(...watches.map((watch) => watch.pollMs), DEFAULT_POLL_MS * 60);
        this.timer = setTimeout(() => this.loop(), watches.length === 0 ? DEFAULT_POLL_MS * 5 : delay);
      });
  }

  private async scanOnce(): Promise<void> {
    const watches = this.watches();
    const byDir = new Map<string, Watch[]>();
    for (const watch of watches) byDir.set(watch.dir, [...(byDir.get(watch.dir) ?? []), watch]);
    for (const [dir, dirWatches] of byDir) {
      try {
        if (!this.recovered.has(dir)) {
          await this.recover(dir, dirWatches);
          this.recovered.add(dir);
        }
        await this.finishEnded(dir);
        await this.claimArrived(dir, dirWatches);
      } catch (error) {
        this.report(
          `${dir}:${toPwError(error).message}`,
          `watched folder ${dir}: ${toPwError(error).message}`,
        );
      }
    }
  }

  // ---- arrival -----------------------------------------------------------------------------------

  private async claimArrived(dir: string, watches: Watch[]): Promise<ClaimOutcome[]> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      this.report(
        `${dir}:missing`,
        `watched folder ${dir} cannot be read (${toPwError(error).message}); retrying every scan`,
      );
      return [];
    }
    this.reported.delete(`${dir}:missing`);
    const paused = new Set<string>();
    for (const watch of watches) {
      if ((await this.store.getPipelineState(watch.pipeline.id))?.paused) paused.add(watch.pipeline.id);
    }
    const claimed: ClaimOutcome[] = [];
    const present = new Set<string>();
    const now = this.clock().getTime();
    for (const entry of entries) {
      if (!entry.isFile() || isIgnoredName(entry.name)) continue;
      const watch = watches.find((candidate) => candidate.pattern.test(entry.name));
      if (!watch || paused.has(watch.pipeline.id)) continue;
      present.add(entry.name);
      const tracker = this.tracker(`${dir}\0${watch.pipeline.id}`, watch.stableForMs);
      let info;
      try {
        info = await stat(join(dir, entry.name));
      } catch {
        continue; // gone between readdir and stat
      }
      if (!tracker.observe(entry.name, { size: info.size, mtimeMs: info.mtimeMs }, now)) continue;
      tracker.forget(entry.name);
      const outcome = await this.claim(watch, entry.name, { size: info.size, mtimeMs: info.mtimeMs });
      if (outcome) claimed.push(outcome);
    }
    for (const watch of watches) this.trackers.get(`${dir}\0${watch.pipeline.id}`)?.retainOnly(present);
    return claimed;
  }

  /** One tracker per folder and pipeline: each watch has its own stable_for. */
  private tracker(key: string, stableForMs: number): StabilityTracker {
    let tracker = this.trackers.get(key);
    if (tracker?.stableForMs !== stableForMs) {
      tracker = new StabilityTracker(stableForMs);
      this.trackers.set(key, tracker);
    }
    return tracker;
  }

  /** Ledger row, rename into processing/, queue: in that order (see the header). */
  private async claim(
    watch: Watch,
    name: string,
    seen: { size: number; mtimeMs: number },
  ): Promise<ClaimOutcome | undefined> {
    const source = join(watch.dir, name);
    const sha256 = await hashFile(source);
    const after = await stat(source).catch(() => undefined);
    // Written to while hashing: not arrived after all; the next scans see it settle.
    if (!after || after.size !== seen.size || after.mtimeMs !== seen.mtimeMs) return undefined;
    const now = this.clock();
    const pipelineId = watch.pipeline.id;
    const earlier = await this.store.findWatchedFileByHash(pipelineId, sha256, [...IN_FLIGHT, 'succeeded']);
    const base: Omit<WatchedFileRecord, 'state' | 'processingPath'> = {
      id: randomUUID(),
      pipelineId,
      dir: watch.dir,
      name,
      size: seen.size,
      mtime: new Date(seen.mtimeMs),
      sha256,
      runId: newRunId(now),
      claimedAt: now,
    };
    if (earlier) {
      const target = await freePath(join(watch.dir, 'duplicates'), name);
      const message = `same content (sha256 ${sha256.slice(0, 12)}…) as ${earlier.name}, claimed ${earlier.claimedAt.toISOString()} for run ${earlier.runId} (${earlier.state})`;
      const entry: WatchedFileRecord = {
        ...base,
        state: 'duplicate',
        processingPath: source,
        finalPath: target,
        message,
        finishedAt: now,
      };
      await this.store.recordWatchedFile(entry);
      await mkdir(join(watch.dir, 'duplicates'), { recursive: true });
      await rename(source, target);
      this.log(
        'warn',
        `${pipelineId}: ${name} is a duplicate (${message}); moved to duplicates/${basename(target)}, no run`,
      );
      return { name, entry };
    }
    const processing = join(watch.dir, 'processing');
    await mkdir(processing, { recursive: true });
    const entry: WatchedFileRecord = {
      ...base,
      state: 'claimed',
      processingPath: await freePath(processing, name),
    };
    await this.store.recordWatchedFile(entry);
    try {
      await rename(source, entry.processingPath);
    } catch (error) {
      await this.store.updateWatchedFile(entry.id, {
        state: 'lost',
        message: `could not move it to processing/: ${toPwError(error).message}`,
        finishedAt: this.clock(),
      });
      this.log(
        'warn',
        `${pipelineId}: ${name} could not be moved to processing/ (${toPwError(error).message}); left where it is`,
      );
      return undefined;
    }
    await this.queue(watch.pipeline, entry);
    return { name, entry: { ...entry, state: 'queued' } };
  }

  private async queue(pipeline: WatchedPipeline, entry: WatchedFileRecord): Promise<void> {
    const now = this.clock();
    const run = {
      id: entry.runId,
      pipelineId: pipeline.id,
      revision: pipeline.revision,
      status: 'queued' as const,
      trigger: `watch:${entry.name}`,
      params: resolveParams(pipeline.spec.params, {}),
      scheduledFor: now,
      queuedAt: now,
      triggerData: {
        file: entry.processingPath,
        name: entry.name,
        dir: entry.dir,
        size: entry.size,
        sha256: entry.sha256,
        mtime: entry.mtime.toISOString(),
      },
    };
    await this.store.queueWatchedFileRun(entry.id, run);
    this.log(
      'info',
      `${pipeline.id}: ${entry.name} arrived (${entry.size} bytes); queued run ${entry.runId}`,
    );
  }

  // ---- end of a run --------------------------------------------------------------------------------

  private async finishEnded(dir: string): Promise<void> {
    for (const entry of await this.store.listWatchedFiles({ dir, states: ['queued', 'finishing'] })) {
      const run = await this.store.getRun(entry.runId);
      if (!run) continue; // queued by a transaction not visible yet, or the run was deleted: keep waiting
      if (run.status === 'queued' || run.status === 'running') continue;
      await this.finish(entry, run);
    }
  }

  private async finish(entry: WatchedFileRecord, run: RunRecord): Promise<void> {
    const succeeded = run.status === 'succeeded';
    let target = entry.finalPath;
    if (entry.state !== 'finishing' || target === undefined) {
      const folder = succeeded
        ? datedFolder(join(entry.dir, 'processed'), run.finishedAt ?? this.clock(), this.options.timezone)
        : join(entry.dir, 'failed');
      await mkdir(folder, { recursive: true });
      target = await freePath(folder, basename(entry.processingPath));
      await this.store.updateWatchedFile(entry.id, { state: 'finishing', finalPath: target });
    }
    const inProcessing = await exists(entry.processingPath);
    if (inProcessing) {
      if (await exists(target)) {
        // The recorded target was taken meanwhile (by hand): pick another, never overwrite.
        target = await freePath(join(target, '..'), basename(entry.processingPath));
        await this.store.updateWatchedFile(entry.id, { finalPath: target });
      }
      if (!succeeded) await writeAtomically(`${target}.error.txt`, errorText(entry, run));
      await mkdir(join(target, '..'), { recursive: true });
      await rename(entry.processingPath, target);
    } else if (!(await exists(target))) {
      await this.store.updateWatchedFile(entry.id, {
        state: 'lost',
        message: `the file was no longer in processing/ when run ${run.id} ended (${run.status})`,
        finishedAt: this.clock(),
      });
      this.log(
        'error',
        `${entry.pipelineId}: ${entry.name} was removed from processing/ while run ${run.id} ran`,
      );
      return;
    } else if (!succeeded && !(await exists(`${target}.error.txt`))) {
      await writeAtomically(`${target}.error.txt`, errorText(entry, run));
    }
    await this.store.updateWatchedFile(entry.id, {
      state: succeeded ? 'succeeded' : 'failed',
      finalPath: target,
      finishedAt: this.clock(),
      ...(succeeded ? {} : { message: run.error?.message ?? `run ${run.status}` }),
    });
    const where = target.slice(entry.dir.length + 1);
    this.log(
      succeeded ? 'info' : 'warn',
      `${entry.pipelineId}: run ${run.id} ${run.status}; ${entry.name} moved to ${where}`,
    );
  }

  // ---- start-up ------------------------------------------------------------------------------------

  /**
   * Finishes what a previous process left: `claimed` rows are moved and queued (their run id makes
   * queuing idempotent); a file in processing/ with no ledger row in flight is claimed where it is.
   * Files present in the folder itself are ordinary arrivals for the scans that follow.
   */
  private async recover(dir: string, watches: Watch[]): Promise<void> {
    const inFlight = await this.store.listWatchedFiles({ dir, states: [...IN_FLIGHT] });
    for (const entry of inFlight.filter((row) => row.state === 'claimed')) {
      const watch = watches.find((candidate) => candidate.pipeline.id === entry.pipelineId);
      const source = join(dir, entry.name);
      if (!(await exists(entry.processingPath))) {
        const still = await stat(source).catch(() => undefined);
        if (still?.size === entry.size) {
          await mkdir(join(dir, 'processing'), { recursive: true });
          await rename(source, entry.processingPath);
        } else {
          await this.store.updateWatchedFile(entry.id, {
            state: 'lost',
            message: 'the file was gone when the claim was resumed',
            finishedAt: this.clock(),
          });
          continue;
        }
      }
      if (!watch) {
        this.log(
          'warn',
          `${entry.pipelineId}: ${entry.name} waits in processing/: the pipeline no longer watches ${dir}`,
        );
        continue;
      }
      await this.queue(watch.pipeline, entry);
      this.log('info', `${entry.pipelineId}: resumed the claim of ${entry.name} (run ${entry.runId})`);
    }
    const known = new Set(inFlight.map((row) => row.processingPath));
    let names: string[];
    try {
      names = await readdir(join(dir, 'processing'));
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, 'processing', name);
      if (known.has(path) || isIgnoredName(name)) continue;
      const info = await stat(path).catch(() => undefined);
      const watch = watches.find((candidate) => candidate.pattern.test(name));
      if (!info?.isFile() || !watch) continue;
      const now = this.clock();
      const entry: WatchedFileRecord = {
        id: randomUUID(),
        pipelineId: watch.pipeline.id,
        dir,
        name,
        size: info.size,
        mtime: info.mtime,
        sha256: await hashFile(path),
        state: 'claimed',
        runId: newRunId(now),
        processingPath: path,
        claimedAt: now,
      };
      await this.store.recordWatchedFile(entry);
      await this.queue(watch.pipeline, entry);
      this.log(
        'warn',
        `${watch.pipeline.id}: ${name} was in processing/ without a ledger entry; queued run ${entry.runId}`,
      );
    }
  }

  private report(key: string, message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.log('error', message);
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await streamPipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = join(path, '..', `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(temporary, text);
  await rename(temporary, path);
}

/** The `.error.txt` beside a failed file: the run's error as stored (the engine stored it redacted). */
export function errorText(entry: WatchedFileRecord, run: RunRecord): string {
  const error = run.error;
  return [
    `file: ${entry.name} (${entry.size} bytes, sha256 ${entry.sha256})`,
    `pipeline: ${entry.pipelineId}`,
    `run: ${run.id} (attempt ${run.attempt}) ${run.status}${run.finishedAt ? ` at ${run.finishedAt.toISOString()}` : ''}`,
    ...(error
      ? [
          `error: ${error.code}${error.stepId ? ` in step ${error.stepId}` : ''}`,
          `message: ${error.message}`,
          ...(error.hint ? [`hint: ${error.hint}`] : []),
        ]
      : []),
    `details: pipewright show ${run.id}`,
    '',
  ].join('\n');
}
