/**
 * Watched folders (`triggers: [{ watch: { dir, pattern, stable_for } }]` on a pipeline, and the routes
 * of `watch:` in pipewright.yaml, see watch-routes.ts): runs in the process that runs the scheduler,
 * scans each folder by polling (readdir + stat; fs.watch misses events on network mounts and while the
 * service is down) and turns each arrived file into exactly one run. A route is one more watch of its
 * folder with its own pipeline and params; routes come before pipeline triggers and the first pattern
 * that matches takes the file.
 *
 * - Claim, in this order: a ledger row (name, size, mtime, sha256, the run id it will get, state
 *   `claimed`), a rename into `<dir>/processing/` (same file system, atomic), then the run is queued
 *   and the row marked `queued` in one transaction that skips an existing run id. A crash between any
 *   two steps is finished by `recover()` at the next start: never two runs, never a lost file.
 * - Finish: when the run has ended, the file moves to `processed/YYYY/MM/DD/` (succeeded) or to
 *   `failed/` beside `<name>.error.txt` (failed, cancelled). The target is recorded (`finishing`)
 *   before the move, so a crash mid-way is completed at start. Names taken get a suffix, never an
 *   overwrite.
 * - A file whose content (sha256) equals a file of the same pipeline that succeeded or is in flight,
 *   and whose run got the same params, is a duplicate: recorded and moved to `duplicates/`, no run. A file that failed before may be
 *   dropped again and is processed again.
 * - Nothing outside the watched folder is written; files in paused pipelines' folders wait, and so
 *   do files a route takes while that route is broken (unknown pipeline, invalid params). A file in a
 *   routed folder that matches no route stays where it is and is logged once.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { resolveParams, type ParamValue } from '../../core/params.js';
import { toPwError } from '../../core/errors/pw-error.js';
import { parseDuration } from '../../core/duration.js';
import type { Locate } from '../../core/spec/parse-yaml.js';
import type { PipelineSpec } from '../../core/spec/pipeline-schema.js';
import type { WatchFolderSpec } from '../../core/spec/project-schema.js';
import { newRunId } from '../../engine/run-ids.js';
import type { RunRecord, StateStore, WatchedFileRecord } from '../../store/state-store.js';
import { silentLog, type ServiceLog } from '../service-log.js';
import { StabilityTracker } from './stability.js';
import { datedFolder, freePath, isIgnoredName } from './watch-names.js';
import { resolveWatchRoutes, watchDir } from './watch-routes.js';

export const DEFAULT_POLL_MS = 1000;
/** The closest two scans come when a pending file turns stable right after another. */
const MIN_SCAN_GAP_MS = 20;
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
  /** The routed folders of pipewright.yaml (`watch:`). */
  routes?: readonly WatchFolderSpec[];
  /** Lines of pipewright.yaml, for messages about broken routes. */
  locate?: Locate | undefined;
  log?: ServiceLog;
  clock?: () => Date;
}

