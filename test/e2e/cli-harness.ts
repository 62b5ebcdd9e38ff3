/**
 * Helpers for end-to-end CLI tests: run the real `pipewright` launcher (`node bin/pipewright.js`) as a
 * child process in a project folder, create throwaway projects, and read outputs back with DuckDB.
 * The tests run against the compiled dist/, so build first (`npx tsc -p tsconfig.json`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';

/** The repository root: this file compiles to dist/test/e2e/cli-harness.js. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const LAUNCHER = join(REPO_ROOT, 'bin', 'pipewright.js');
/** Fixtures stay in the source tree (the compiler copies only .ts files to dist/). */
export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  /** Added to (or, with `undefined`, removed from) the inherited environment. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** The environment a CLI child gets: the parent's, minus anything that would change its behaviour. */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.PIPEWRIGHT_PROJECT;
  delete env.PIPEWRIGHT_STATE_URL;
  delete env.FORCE_COLOR;
  // A developer's own server settings must never point the tests' commands at their server.
  delete env.PIPEWRIGHT_SERVER;
  delete env.PIPEWRIGHT_TOKEN;
  delete env.NODE_TEST_CONTEXT; // set by node:test for its children; the CLI is not a test file
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Starts `node bin/pipewright.js …` in its own process group, stdout and stderr piped. */
export function spawnCli(args: readonly string[], options: CliOptions): ChildProcess {
  return spawn(process.execPath, [LAUNCHER, ...args], {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

/** Collects a spawned child's output until it exits. */
export function collect(child: ChildProcess, timeoutMs: number, label: string): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(
        new Error(
          `pipewright ${label} did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return collect(spawnCli(args, options), options.timeoutMs ?? 90_000, args.join(' '));
}

/** Sends a signal to the child's whole process group (it was spawned detached). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** A description of a CLI result for assertion messages. */
export function describeResult(result: CliResult): string {
  return `exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

export function assertExit(result: CliResult, expected: number, what: string): void {
  assert.equal(result.code, expected, `${what}: expected exit ${expected}, got ${describeResult(result)}`);
}

/** Error output must be one clear block: no raw stack frames. */
export function assertNoStackTrace(result: CliResult, what: string): void {
  assert.doesNotMatch(result.stderr, /^ {4}at /m, `${what}: stderr holds a stack trace:\n${result.stderr}`);
  assert.doesNotMatch(result.stdout, /^ {4}at /m, `${what}: stdout holds a stack trace:\n${result.stdout}`);
}

/** Parses a command's JSON stdout, failing with the whole output when it is not JSON. */
export function parseJson<T = unknown>(result: CliResult, what: string): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch (error) {
    assert.fail(`${what}: stdout is not JSON (${(error as Error).message})\n${describeResult(result)}`);
  }
}

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `pw-e2e-${prefix}-`));
}

/** Writes files (path relative to `dir` → text or bytes), creating folders as needed. */
export async function writeFiles(
  dir: string,
  files: Readonly<Record<string, string | Buffer>>,
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

/** A fresh temp project with the given files; `pipewright.yaml` defaults to a minimal one. */
export async function makeProject(
  prefix: string,
  files: Readonly<Record<string, string | Buffer>>,
): Promise<string> {
  const dir = await makeTempDir(prefix);
  await writeFiles(dir, { 'pipewright.yaml': 'name: e2e\ntimezone: UTC\n', ...files });
  return dir;
}

/** A temp copy of a fixture project under test/fixtures/<name>. */
export async function copyFixtureProject(name: string, prefix = name): Promise<string> {
  const dir = await makeTempDir(prefix);
  await cp(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  if (process.env.PW_E2E_KEEP) return;
  await rm(dir, { recursive: true, force: true });
}

/** Every file under `dir` (relative paths, sorted); an absent folder has none. */
export async function listFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  const walk = async (current: string) => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else found.push(relative(dir, path));
    }
  };
  await walk(dir);
  return found.sort();
}

/** After a failed run: nothing in the output folder and no temporary files anywhere in the project. */
export async function assertNoPartialOutput(projectDir: string, outputDir = 'out'): Promise<void> {
  const outputs = await listFiles(join(projectDir, outputDir));
  assert.deepEqual(outputs, [], `expected no files in ${outputDir}/, found ${outputs.join(', ')}`);
  const leftovers = (await listFiles(projectDir)).filter((path) => /\.tmp$|\.tmp[./]/.test(path));
  assert.deepEqual(leftovers, [], `temporary files left behind: ${leftovers.join(', ')}`);
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

export type SqlRow = Record<string, unknown>;

/** Runs a query in a throwaway in-memory DuckDB (e.g. over read_parquet) and returns plain rows. */
export async function duckQuery(sql: string): Promise<SqlRow[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJS().map((row) => {
      const plain: SqlRow = {};
      for (const [key, value] of Object.entries(row))
        plain[key] = typeof value === 'bigint' ? Number(value) : value;
      return plain;
    });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Column names and types of a Parquet file, in order. */
export async function parquetColumns(path: string): Promise<{ name: string; type: string }[]> {
  const rows = await duckQuery(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`);
  return rows.map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
}

/** The JSON shapes printed by `runs --json` and `show --json`. */
export interface RunJson {
  id: string;
  pipeline: string;
  status: string;
  trigger: string;
  params: Record<string, unknown>;
  scheduled_for: string;
  started_at: string | null;
  finished_at: string | null;
  attempt: number;
  workspace: string | null;
  error: { code: string; message: string; hint: string | null; step: string | null } | null;
}

export interface StepJson {
  step: string;
  attempt: number;
  run_attempt: number;
  status: string;
  rows: number | null;
  outputs: Record<string, unknown>;
  warnings: string[];
  error: { code: string; message: string; hint: string | null } | null;
}

export interface ArtifactJson {
  step: string | null;
  name: string;
  path: string;
  bytes: number;
}

export interface DeliveryJson {
  step: string | null;
  event: string;
  kind: 'email' | 'webhook';
  target: string;
  subject: string | null;
  status: 'sent' | 'outbox' | 'failed';
  error: string | null;
}
export type ShowJson = RunJson & { steps: StepJson[]; artifacts: ArtifactJson[]; deliveries: DeliveryJson[] };

export async function listRuns(cwd: string): Promise<RunJson[]> {
  const result = await runCli(['runs', '--json'], { cwd });
  assertExit(result, 0, 'runs --json');
  return parseJson<RunJson[]>(result, 'runs --json');
}

export async function showRun(cwd: string, id: string): Promise<ShowJson> {
  const result = await runCli(['show', id, '--json'], { cwd });
  assertExit(result, 0, `show ${id} --json`);
  return parseJson<ShowJson>(result, `show ${id} --json`);
}

/** `yyyyMMdd` / `yyyy-MM-dd` of an instant in a time zone. */
export function localDate(iso: string, timeZone: string, separator = ''): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(new Date(iso));
  const part = (type: string) => parts.find((candidate) => candidate.type === type)?.value ?? '??';
  return [part('year'), part('month'), part('day')].join(separator);
}

/** Polls `condition` every `intervalMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}
