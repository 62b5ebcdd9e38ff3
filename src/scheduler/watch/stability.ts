/**
 * When a file in a watched folder has arrived: its size and modification time were seen unchanged by
 * two scans, and `stableForMs` passed since its last change. The last change is the modification
 * time, or, when the folder's clock runs ahead of ours (a future mtime), the first scan that saw the
 * current size and mtime. A writer that appends in chunks keeps moving size and mtime, so the file
 * stays pending until it has been quiet for `stableForMs`.
 */

export interface FileObservation {
  size: number;
  mtimeMs: number;
}

interface Seen extends FileObservation {
  firstSeenMs: number;
  scans: number;
}

export class StabilityTracker {
  private readonly seen = new Map<string, Seen>();

  constructor(readonly stableForMs: number) {}

  /** Records one scan's view of a file; true once it has arrived. */
  observe(name: string, file: FileObservation, nowMs: number): boolean {
    const previous = this.seen.get(name);
    if (!previous || previous.size !== file.size || previous.mtimeMs !== file.mtimeMs) {
      this.seen.set(name, { ...file, firstSeenMs: nowMs, scans: 1 });
      return false;
    }
    previous.scans += 1;
    const lastChange = file.mtimeMs > nowMs ? previous.firstSeenMs : Math.max(file.mtimeMs, 0);
    return nowMs - lastChange >= this.stableForMs;
  }

  /** The moment the file counted as stable (for delay figures): its last change plus `stableForMs`. */
  stableSince(name: string): number | undefined {
    const seen = this.seen.get(name);
    return seen === undefined ? undefined : seen.mtimeMs + this.stableForMs;
  }

  /**
   * The earliest moment a file seen so far, if it stays unchanged, counts as arrived: the watcher
   * scans again then instead of waiting for its next poll, so a file is taken when it turns stable.
   */
  nextDueMs(): number | undefined {
    let due: number | undefined;
    for (const seen of this.seen.values()) {
      const lastChange = seen.mtimeMs > seen.firstSeenMs ? seen.firstSeenMs : Math.max(seen.mtimeMs, 0);
      const at = Math.max(lastChange + this.stableForMs, seen.firstSeenMs + 1);
      if (due === undefined || at < due) due = at;
    }
    return due;
  }

  forget(name: string): void {
    this.seen.delete(name);
  }

  /** Drops files no longer in the folder, so the map does not grow forever. */
  retainOnly(names: ReadonlySet<string>): void {
    for (const name of this.seen.keys()) if (!names.has(name)) this.seen.delete(name);
  }
}
