// Shared pieces of the service benchmarks (dispatch.mjs, footprint.mjs): long-running CLI children
// (`serve`, `worker`) with their output readable while they run, CPU time and memory of processes from
// /proc, fresh PostgreSQL databases, API tokens, HTTP helpers, and the CPU other processes used during a
// measurement (machine busy time minus everything the measurement itself ran).
/* global fetch */
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { URLSearchParams, pathToFileURL } from 'node:url';
import { CLI, REPO_DIR, WORK_DIR, note } from './lib.mjs';

// ---------------------------------------------------------------------------------------------------
// What is measured: dist/ of the working tree, or a private copy of it

/** The Pipewright the benchmark runs: its root (bin/, dist/, templates/) and CLI script. */
export const pipewright = { root: REPO_DIR, cli: CLI, builtAt: undefined };

/**
 * Copies bin/, dist/src/, templates/, schema/ and package.json into bench/.work/snapshot-<pid>/ (with
 * node_modules linked) and runs everything from there, so that someone rebuilding dist/ during a
 * long benchmark neither changes what is measured halfway nor breaks it. The copy is checked by
 * importing the service commands and validating a new demo project; a copy taken while a build was
 * writing dist/ fails that and is taken again (up to 10 times, 30 s apart). Removed at exit.
 */
export async function useSnapshot() {
  const root = join(WORK_DIR, `snapshot-${process.pid}`);
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  for (let attempt = 1; ; attempt += 1) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, 'dist'), { recursive: true });
    const builtAt = statSync(join(REPO_DIR, 'dist', 'src', 'cli', 'main.js')).mtime;
    for (const part of ['bin', 'dist/src', 'templates', 'schema', 'package.json']) {
      cpSync(join(REPO_DIR, part), join(root, part), { recursive: true });
    }
    symlinkSync(join(REPO_DIR, 'node_modules'), join(root, 'node_modules'));
    const cli = join(root, 'bin', 'pipewright.js');
    try {
      const check = ['cli/commands/serve.js', 'cli/commands/worker.js', 'cli/commands/token.js']
        .map((file) => `await import(${JSON.stringify(join(root, 'dist', 'src', file))});`)
        .join(' ');
      execFileSync(process.execPath, ['--input-type=module', '-e', check], { stdio: 'pipe' });
      const demo = join(root, '.check');
      execFileSync(process.execPath, [cli, 'init', demo], { stdio: 'pipe' });
      execFileSync(process.execPath, [cli, '--project', demo, 'validate'], { stdio: 'pipe' });
      rmSync(demo, { recursive: true, force: true });
      Object.assign(pipewright, { root, cli, builtAt });
      return pipewright;
    } catch (error) {
      if (attempt >= 10)
        throw new Error(`dist/ does not work (a build in progress?): ${error.stderr ?? error}`);
      note(`the copy of dist/ does not work yet (a build in progress?); trying again in 30 s`);
      await sleep(30_000);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// /proc

const TICKS = 100; // USER_HZ on Linux

/** Busy CPU time of the whole machine so far, in seconds (from /proc/stat). */
export function machineBusySeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return (user + nice + system + irq + softirq + steal) / TICKS;
}

/** User + system CPU time of one process so far, in seconds; undefined once it is gone. */
export function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name and state.
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/** The memory lines of /proc/<pid>/status in MiB: VmRSS, VmHWM, RssAnon, RssFile, RssShmem, VmSwap. */
export function processMemory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const value = (name) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  };
  return {
    rss: value('VmRSS'),
    hwm: value('VmHWM'),
    anon: value('RssAnon'),
    file: value('RssFile'),
    shmem: value('RssShmem'),
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN),
  };
}

/** The process ids of `pid`'s children (serve's runner), from /proc. */
export function childPids(pid) {
  const children = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return children;
  }
  for (const task of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
      children.push(...text.split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // the task ended meanwhile
    }
  }
  return children;
}

