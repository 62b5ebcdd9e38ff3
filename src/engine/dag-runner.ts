/**
 * Runs a dependency graph with bounded concurrency: a node starts once everything it depends on
 * has succeeded. After the first failure or an abort no new node starts, but nodes already running
 * are allowed to finish, so their work is checkpointed for a later resume.
 */

export interface DagNode {
  id: string;
  dependsOn: readonly string[];
}

export interface DagOutcome {
  succeeded: string[];
  failed: { id: string; error: unknown }[];
  /** Nodes never started because a dependency failed or the run stopped. */
  notRun: string[];
}

export async function runDag(options: {
  nodes: readonly DagNode[];
  concurrency: number;
  signal: AbortSignal;
  alreadyDone?: ReadonlySet<string>;
  execute: (id: string) => Promise<void>;
}): Promise<DagOutcome> {
  const done = new Set(options.alreadyDone ?? []);
  const pending = options.nodes.filter((node) => !done.has(node.id));
  const running = new Map<string, Promise<void>>();
  const outcome: DagOutcome = { succeeded: [], failed: [], notRun: [] };
  let stopping = false;

  const start = (node: DagNode) => {
    const task = options
      .execute(node.id)
      .then(
        () => {
          done.add(node.id);
          outcome.succeeded.push(node.id);
        },
        (error: unknown) => {
          stopping = true;
          outcome.failed.push({ id: node.id, error });
        },
      )
      .finally(() => running.delete(node.id));
    running.set(node.id, task);
  };

  while (pending.length > 0 || running.size > 0) {
    if (options.signal.aborted) stopping = true;
    if (!stopping) {
      for (let i = 0; i < pending.length && running.size < options.concurrency;) {
        const node = pending[i] as DagNode;
        if (node.dependsOn.every((dependency) => done.has(dependency))) {
          pending.splice(i, 1);
          start(node);
        } else i += 1;
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  outcome.notRun = pending.map((node) => node.id);
  return outcome;
}
