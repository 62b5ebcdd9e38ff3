/**
 * Runs one child process for the `exec` step: detached in its own process group, stdout and stderr
 * read line by line as they come, with a cap on what is handed on for logging while the pipes keep
 * being drained (a child that floods its output never blocks on a full pipe), and the last lines of
 * each stream kept for error messages. A timeout or an abort sends SIGTERM to the whole group, then
 * SIGKILL after a grace period; processes the command leaves behind when it exits are stopped the
 * same way, so nothing a step started outlives it.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';

export const MAX_LINE_CHARS = 4000;
export const TAIL_LINES = 20;

export type Stream = 'stdout' | 'stderr';

export interface ProcessRequest {
  file: string;
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  timeoutMs: number | undefined;
  graceMs: number;
  signal: AbortSignal;
  /** Called for each line until `maxLines` lines were passed on; later lines are only counted. */
  onLine: (stream: Stream, line: string) => void;
  maxLines: number;
  /** Called once when `maxLines` is reached. */
  onCapped: () => void;
  /** Called when the command exited but left processes in its group, just before they are stopped. */
  onLeftovers: () => void;
}

export type ProcessOutcome =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  | { kind: 'spawn-failed'; error: NodeJS.ErrnoException };

export interface ProcessResult {
  outcome: ProcessOutcome;
  /** Last lines of each stream (each cut at MAX_LINE_CHARS). */
  tail: Record<Stream, string[]>;
  lines: number;
  droppedLines: number;
  /** Whether SIGKILL had to be sent because SIGTERM was not enough within the grace period. */
  killed: boolean;
}

/** Splits a byte stream into lines, cutting over-long lines so memory stays bounded. */
class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';
  #overflow = 0;

  push(chunk: Buffer, emit: (line: string) => void): void {
    const text = this.#decoder.write(chunk);
    let start = 0;
    for (let at = text.indexOf('\n', start); at !== -1; at = text.indexOf('\n', start)) {
      this.#append(text.slice(start, at));
      emit(this.#take());
      start = at + 1;
    }
    this.#append(text.slice(start));
  }

  end(emit: (line: string) => void): void {
    this.#append(this.#decoder.end());
    if (this.#partial !== '' || this.#overflow > 0) emit(this.#take());
  }

  #append(piece: string): void {
    const room = MAX_LINE_CHARS - this.#partial.length;
    if (piece.length <= room) this.#partial += piece;
    else {
      this.#partial += piece.slice(0, room);
      this.#overflow += piece.length - room;
    }
  }

  #take(): string {
    const line = this.#partial.endsWith('\r') ? this.#partial.slice(0, -1) : this.#partial;
    const cut = this.#overflow > 0 ? `${line}… [${this.#overflow} more characters]` : line;
    this.#partial = '';
    this.#overflow = 0;
    return cut;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing left in the group.
  }
}

export function runProcess(request: ProcessRequest): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const tail: Record<Stream, string[]> = { stdout: [], stderr: [] };
    let lines = 0;
    let droppedLines = 0;
    let killed = false;
    let stopping: 'timeout' | 'aborted' | 'leftovers' | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const child = spawn(request.file, [...request.args], {
      cwd: request.cwd,
      env: request.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });

    const line = (stream: Stream) => (text: string) => {
      const kept = tail[stream];
      kept.push(text);
      if (kept.length > TAIL_LINES) kept.shift();
      if (lines < request.maxLines) {
        lines += 1;
        request.onLine(stream, text);
        if (lines === request.maxLines) request.onCapped();
      } else droppedLines += 1;
    };
    const splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
    child.stdout.on('data', (chunk: Buffer) => splitters.stdout.push(chunk, line('stdout')));
    child.stderr.on('data', (chunk: Buffer) => splitters.stderr.push(chunk, line('stderr')));

    const stop = (why: 'timeout' | 'aborted' | 'leftovers') => {
      if (stopping !== undefined && stopping !== 'leftovers') return;
      if (stopping === undefined || why !== 'leftovers') stopping = why;
      const pid = child.pid;
      if (pid === undefined) return;
      signalGroup(pid, 'SIGTERM');
      if (graceTimer) return;
      graceTimer = setTimeout(() => {
        if (signalGroup(pid, 'SIGKILL')) killed = true;
      }, request.graceMs);
    };

    const timer =
      request.timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), request.timeoutMs);
    const onAbort = () => stop('aborted');
    if (request.signal.aborted) onAbort();
    else request.signal.addEventListener('abort', onAbort, { once: true });

    const finish = (outcome: ProcessOutcome) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      request.signal.removeEventListener('abort', onAbort);
      resolve({ outcome, tail, lines, droppedLines, killed });
    };

    child.on('error', (error: NodeJS.ErrnoException) => {
      // Emitted instead of 'spawn' when the program cannot be started at all.
      if (child.pid === undefined) finish({ kind: 'spawn-failed', error });
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      const pid = child.pid;
      // Background processes of the command would keep the pipes open and outlive the step.
      if (pid !== undefined && stopping === undefined && signalGroup(pid, 0)) {
        request.onLeftovers();
        stop('leftovers');
      }
    });
    child.on('close', () => {
      splitters.stdout.end(line('stdout'));
      splitters.stderr.end(line('stderr'));
      if (stopping === 'timeout') finish({ kind: 'timeout' });
      else if (stopping === 'aborted') finish({ kind: 'aborted' });
      else finish({ kind: 'exited', code: exit?.code ?? null, signal: exit?.signal ?? null });
    });
  });
}
