/**
 * Definitions in the store: the pipeline files of the project folder are read, validated and stored
 * as revisions, so that schedulers and workers (possibly on other machines) work from the store.
 *
 * - A valid file is stored with the hash of its normalised definition; the store adds a revision
 *   only when the hash changed, and an earlier invalid mark is cleared.
 * - An invalid file marks its pipeline invalid with a one-line reason; its last valid revision stays
 *   the latest one and keeps running. A pipeline that never had a valid file has no revision and
 *   is not scheduled.
 * - A pipeline whose file is gone is no longer listed, so the scheduler stops queuing it.
 *
 * `DefinitionSync.start()` re-syncs when a file in the pipelines folder changes (fs.watch with a
 * debounce) and rescans periodically as a fallback (fs.watch misses changes on some file systems
 * and network mounts, and cannot watch a folder that does not exist yet).
 */
import { watch, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import {
  listPipelineFiles,
  loadPipeline,
  type LoadedPipeline,
  type Project,
} from '../project/load-project.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import { toPwError, type SpecIssue } from '../core/errors/pw-error.js';
import type { PipelineSpec } from '../core/spec/pipeline-schema.js';
import type { StateStore } from '../store/state-store.js';
import type { ServiceLog } from './service-log.js';
import { silentLog } from './service-log.js';

export interface SyncedPipeline {
  id: string;
  /** Path relative to the project folder. */
  file: string;
  /** The file's current definition, when it is valid. */
  spec?: PipelineSpec;
  /** The latest valid revision in the store (the one that runs), if any. */
  revision?: number;
  /** Why the file is invalid (one line), when it is. */
  invalidReason?: string;
}

export interface SyncResult {
  pipelines: SyncedPipeline[];
  /** Pipelines for which this sync stored a new revision. */
  stored: string[];
}

export interface DefinitionSyncOptions {
  project: Project;
  store: StateStore;
  log?: ServiceLog;
  clock?: () => Date;
  /** Quiet time after the last file event before re-syncing (default 300 ms). */
  debounceMs?: number;
  /** Periodic rescan, whatever the watcher saw (default 60 s; 0 turns it off). */
  rescanMs?: number;
}

export class DefinitionSync {
  private readonly project: Project;
  private readonly store: StateStore;
  private readonly log: ServiceLog;
  private readonly clock: () => Date;
  private readonly debounceMs: number;
  private readonly rescanMs: number;
  /** Per pipeline id: the hash last stored and the invalid reason last recorded, to skip no-op writes. */
  private readonly stored = new Map<string, { hash: string; revision: number }>();
  private readonly reportedInvalid = new Map<string, string>();
  private current: SyncedPipeline[] = [];
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private running: Promise<SyncResult> | undefined;
  private again = false;
  private stopped = false;

  constructor(options: DefinitionSyncOptions) {
    this.project = options.project;
    this.store = options.store;
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? (() => new Date());
    this.debounceMs = options.debounceMs ?? 300;
    this.rescanMs = options.rescanMs ?? 60_000;
  }

  /** The pipelines found by the last sync, valid or not, in file-name order. */
  pipelines(): readonly SyncedPipeline[] {
    return this.current;
  }

  /** Ids the scheduler should consider: files present now that have (had) a valid revision. */
  scheduledIds(): string[] {
    return this.current.filter((pipeline) => pipeline.revision !== undefined).map((pipeline) => pipeline.id);
  }

  /** Syncs once; concurrent calls share one pass (and one more pass follows if asked for meanwhile). */
  sync(): Promise<SyncResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const pass = async (): Promise<SyncResult> => {
      try {
        let result = await this.syncOnce();
        while (this.again && !this.stopped) {
          this.again = false;
          result = await this.syncOnce();
        }
        return result;
      } finally {
        this.running = undefined;
      }
    };
    this.running = pass();
    return this.running;
  }

  /** Initial sync, then watch the pipelines folder and rescan periodically. */
  async start(): Promise<SyncResult> {
    const result = await this.sync();
    this.watchFolder();
    if (this.rescanMs > 0) {
      this.rescan = setInterval(() => this.syncInBackground(), this.rescanMs);
      this.rescan.unref();
    }
    return result;
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.rescan) clearInterval(this.rescan);
  }

  /** Resolves once any sync in progress has finished. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private pipelinesDir(): string {
    return resolve(this.project.dir, this.project.spec.pipelines_dir);
  }

  private watchFolder(): void {
    if (this.stopped || this.watcher) return;
    try {
      this.watcher = watch(this.pipelinesDir(), { persistent: false }, () => this.scheduleSync());
      this.watcher.on('error', (error) => {
        // The folder was removed or renamed: fall back to the periodic rescan, which re-watches it.
        this.log(
          'warn',
          `watching ${this.project.spec.pipelines_dir}/ stopped (${error.message}); rescanning every ${this.rescanMs / 1000}s`,
        );
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // No pipelines folder yet: the periodic rescan picks it up.
    }
  }

  private scheduleSync(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.syncInBackground(), this.debounceMs);
    this.debounce.unref();
  }

  private syncInBackground(): void {
    if (this.stopped) return;
    this.watchFolder();
    this.sync().catch((error: unknown) =>
      this.log('error', `syncing pipeline definitions failed: ${toPwError(error).message}`),
    );
  }

  private async syncOnce(): Promise<SyncResult> {
    const files = await listPipelineFiles(this.project);
    const pipelines: SyncedPipeline[] = [];
    const stored: string[] = [];
    const seen = new Set<string>();
    const loadedFiles: { file: (typeof files)[number]; loaded: LoadedPipeline }[] = [];
    for (const file of files) {
      try {
        loadedFiles.push({ file, loaded: await loadPipeline(this.project, file) });
      } catch {
        continue; // removed (or unreadable) between listing and reading: the next pass sees it
      }
    }
    const afterProblems = checkAfter(
      files.map((file) => file.id),
      loadedFiles.flatMap(({ loaded }) => (loaded.ok ? [loaded.spec] : [])),
    );
    for (const { file, loaded } of loadedFiles) {
      seen.add(file.id);
      const now = this.clock();
      const afterProblem = afterProblems.get(file.id);
      if (loaded.ok && afterProblem === undefined) {
        const hash = definitionHash(loaded.spec);
        let known = this.stored.get(file.id);
        if (known?.hash !== hash) {
          const saved = await this.store.savePipelineRevision({
            pipelineId: file.id,
            hash,
            definition: loaded.spec,
            sourcePath: file.displayPath,
            at: now,
          });
          known = { hash, revision: saved.revision.revision };
          this.stored.set(file.id, known);
          if (saved.created) {
            stored.push(file.id);
            this.log('info', `${file.id}: stored revision ${known.revision} from ${file.displayPath}`);
          }
          // First sight in this process, or a change: clear an invalid mark left by an earlier version.
          const state = await this.store.getPipelineState(file.id);
          if (state?.invalidSince !== undefined) {
            await this.store.setPipelineInvalid(file.id, undefined, now);
            this.log('info', `${file.id}: ${file.displayPath} is valid again`);
          }
          this.reportedInvalid.delete(file.id);
        }
        const revision = known.revision;
        pipelines.push({ id: file.id, file: file.displayPath, spec: loaded.spec, revision });
      } else {
        const reason = loaded.ok ? `${file.displayPath} ${afterProblem}` : oneLineReason(loaded.issues);
        const revision = await this.latestRevision(file.id);
        if (this.reportedInvalid.get(file.id) !== reason) {
          const state = await this.store.getPipelineState(file.id);
          if (state?.invalidReason !== reason) await this.store.setPipelineInvalid(file.id, reason, now);
          this.reportedInvalid.set(file.id, reason);
          this.stored.delete(file.id);
          this.log(
            'warn',
            `${file.id}: ${reason}; ${revision === undefined ? 'it has no valid revision and does not run' : `revision ${revision} keeps running`}`,
          );
        }
        pipelines.push({
          id: file.id,
          file: file.displayPath,
          invalidReason: reason,
          ...(revision === undefined ? {} : { revision }),
        });
      }
    }
    for (const gone of this.current.filter((pipeline) => !seen.has(pipeline.id))) {
      this.log('warn', `${gone.id}: ${gone.file} was removed; the pipeline is no longer scheduled`);
      this.stored.delete(gone.id);
      this.reportedInvalid.delete(gone.id);
    }
    this.current = pipelines;
    return { pipelines, stored };
  }

  private async latestRevision(pipelineId: string): Promise<number | undefined> {
    return (await this.store.latestPipelineRevision(pipelineId))?.revision;
  }
}

/** The first problem as `file:line:column CODE message`, plus how many more there are. */
export function oneLineReason(issues: readonly SpecIssue[]): string {
  const [first] = issues;
  if (!first) return 'invalid';
  const { file, line, column } = first.location;
  const where = line === undefined ? file : `${file}:${line}${column === undefined ? '' : `:${column}`}`;
  const more =
    issues.length > 1
      ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''}; see pipewright validate)`
      : '';
  return `${where} ${first.code} ${first.message.replace(/\s+/g, ' ')}${more}`;
}

/**
 * The `after` lists of a project's pipelines, which only make sense together: an id with no pipeline
 * file, and cycles (a → b → a), which would trigger runs forever. Returns a one-line problem per
 * pipeline that has one; such a file is treated as invalid (its last valid revision keeps running).
 */
export function checkAfter(
  knownIds: readonly string[],
  specs: readonly Pick<PipelineSpec, 'id' | 'after'>[],
): Map<string, string> {
  const problems = new Map<string, string>();
  const known = new Set(knownIds);
  const edges = new Map<string, string[]>();
  for (const spec of specs) {
    const after = spec.after ?? [];
    const unknown = after.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      problems.set(
        spec.id,
        `PW_SPEC_INVALID after: no pipeline ${unknown.map((id) => `'${id}'`).join(', ')} in the project`,
      );
    }
    edges.set(
      spec.id,
      after.filter((id) => known.has(id)),
    );
  }
  // Depth-first search over "runs after" edges; a back edge closes a cycle.
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 'visiting');
    path.push(id);
    for (const upstream of edges.get(id) ?? []) {
      const seen = state.get(upstream);
      if (seen === 'visiting') {
        const cycle = [...path.slice(path.indexOf(upstream)), upstream];
        for (const member of cycle.slice(0, -1)) {
          if (!problems.has(member))
            problems.set(
              member,
              `PW_SPEC_CYCLE after: pipelines trigger each other in a cycle: ${cycle.join(' → ')}`,
            );
        }
      } else if (seen === undefined) visit(upstream);
    }
    path.pop();
    state.set(id, 'done');
  };
  for (const id of [...edges.keys()].sort()) if (!state.has(id)) visit(id);
  return problems;
}