/** One `watch` trigger of one pipeline, or one route of a routed folder. */
interface Watch {
  /** Per folder: the pipeline id for a trigger, `watch[0].routes[1]` for a route. */
  key: string;
  /** A route of pipewright.yaml (its folder logs files that match no route). */
  routed: boolean;
  /** Undefined while the route or trigger is broken (`problem` says why): its files wait. */
  pipeline: WatchedPipeline | undefined;
  params: Record<string, ParamValue>;
  problem: string | undefined;
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
  /** Per routed folder, the names that matched no route at the last scan (each is logged once). */
  private readonly unmatched = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: FolderWatcherOptions) {
    this.store = options.store;
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? (() => new Date());
  }

  /** The routes of pipewright.yaml, then the watch triggers of the current definitions. */
  watches(): Watch[] {
    const pipelines = [...this.options.pipelines()];
    const table = resolveWatchRoutes(
      {
        projectDir: this.options.projectDir,
        folders: this.options.routes ?? [],
        locate: this.options.locate,
      },
      pipelines,
    );
    const watches: Watch[] = table.routes.map((route) => ({
      key: route.name,
      routed: true,
      pipeline:
        route.params === undefined
          ? undefined
          : pipelines.find((pipeline) => pipeline.id === route.pipelineId),
      params: route.params ?? {},
      problem: route.problem,
      dir: route.dir,
      pattern: route.pattern,
      stableForMs: route.stableForMs,
      pollMs: route.pollMs,
    }));
    for (const pipeline of pipelines) {
      for (const [index, trigger] of (pipeline.spec.triggers ?? []).entries()) {
        const { dir, pattern, stable_for, poll } = trigger.watch;
        const absolute = watchDir(this.options.projectDir, dir);
        if (table.dirs.has(absolute)) {
          this.report(
            `routed:${pipeline.id}:${index}`,
            `${pipeline.id}: its watch trigger on ${dir} (triggers[${index}]) is ignored: pipewright.yaml has routes for that folder; move the trigger into a route`,
          );
          continue;
        }
        let params: Record<string, ParamValue> = {};
        let problem: string | undefined;
        try {
          params = resolveParams(pipeline.spec.params, {});
        } catch (error) {
          problem = `${pipeline.id}: a watched file's run gets the parameter defaults, and they are not valid: ${toPwError(error).message.replace(/\s+/g, ' ')}`;
        }
        watches.push({
          key: pipeline.id,
          routed: false,
          pipeline: problem === undefined ? pipeline : undefined,
          params,
          problem,
          dir: absolute,
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
        const poll = Math.min(...watches.map((watch) => watch.pollMs), DEFAULT_POLL_MS * 60);
        this.timer = setTimeout(
          () => this.loop(),
          watches.length === 0 ? DEFAULT_POLL_MS * 5 : this.nextScanIn(poll),
        );
      });
  }

  /** The poll, or less when a pending file turns stable sooner (never busier than every 20 ms). */
  private nextScanIn(pollMs: number): number {
    const now = this.clock().getTime();
    let delay = pollMs;
    for (const tracker of this.trackers.values()) {
      const due = tracker.nextDueMs();
      if (due !== undefined) delay = Math.min(delay, Math.max(MIN_SCAN_GAP_MS, due - now));
    }
    return delay;
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
    for (const id of new Set(watches.flatMap((watch) => (watch.pipeline ? [watch.pipeline.id] : [])))) {
      if ((await this.store.getPipelineState(id))?.paused) paused.add(id);
    }
    const claimed: ClaimOutcome[] = [];
    const present = new Set<string>();
    const unmatched = new Set<string>();
    const now = this.clock().getTime();
    for (const entry of entries) {
      if (!entry.isFile() || isIgnoredName(entry.name)) continue;
      const watch = watches.find((candidate) => candidate.pattern.test(entry.name));
      if (!watch) {
        if (watches.some((candidate) => candidate.routed)) unmatched.add(entry.name);
        continue;
      }
      if (watch.pipeline === undefined) {
        this.report(
          `${dir}\0${watch.key}:${watch.problem ?? ''}`,
          `${watch.problem ?? `${watch.key} cannot be used`}; files it takes wait in ${dir}`,
        );
        continue;
      }
      if (paused.has(watch.pipeline.id)) continue;
      present.add(entry.name);
      const tracker = this.tracker(`${dir}\0${watch.key}`, watch.stableForMs);
      let info;
      try {
        info = await stat(join(dir, entry.name));
      } catch {
        continue; // gone between readdir and stat
      }
      if (!tracker.observe(entry.name, { size: info.size, mtimeMs: info.mtimeMs }, now)) continue;
      tracker.forget(entry.name);
      const outcome = await this.claim(watch, watch.pipeline, entry.name, {
        size: info.size,
        mtimeMs: info.mtimeMs,
      });
      if (outcome) claimed.push(outcome);
    }
    for (const watch of watches) this.trackers.get(`${dir}\0${watch.key}`)?.retainOnly(present);
    this.noteUnmatched(dir, unmatched);
    return claimed;
  }

  /** Logs each file of a routed folder that matches no route once, for as long as it stays there. */
  private noteUnmatched(dir: string, names: Set<string>): void {
    const before = this.unmatched.get(dir) ?? new Set<string>();
    for (const name of names) {
      if (!before.has(name))
        this.log(
          'warn',
          `${dir}: ${name} matches no route of pipewright.yaml watch:; it stays in the folder until a route matches it or it is moved`,
        );
    }
    this.unmatched.set(dir, names);
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
    pipeline: WatchedPipeline,
    name: string,
    seen: { size: number; mtimeMs: number },
  ): Promise<ClaimOutcome | undefined> {
    const source = join(watch.dir, name);
    const sha256 = await hashFile(source);
    const after = await stat(source).catch(() => undefined);
    // Written to while hashing: not arrived after all; the next scans see it settle.
    if (!after || after.size !== seen.size || after.mtimeMs !== seen.mtimeMs) return undefined;
    const now = this.clock();
    const pipelineId = pipeline.id;
    const earlier = await this.earlierCopy(pipelineId, sha256, watch.params);
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
    await this.queue(pipeline, watch.params, entry);
    return { name, entry: { ...entry, state: 'queued' } };
  }

  /**
   * The ledger row this content repeats: the newest row of the pipeline with the same sha256 that
   * succeeded or is in flight, when its run got the same params (two routes may send one pipeline
   * the same bytes for two different tables; that is no duplicate).
   */
  private async earlierCopy(
    pipelineId: string,
    sha256: string,
    params: Record<string, ParamValue>,
  ): Promise<WatchedFileRecord | undefined> {
    const earlier = await this.store.findWatchedFileByHash(pipelineId, sha256, [...IN_FLIGHT, 'succeeded']);
    if (!earlier) return undefined;
    const run = await this.store.getRun(earlier.runId);
    if (run && !sameParams(run.params, params)) return undefined;
    return earlier;
  }

  private async queue(
    pipeline: WatchedPipeline,
    params: Record<string, ParamValue>,
    entry: WatchedFileRecord,
  ): Promise<void> {
    const now = this.clock();
    const run = {
      id: entry.runId,
      pipelineId: pipeline.id,
      revision: pipeline.revision,
      status: 'queued' as const,
      trigger: `watch:${entry.name}`,
      params,
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
      // The route or trigger that takes the name now (a route table may send one pipeline several).
      const candidates = watches.filter((candidate) => candidate.pipeline?.id === entry.pipelineId);
      const watch = candidates.find((candidate) => candidate.pattern.test(entry.name)) ?? candidates[0];
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
      if (!watch?.pipeline) {
        this.log(
          'warn',
          `${entry.pipelineId}: ${entry.name} waits in processing/: the pipeline no longer watches ${dir}, or its route or trigger is broken`,
        );
        continue;
      }
      await this.queue(watch.pipeline, watch.params, entry);
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
      if (!info?.isFile() || !watch?.pipeline) continue;
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
      await this.queue(watch.pipeline, watch.params, entry);
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

function sameParams(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
  );
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