/**
 * Accounts the CPU of a measurement: `own()` lists the pids that belong to it (the service, workers,
 * a load generator, PostgreSQL backends); the harness's own CPU counts as its own too. `finish()`
 * returns the wall time, the CPU of each own process and the cores other processes used meanwhile.
 * Call `sample()` while the processes still run (their CPU is read then; an exited process's is lost).
 */
export function cpuWindow() {
  const startBusy = machineBusySeconds();
  const startHarness = process.cpuUsage();
  const started = performance.now();
  const first = new Map();
  const last = new Map();
  return {
    /** Reads the CPU time of `pids` now; the first reading of a pid is its baseline unless `fromZero`. */
    sample(pids, { fromZero = false } = {}) {
      for (const pid of pids) {
        const seconds = processCpuSeconds(pid);
        if (seconds === undefined) continue;
        if (!first.has(pid)) first.set(pid, fromZero ? 0 : seconds);
        last.set(pid, seconds);
      }
    },
    finish() {
      const seconds = (performance.now() - started) / 1000;
      const harness = process.cpuUsage(startHarness);
      const harnessSeconds = (harness.user + harness.system) / 1e6;
      const perPid = new Map([...last].map(([pid, value]) => [pid, value - (first.get(pid) ?? 0)]));
      const ownSeconds = [...perPid.values()].reduce((sum, value) => sum + value, 0);
      const busy = machineBusySeconds() - startBusy;
      return {
        seconds,
        perPid,
        ownSeconds,
        harnessSeconds,
        noiseCores: Math.max(0, busy - ownSeconds - harnessSeconds) / seconds,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Children

/**
 * Starts `node bin/pipewright.js …args` (with `nodeArgs` before the script) and keeps its output:
 * `output()` is everything so far, `waitFor(regex)` resolves with the first match in it, `stop()` sends
 * SIGTERM and resolves with the exit code (SIGKILL after `killAfterMs`).
 */
export function startCli(args, { cwd = REPO_DIR, env = {}, nodeArgs = [] } = {}) {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, pipewright.cli, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters = [];
  const onData = (chunk) => {
    output += chunk;
    for (const waiter of [...waiters]) {
      const match = waiter.regex.exec(output);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? signal)));
  exited.then((code) => {
    for (const waiter of waiters.splice(0))
      waiter.reject(
        new Error(
          `pipewright ${args.join(' ')} exited (${code}) before printing ${waiter.regex}:\n${output.slice(-3000)}`,
        ),
      );
  });
  return {
    child,
    pid: child.pid,
    spawnedAt,
    exited,
    output: () => output,
    waitFor(regex, timeoutMs = 60_000) {
      const match = regex.exec(output);
      if (match) return Promise.resolve(match);
      return new Promise((resolve, reject) => {
        const waiter = { regex, resolve, reject };
        waiters.push(waiter);
        setTimeout(() => {
          if (!waiters.includes(waiter)) return;
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(
              `timed out waiting for ${regex} from pipewright ${args.join(' ')}:\n${output.slice(-3000)}`,
            ),
          );
        }, timeoutMs).unref();
      });
    },
    async stop(killAfterMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs `node bin/pipewright.js …args` to completion; throws on a non-zero exit. */
export function runCli(args, { cwd = REPO_DIR, env = {} } = {}) {
  return execFileSync(process.execPath, [pipewright.cli, ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A new API token for the project: `token create` prints it as its last line. */
export function createToken(project, name, scope, env = {}) {
  const out = runCli(['--project', project, 'token', 'create', '--name', name, '--scope', scope], { env });
  const token = out.trim().split('\n').at(-1)?.trim() ?? '';
  if (!token.startsWith('pw_')) throw new Error(`no token in the output of token create:\n${out}`);
  return token;
}

/** A port nobody listens on right now (the service binds it a moment later). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The URL `serve` prints in its banner (`http: http://127.0.0.1:PORT/health, …`). */
export async function serviceUrl(service, timeoutMs = 60_000) {
  const match = await service.waitFor(/http: (http:\/\/[^\s,]+)\/health/, timeoutMs);
  return match[1];
}

export async function httpJson(url, { method = 'GET', token, body } = {}) {
  const response = await fetch(url, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, body: json, text };
}

/** Polls `condition` every `everyMs` until it returns a truthy value, which is returned. */
export async function until(what, condition, { timeoutMs = 120_000, everyMs = 50 } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Every run of the API's run list (`GET /api/runs`, following `next`). */
export async function allRunsOverApi(baseUrl, token, pipeline) {
  const runs = [];
  let cursor;
  for (;;) {
    const query = new URLSearchParams({
      limit: '500',
      ...(pipeline ? { pipeline } : {}),
      ...(cursor ? { cursor } : {}),
    });
    const { status, body, text } = await httpJson(`${baseUrl}/api/runs?${query}`, { token });
    if (status !== 200) throw new Error(`GET /api/runs answered ${status}: ${text.slice(0, 300)}`);
    runs.push(...body.runs);
    if (!body.next) return runs;
    cursor = body.next;
  }
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL

export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function pgClient() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  return client;
}

/** Creates a fresh, empty database and returns its URL. */
export async function createPgDatabase(name) {
  const client = await pgClient();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.href;
}

export async function dropPgDatabase(name) {
  const client = await pgClient();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Process ids of the PostgreSQL backends connected to a database (their CPU is the measurement's). */
export async function pgBackendPids(name) {
  const client = await pgClient();
  try {
    const { rows } = await client.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [name]);
    return rows.map((row) => Number(row.pid));
  } finally {
    await client.end();
  }
}

export async function pgVersion() {
  try {
    const client = await pgClient();
    try {
      const { rows } = await client.query('SHOW server_version');
      return `PostgreSQL ${rows[0].server_version}`;
    } finally {
      await client.end();
    }
  } catch (error) {
    return `PostgreSQL unavailable (${error.message})`;
  }
}

// ---------------------------------------------------------------------------------------------------
// dist/

/** Imports a module of the built Pipewright (dist/src/…). */
export function distModule(path) {
  return import(pathToFileURL(join(pipewright.root, 'dist', 'src', path)).href);
}

// ---------------------------------------------------------------------------------------------------
// CPU profiles (node --cpu-prof)

/** Where a profile URL belongs: a package, a dist/src file, or node's internals. */
function profileOwner(url) {
  if (!url) return undefined;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const dist = /dist\/src\/(.+)$/.exec(url)?.[1];
  if (dist) return `dist/src/${dist}`;
  if (url.startsWith('node:')) return 'node internals';
  return url.replace(/^file:\/\//, '');
}

/**
 * Sums a .cpuprofile (main thread only): total and idle time, self time by owner (package, dist file,
 * node internals, or V8's own entries such as "(garbage collector)"), and inclusive time by function
 * (`name owner`), each function counted once per sample however deep it recurses.
 */
export function summarizeCpuProfile(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const timeByNode = new Map();
  let totalUs = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    timeByNode.set(id, (timeByNode.get(id) ?? 0) + delta);
    totalUs += delta;
  });
  const self = new Map();
  const inclusive = new Map();
  let idleUs = 0;
  for (const [id, us] of timeByNode) {
    const frame = nodes.get(id).callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const owner =
      profileOwner(frame.url) ??
      (frame.functionName.startsWith('(') ? frame.functionName : `native: ${frame.functionName || '?'}`);
    self.set(owner, (self.get(owner) ?? 0) + us);
    const seen = new Set();
    for (let current = id; current !== undefined; current = parents.get(current)) {
      const callFrame = nodes.get(current).callFrame;
      const key = `${callFrame.functionName || '(anonymous)'} ${profileOwner(callFrame.url) ?? ''}`.trim();
      if (seen.has(key) || key === '(root)') continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const sorted = (map) => [...map].map(([key, us]) => [key, us / 1000]).sort((a, b) => b[1] - a[1]);
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, self: sorted(self), inclusive: sorted(inclusive) };
}
