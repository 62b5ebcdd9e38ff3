/** What a run reports while it goes, for live progress displays (the CLI today, the API later). */
import type { PwError } from '../core/errors/pw-error.js';
import type { StepResult } from '../core/step.js';
import type { LogEntry, RunRecord } from '../store/state-store.js';

export type RunEvent =
  | { type: 'run-started'; run: RunRecord; steps: string[]; alreadyDone: string[] }
  | { type: 'step-started'; stepId: string; attempt: number; at: Date }
  | { type: 'step-succeeded'; stepId: string; result: StepResult; at: Date }
  | { type: 'step-failed'; stepId: string; error: PwError; at: Date }
  | { type: 'log'; entry: LogEntry }
  | { type: 'run-finished'; run: RunRecord };

export type RunListener = (event: RunEvent) => void;
