// Shared pieces of the benchmarks: options, child processes measured for wall time, peak RSS and CPU,
// the alternating comparison loop, a guard against a machine busy with other work, and Markdown output.
import { spawn, execFileSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = resolve(BENCH_DIR, '..');
export const DATA_DIR = join(BENCH_DIR, '.data');
export const WORK_DIR = join(BENCH_DIR, '.work');
export const CLI = join(REPO_DIR, 'bin', 'pipewright.js');
const PRELOAD = pathToFileURL(join(BENCH_DIR, 'rusage-report.mjs')).href;

// ---------------------------------------------------------------------------------------------------
// Options

/**
 * Parses `--name value` and `--flag` against `spec` ({ name: { default, help } }); numbers are
 * converted when the default is a number, booleans when it is a boolean. `--help` prints the options.
 */
export function parseOptions(spec, usage, argv = process.argv.slice(2)) {
  const common = {
    reps: { default: 3, help: 'repetitions of each way, run alternately (at least 3 is sensible)' },
    'max-wait': { default: 180, help: 'seconds to wait for a quiet machine before each measurement' },
    noise: {
      default: 0.25,
      help: 'CPU (in cores) used by other processes during a measurement above which it counts as disturbed',
    },
    reruns: {
      default: 2,
      help: 'times a disturbed measurement is repeated (the least disturbed one is kept)',
    },
    regen: { default: false, help: 'generate the input data again even if bench/.data holds it' },
  };
  const all = { ...spec, ...common };
  const options = Object.fromEntries(Object.entries(all).map(([name, entry]) => [name, entry.default]));
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${usage}\n\nOptions:\n`);
      for (const [name, entry] of Object.entries(all)) {
        process.stdout.write(`  --${name.padEnd(10)} ${entry.help} (default: ${String(entry.default)})\n`);
      }
      process.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const name = match?.[1];
    if (!match || name === undefined || !(name in all)) fail(`unknown option ${arg}; see --help`);
    const fallback = all[name].default;
    if (typeof fallback === 'boolean' && match[2] === undefined) {
      options[name] = true;
      continue;
    }
    const raw = match[2] ?? argv[++index];
    if (raw === undefined) fail(`--${name} needs a value`);
    if (typeof fallback === 'number') {
      const value = Number(raw.replace(/_/g, ''));
      if (!Number.isFinite(value) || value < 0) fail(`--${name}: expected a number, got ${raw}`);
      options[name] = value;
    } else if (typeof fallback === 'boolean') {
      options[name] = raw === 'true';
    } else {
      options[name] = raw;
    }
  }
  if (options.reps < 1) fail('--reps must be at least 1');
  return options;
}

export function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

export function note(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------------
// The machine

/** Busy and total CPU time of the whole machine so far, in seconds (from /proc/stat). */
function cpuSeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / 100, total: (busy + idle + iowait) / 100 };
}

/** CPU (in cores) used by everything on the machine during the next `seconds`. */
async function busyCores(seconds) {
  const before = cpuSeconds();
  const started = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - started) / 1000;
  return (cpuSeconds().busy - before.busy) / elapsed;
}

/**
 * Waits until the machine is quiet (other processes use less than `threshold` cores over a second),
 * at most `maxWait` seconds. Returns the last reading, so a measurement taken anyway is flagged.
 */
export async function waitForQuiet(threshold, maxWait) {
  const deadline = performance.now() + maxWait * 1000;
  let announced = false;
  for (;;) {
    const cores = await busyCores(1);
    if (cores < threshold) return cores;
    if (performance.now() > deadline) {
      note(`machine still busy (${cores.toFixed(2)} cores used by others); measuring anyway`);
      return cores;
    }
    if (!announced) {
      note(`other processes use ${cores.toFixed(2)} cores; waiting up to ${maxWait}s for a quiet machine…`);
      announced = true;
    }
    await sleep(2000);
  }
}

export function machineInfo() {
  const run = (command, args) => {
    try {
      return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '?';
    }
  };
  const duckdbPackage = JSON.parse(
    readFileSync(join(REPO_DIR, 'node_modules', '@duckdb', 'node-api', 'package.json'), 'utf8'),
  );
  const dirty = run('git', ['-C', REPO_DIR, 'status', '--porcelain', '--', 'src']) !== '';
  const newestSource = readdirSync(join(REPO_DIR, 'src'), { recursive: true })
    .filter((file) => file.endsWith('.ts'))
    .reduce((newest, file) => Math.max(newest, statSync(join(REPO_DIR, 'src', file)).mtimeMs), 0);
  const built = statSync(join(REPO_DIR, 'dist', 'src', 'cli', 'main.js')).mtimeMs;
  return {
    cpu: `${run('nproc', [])} × ${cpus()[0]?.model ?? '?'}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free)`,
    node: process.version,
    duckdb: `@duckdb/node-api ${duckdbPackage.version}`,
    commit:
      `${run('git', ['-C', REPO_DIR, 'rev-parse', '--short', 'HEAD'])}${dirty ? ' + uncommitted changes in src/' : ''}` +
      (newestSource > built ? ' (dist/ is older than some of src/: rebuild for current figures)' : ''),
    load: loadavg()
      .map((value) => value.toFixed(2))
      .join(' '),
  };
}

export function ensureBuilt() {
  if (!existsSync(join(REPO_DIR, 'dist', 'src', 'cli', 'main.js'))) {
    fail('dist/ is missing: build first with `npm run build` (or `npx tsc -p tsconfig.json`)');
  }
}

/** Reads a file once so that every measured run finds it in the page cache alike. */
export async function warmPageCache(path) {
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) void chunk;
}

export function freshDir(path) {
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path, { recursive: true });
  return path;
}

// ---------------------------------------------------------------------------------------------------
// Measuring one child process

let measurementNumber = 0;

/**
 * Runs a child to completion and measures it: wall time from spawn to exit, peak RSS and CPU time
 * (reported by the child itself at exit: the rusage preload for node, the script for python), and
 * the CPU other processes used meanwhile (machine busy time minus the child's own), in cores.
 * `node: true` starts `process.execPath` with the preload in front of `args`.
 */
export async function measure({ command, args, node = false, cwd = REPO_DIR, env = {}, serverPid }) {
  measurementNumber += 1;
  const serverBefore = serverPid === undefined ? undefined : treeCpuSeconds(serverPid);
  const usageFile = join(WORK_DIR, `.rusage-${process.pid}-${measurementNumber}.json`);
  mkdirSync(WORK_DIR, { recursive: true });
  rmSync(usageFile, { force: true });
  const file = node ? process.execPath : command;
  const fullArgs = node ? ['--import', PRELOAD, ...args] : args;
  const before = cpuSeconds();
  const started = performance.now();
  const child = spawn(file, fullArgs, {
    cwd,
    env: { ...process.env, ...env, BENCH_RUSAGE_FILE: usageFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const code = await new Promise((resolveExit, rejectExit) => {
    child.on('error', rejectExit);
    child.on('close', (exitCode, signal) => resolveExit(exitCode ?? signal));
  });
  const seconds = (performance.now() - started) / 1000;
  // A server the child talks to (PostgreSQL, an S3 store) works for the measurement: its CPU is the
  // measurement's own, not disturbance. Its backends exit just after the client; give them a moment.
  if (serverPid !== undefined) await sleep(300);
  const serverCpu =
    serverPid === undefined ? undefined : Math.max(0, treeCpuSeconds(serverPid) - serverBefore);
  const busy = cpuSeconds().busy - before.busy;
  let usage;
  try {
    usage = JSON.parse(readFileSync(usageFile, 'utf8'));
  } catch {
    usage = undefined;
  }
  rmSync(usageFile, { force: true });
  const cpu = usage ? (usage.userMicros + usage.systemMicros) / 1e6 : undefined;
  return {
    code,
    stdout,
    stderr,
    seconds,
    rssMiB: typeof usage?.maxRssKiB === 'number' ? usage.maxRssKiB / 1024 : undefined,
    cpuSeconds: cpu,
    serverCpuSeconds: serverCpu,
    noiseCores:
      cpu === undefined
        ? undefined
        : Math.max(0, busy - cpu - (serverCpu ?? 0)) / (seconds + (serverPid === undefined ? 0 : 0.3)),
  };
}

/** User + system CPU of a process, its live children and its exited (reaped) children, in seconds. */
export function treeCpuSeconds(rootPid) {
  const stat = (pid) => {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // After the command name: state, ppid, …; utime, stime, cutime, cstime are fields 14–17.
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      return {
        ppid: Number(fields[1]),
        own: Number(fields[11]) + Number(fields[12]),
        reaped: Number(fields[13]) + Number(fields[14]),
      };
    } catch {
      return undefined;
    }
  };
  const root = stat(rootPid);
  if (root === undefined) return 0;
  let ticks = root.own + root.reaped;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === rootPid) continue;
    const child = stat(entry);
    if (child?.ppid === rootPid) ticks += child.own;
  }
  return ticks / 100;
}

// ---------------------------------------------------------------------------------------------------
// The comparison loop

/**
 * Runs every way `reps` times, alternating (A B A B …), each measurement on a quiet machine where
 * possible. A measurement during which other processes used more than `noise` cores is repeated up to
 * `reruns` times and the least disturbed attempt kept. `way.prepare()` runs untimed before each
 * measurement, `way.spec()` gives the child to run, `way.check(result)` validates its output (throw
 * to abort) and may return extra figures.
 */
export async function compare(ways, options) {
  const results = new Map(ways.map((way) => [way.name, []]));
  for (let rep = 1; rep <= options.reps; rep += 1) {
    for (const way of ways) {
      let kept;
      let attempts = 0;
      for (let attempt = 0; attempt <= options.reruns; attempt += 1) {
        attempts += 1;
        await way.prepare?.();
        await waitForQuiet(options.noise, options['max-wait']);
        const result = await measure(await way.spec());
        if (result.code !== 0) {
          process.stderr.write(result.stdout.slice(-4000));
          process.stderr.write(result.stderr.slice(-4000));
          fail(`${way.name} exited with ${String(result.code)} (rep ${rep})`);
        }
        result.extra = (await way.check?.(result)) ?? {};
        const noise = result.noiseCores ?? 0;
        note(
          `rep ${rep}/${options.reps} ${way.name}: ${result.seconds.toFixed(2)} s, ` +
            `peak RSS ${fmtMiB(result.rssMiB)}, CPU ${fmt(result.cpuSeconds, 1)} s` +
            (result.serverCpuSeconds === undefined
              ? ''
              : ` (+ server ${fmt(result.serverCpuSeconds, 1)} s)`) +
            `, others ${noise.toFixed(2)} cores` +
            (noise > options.noise ? ' (disturbed)' : ''),
        );
        if (!kept || noise < (kept.noiseCores ?? 0)) kept = result;
        if (noise <= options.noise) break;
        if (attempt < options.reruns) note(`  re-running it (attempt ${attempt + 2})`);
      }
      kept.reruns = attempts - 1;
      results.get(way.name).push(kept);
    }
  }
  return results;
}

/** The summary of one way's measurements. */
export function summarize(measurements) {
  const seconds = measurements.map((m) => m.seconds);
  const rss = measurements.map((m) => m.rssMiB).filter((value) => value !== undefined);
  const cpu = measurements.map((m) => m.cpuSeconds).filter((value) => value !== undefined);
  return {
    median: median(seconds),
    all: seconds,
    peakRssMiB: rss.length > 0 ? Math.max(...rss) : undefined,
    cpuMedian: cpu.length > 0 ? median(cpu) : undefined,
    maxNoise: Math.max(...measurements.map((m) => m.noiseCores ?? 0)),
    reruns: measurements.reduce((sum, m) => sum + m.reruns, 0),
  };
}

// ---------------------------------------------------------------------------------------------------
// Statistics and formatting

export function median(values) {
  return percentile(values, 50);
}

/** Linear-interpolated percentile (p in 0…100) of a non-empty list. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const position = ((sorted.length - 1) * p) / 100;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

export function fmt(value, digits = 2) {
  return value === undefined || Number.isNaN(value) ? '?' : value.toFixed(digits);
}

export function fmtMiB(value) {
  return value === undefined ? '?' : `${Math.round(value)} MiB`;
}

export function markdownTable(headers, rows) {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => String(row[column]).length)),
  );
  const line = (cells) =>
    `| ${cells.map((cell, column) => String(cell).padEnd(widths[column])).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

/** One table row per way: median, each run, ratio to the reference, peak RSS, CPU, disturbance. */
export function comparisonRows(results, reference) {
  const base = summarize(results.get(reference)).median;
  return [...results.entries()].map(([name, measurements]) => {
    const summary = summarize(measurements);
    return [
      name,
      `${fmt(summary.median)} s`,
      summary.all.map((value) => fmt(value)).join(' / '),
      name === reference ? '1.00×' : `${fmt(summary.median / base)}×`,
      fmtMiB(summary.peakRssMiB),
      `${fmt(summary.cpuMedian, 1)} s`,
      `${fmt(summary.maxNoise)}${summary.reruns > 0 ? ` (${summary.reruns} re-run)` : ''}`,
    ];
  });
}

export const COMPARISON_HEADERS = [
  'way',
  'median wall',
  'each run (s)',
  'time ÷ reference',
  'peak RSS',
  'median CPU',
  'others (cores, max)',
];

// ---------------------------------------------------------------------------------------------------
// DuckDB for checking outputs (in the harness process, never timed)

let duckdb;

export async function query(sql) {
  duckdb ??= await (async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:', { memory_limit: '1GB' });
    return instance.connect();
  })();
  const reader = await duckdb.runAndReadAll(sql);
  return reader.getRowObjectsJS();
}

export async function duckdbVersion() {
  const [row] = await query('SELECT version() AS v');
  return String(row?.v ?? '?');
}

export function sqlString(value) {
  return `'${String(value).replace(/'/g, "''")}'`;
}

/**
 * Step durations (seconds, by step id) and the run's span from `pipewright show <id> --json`: the
 * timestamps the engine recorded, to the millisecond.
 */
export function runTimes(project, id) {
  const shown = JSON.parse(
    execFileSync(process.execPath, [CLI, '--project', project, 'show', id, '--json'], { encoding: 'utf8' }),
  );
  const span = (entry) => (Date.parse(entry.finished_at) - Date.parse(entry.started_at)) / 1000;
  return {
    shown,
    span: span(shown),
    steps: Object.fromEntries(shown.steps.map((step) => [step.step, span(step)])),
  };
}

/** The id of the run a `pipewright run --json` printed. */
export function runIdFrom(stdout) {
  const parsed = JSON.parse(stdout);
  if (typeof parsed.id !== 'string') throw new Error(`no run id in: ${stdout.slice(0, 200)}`);
  if (parsed.status !== 'succeeded') throw new Error(`run ${parsed.id} ended ${parsed.status}`);
  return parsed.id;
}
