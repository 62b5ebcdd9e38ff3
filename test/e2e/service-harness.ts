/**
 * Long-running CLI processes for the end-to-end tests of the service (`serve`, `worker`, `demo`): a
 * free port, a child whose output can be read while it runs, JSON over HTTP and waiting for a run.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { collect, listRuns, spawnCli, waitFor, type CliResult, type RunJson } from './cli-harness.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A long-running CLI child whose output so far can be read while it runs. */
export interface Service {
  child: ChildProcess;
  done: Promise<CliResult>;
  output: () => string;
}

export function startService(args: string[], cwd: string, env: Record<string, string> = {}): Service {
  const child = spawnCli(args, { cwd, env });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer | string) => (output += String(chunk)));
  child.stderr?.on('data', (chunk: Buffer | string) => (output += String(chunk)));
  const done = collect(child, 170_000, args.join(' '));
  done.catch(() => undefined); // awaited by the tests; never an unhandled rejection
  return { child, done, output: () => output };
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Polls `runs --json` until `find` returns a run, or fails with what it saw. */
export async function waitForRun(
  cwd: string,
  what: string,
  find: (runs: RunJson[]) => RunJson | undefined,
  timeoutMs: number,
  service?: Service,
): Promise<RunJson> {
  let seen: RunJson[] = [];
  let found: RunJson | undefined;
  const ok = await waitFor(
    async () => {
      seen = await listRuns(cwd);
      found = find(seen);
      return found !== undefined;
    },
    timeoutMs,
    300,
  );
  assert.ok(
    ok && found,
    `${what} within ${timeoutMs} ms; runs: ${JSON.stringify(seen, null, 2)}\n${service ? `service output:\n${service.output()}` : ''}`,
  );
  return found;
}
