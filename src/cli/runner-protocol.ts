/** What `serve` and its runner process (src/cli/runner-supervisor.ts) say to each other over IPC. */

/** From the service to the runner: a run was queued, claim now. */
export type SupervisorMessage = { type: 'nudge' };

/** From the runner to the service: how many runs it executes now (for /ready). */
export type RunnerMessage = { type: 'running'; count: number };

export const RUNNER_ENV = {
  /** Milliseconds without work after which the runner exits (set by the service). */
  idleMs: 'PIPEWRIGHT_RUNNER_IDLE_MS',
  /** The runner's nice value (default 10; 0 keeps the service's priority). */
  nice: 'PIPEWRIGHT_RUNNER_NICE',
} as const;

export const DEFAULT_RUNNER_IDLE_MS = 60_000;
export const DEFAULT_RUNNER_NICE = 10;
