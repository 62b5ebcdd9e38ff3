// Service benchmark 2: footprint. What `pipewright serve` costs a small machine: cold start, idle
// memory, where that memory and start time go (module by module), and API latency under load while runs
// execute.
//
// 1. Cold start: `serve --port <free port>` on the demo project (`pipewright init`), /health and /ready
//    polled every 10 ms from the spawn; a new project (the store is created) and a restart (the store
//    exists) alternate. Floor: a bare Node HTTP server answering /health.
// 2. Idle memory: after /ready, the start-up demo run finished and --idle seconds without work, VmRSS
//    and VmHWM from /proc/<pid>/status (and V8's heap through a preload); also after a restart that
//    executed no run, and, as the floor, `node -e "setInterval(() => {}, 1000)"`.
// 3. Breakdown: a fresh Node process per dependency or dist/ module imports just that and reports its
//    RSS (after a GC) and import time, so the cost of each import can be read off; and the list of
//    modules an idle `serve` has loaded, by package (module hooks in a separate run).
// 4. API load: `GET /api/runs?limit=50` with a read token at --rate req/s for --seconds s from an
//    open-loop generator in its own process (bench/open-loop.mjs), with ~1000 runs stored beforehand;
//    once with the service idle and once while a stream of ~1 s runs executes.
//
// Goals (issue 3): idle RSS ≤ 120 MB, cold start to a healthy /health ≤ 1.5 s; API p99 ≤ 50 ms at
// 500 req/s for run listing while runs execute.
//
//   node bench/footprint.mjs [--reps 3] [--idle 30] [--rate 500] [--seconds 20] [--only start,idle,imports,load]
/* global fetch */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  BENCH_DIR,
  REPO_DIR,
  WORK_DIR,
  ensureBuilt,
  fmt,
  machineInfo,
  measure,
  markdownTable,
  median,
  note,
  parseOptions,
  percentile,
  waitForQuiet,
} from './lib.mjs';
import {
  allRunsOverApi,
  cpuWindow,
  createToken,
  distModule,
  freePort,
  httpJson,
  processCpuSeconds,
  pipewright,
  processMemory,
  childPids,
  runCli,
  startCli,
  summarizeCpuProfile,
  until,
  useSnapshot,
} from './service-lib.mjs';

const options = parseOptions(
  {
    idle: { default: 30, help: 'seconds of idling before memory is read' },
    rate: { default: 500, help: 'requests per second of the API load' },
    seconds: { default: 20, help: 'duration of each API load phase' },
    'stored-runs': { default: 1000, help: 'finished runs stored before the API load' },
    'busy-rows': {
      default: 250_000_000,
      help: 'rows the ~1 s pipeline of the API load scans (calibrate for about a second)',
    },
    'trigger-every': { default: 1000, help: 'ms between two runs triggered during the API load' },
    'load-reps': { default: 1, help: 'measurements of each API load phase' },
    'import-reps': { default: 3, help: 'processes per entry of the import breakdown' },
    'load-profile': {
      default: true,
      help: 'repeat the second load phase under --cpu-prof and list the hot functions',
    },
    only: { default: 'start,idle,imports,load', help: 'which parts to run (comma-separated)' },
  },
  'node bench/footprint.mjs — cold start, idle memory and its breakdown, API latency under load',
);
ensureBuilt();
await useSnapshot();
const parts = new Set(options.only.split(',').map((part) => part.trim()));
const work = join(WORK_DIR, 'footprint');
const template = join(work, 'template');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
runCli(['init', template]);
const MEMORY_PRELOAD = pathToFileURL(join(BENCH_DIR, 'memory-report.mjs')).href;
let projectCounter = 0;

/** A copy of the demo project with no store yet. */
function newProject() {
  projectCounter += 1;
  const dir = join(work, `project-${projectCounter}`);
  cpSync(template, dir, { recursive: true });
  return dir;
}

const quietCores = () => waitForQuiet(options.noise, options['max-wait']);
const mib = (value) => (value === undefined ? '?' : `${fmt(value, 1)} MiB`);
const ms = (value, digits = 0) => (value === undefined ? '?' : `${fmt(value, digits)} ms`);

/** GETs `url` every 10 ms until it answers 200; the time since `since` (performance.now()). */
async function firstOk(url, since, timeoutMs = 60_000) {
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - since;
    } catch {
      // Not listening yet.
    }
    if (performance.now() - since > timeoutMs) throw new Error(`${url} not healthy after ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Repeats a disturbed measurement up to --reruns times and keeps the quietest. */
async function quietly(label, measureOnce) {
  let kept;
  let attempts = 0;
  for (let attempt = 0; attempt <= options.reruns; attempt += 1) {
    attempts += 1;
    const result = await measureOnce();
    const disturbed = result.noiseCores > options.noise;
    note(
      `${label}: ${result.summary}, others ${fmt(result.noiseCores)} cores${disturbed ? ' (disturbed)' : ''}`,
    );
    if (!kept || result.noiseCores < kept.noiseCores) kept = result;
    if (!disturbed) break;
    if (attempt < options.reruns) note(`  re-running it (attempt ${attempt + 2})`);
  }
  kept.reruns = attempts - 1;
  return kept;
}

const disturbance = (results) =>
  `${fmt(Math.max(...results.map((r) => r.noiseCores)))}${results.some((r) => r.reruns > 0) ? ` (${results.reduce((s, r) => s + r.reruns, 0)} re-run)` : ''}`;

const machine = machineInfo();
const out = ['# Footprint benchmark', ''];
out.push(
  `Machine: ${machine.cpu}, ${machine.memory}; Node ${machine.node}; commit ${machine.commit}, dist/ built ${pipewright.builtAt.toISOString()} (run from a copy); load before: ${machine.load}.`,
  '',
);

// ---------------------------------------------------------------------------------------------------
// 1. Cold start

const BARE_SERVER = `
import http from 'node:http';
http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"status":"ok"}'); })
  .listen(Number(process.argv[1]), '127.0.0.1');
`;

async function startOnce(kind, project) {
  await quietCores();
  const port = await freePort();
  const window = cpuWindow();
  const started = performance.now();
  let service;
  let child;
  if (kind === 'bare') {
    child = spawn(process.execPath, ['--input-type=module', '-e', BARE_SERVER, String(port)], {
      stdio: 'ignore',
    });
  } else {
    service = startCli(['--project', project, 'serve', '--port', String(port)]);
    child = service.child;
  }
  try {
    const healthMs = await firstOk(`http://127.0.0.1:${port}/health`, started);
    const readyMs = kind === 'bare' ? undefined : await firstOk(`http://127.0.0.1:${port}/ready`, started);
    window.sample([child.pid], { fromZero: true });
    const cpuAtReady = processCpuSeconds(child.pid);
    const cpu = window.finish();
    return {
      healthMs,
      readyMs,
      cpuMs: cpuAtReady * 1000,
      noiseCores: cpu.noiseCores,
      summary: `/health after ${fmt(healthMs, 0)} ms${readyMs === undefined ? '' : `, /ready after ${fmt(readyMs, 0)} ms`}, CPU ${fmt(cpuAtReady * 1000, 0)} ms`,
    };
  } finally {
    if (service) await service.stop();
    else {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
    }
  }
}

if (parts.has('start')) {
  const ways = [
    { name: 'serve, new demo project (store created, migrations)', kind: 'new' },
    { name: 'serve, restart (store exists)', kind: 'restart' },
    { name: 'floor: bare Node HTTP server', kind: 'bare' },
  ];
  const existing = newProject();
  runCli(['--project', existing, 'validate']);
  const results = new Map(ways.map((way) => [way.name, []]));
  // The existing project's first start (store created, the demo's start-up run) is not measured.
  await startOnce('new', existing);
  for (let rep = 1; rep <= options.reps; rep += 1) {
    for (const way of ways) {
      const project = way.kind === 'new' ? newProject() : existing;
      results
        .get(way.name)
        .push(
          await quietly(`rep ${rep}/${options.reps} start ${way.name}`, () => startOnce(way.kind, project)),
        );
    }
  }
  const versionMs = [];
  for (let rep = 0; rep < options.reps; rep += 1) {
    const started = performance.now();
    execFileSync(process.execPath, [pipewright.cli, '--version'], { stdio: 'ignore' });
    versionMs.push(performance.now() - started);
  }
  out.push(
    '## Cold start: spawn → first 200 from /health and /ready (polled every 10 ms)',
    '',
    markdownTable(
      [
        'way',
        '/health median',
        '/health p95 (max)',
        'each rep (/health)',
        '/ready median',
        'CPU until ready',
        'others (cores, max)',
      ],
      ways.map((way) => {
        const r = results.get(way.name);
        const health = r.map((x) => x.healthMs);
        return [
          way.name,
          `**${ms(median(health))}**`,
          `${ms(percentile(health, 95))} (${ms(Math.max(...health))})`,
          health.map((x) => fmt(x, 0)).join(' / '),
          way.kind === 'bare' ? '—' : ms(median(r.map((x) => x.readyMs))),
          ms(median(r.map((x) => x.cpuMs))),
          disturbance(r),
        ];
      }),
    ),
    '',
    `\`node bin/pipewright.js --version\` (the CLI's own start, commands load on demand): ${ms(median(versionMs))} median.`,
    '',
  );
}

// ---------------------------------------------------------------------------------------------------
// 2. Idle memory

async function readMemory(pid, reportFile) {
  rmSync(reportFile, { force: true });
  const proc = processMemory(pid);
  process.kill(pid, 'SIGUSR2');
  const report = await until(
    'the memory report',
    () => existsSync(reportFile) && readFileSync(reportFile, 'utf8'),
    {
      timeoutMs: 5_000,
      everyMs: 20,
    },
  );
  // The preload ran a full GC after taking its figures (with --expose-gc): /proc now shows the result.
  return { proc, procAfterGc: processMemory(pid), node: JSON.parse(report) };
}

let lastIdleProject;

async function idleOnce({ kind, env = {} }) {
  // A run after the start-up run needs a new project each time; a restart reuses the last one.
  if (kind === 'after-run') lastIdleProject = newProject();
  const project = lastIdleProject;
  const reportFile = join(work, `memory-${process.pid}.json`);
  if (kind === 'floor') {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', MEMORY_PRELOAD, '-e', 'setInterval(() => {}, 1000)'],
      {
        stdio: 'ignore',
        env: { ...process.env, BENCH_MEMORY_FILE: reportFile },
      },
    );
    try {
      await sleep(Math.min(5, options.idle) * 1000);
      await quietCores();
      const window = cpuWindow();
      window.sample([child.pid]);
      await sleep(Math.min(5, options.idle) * 1000);
      window.sample([child.pid]);
      const memory = await readMemory(child.pid, reportFile);
      const cpu = window.finish();
      return {
        ...memory,
        idleCpuMsPerS: (cpu.ownSeconds * 1000) / cpu.seconds,
        noiseCores: cpu.noiseCores,
        summary: `VmRSS ${mib(memory.proc.rss)}`,
      };
    } finally {
      child.kill('SIGTERM');
    }
  }
  const token = kind === 'after-run' ? createToken(project, 'bench-idle', 'read') : undefined;
  const service = startCli(['--project', project, 'serve', '--port', '0'], {
    nodeArgs: ['--expose-gc', '--import', MEMORY_PRELOAD],
    env: { ...env, BENCH_MEMORY_FILE: reportFile },
  });
  try {
    const match = await service.waitFor(/http: (http:\/\/[^\s,]+)\/health/);
    const base = match[1];
    await until('/ready', async () => (await httpJson(`${base}/ready`)).status === 200);
    let runMs;
    if (kind === 'after-run') {
      const [run] = await until(
        'the start-up demo run',
        async () => {
          const runs = await allRunsOverApi(base, token);
          return runs.length > 0 && runs.every((r) => r.finished_at !== null) ? runs : undefined;
        },
        { everyMs: 200 },
      );
      if (run.status !== 'succeeded') throw new Error(`the start-up run ended ${run.status}`);
      runMs = Date.parse(run.finished_at) - Date.parse(run.started_at);
    }
    await quietCores();
    const window = cpuWindow();
    window.sample([service.pid, ...childPids(service.pid)]);
    await sleep(options.idle * 1000);
    // serve's runner, if it is still up (it exits after PIPEWRIGHT_RUNNER_IDLE_MS without work).
    const runners = childPids(service.pid);
    window.sample([service.pid, ...runners]);
    const runnerRss = runners.reduce((sum, pid) => sum + (processMemory(pid).rss ?? 0), 0);
    const memory = await readMemory(service.pid, reportFile);
    const cpu = window.finish();
    return {
      ...memory,
      runners: runners.length,
      treeRss: memory.proc.rss + runnerRss,
      runMs,
      idleCpuMsPerS: (cpu.ownSeconds * 1000) / cpu.seconds,
      noiseCores: cpu.noiseCores,
      summary: `VmRSS ${mib(memory.proc.rss)} + runner ${mib(runnerRss)}, VmHWM ${mib(memory.proc.hwm)}, V8 heap used ${mib(memory.node.memoryUsage.heapUsed / 2 ** 20)}`,
    };
  } finally {
    await service.stop();
  }
}

/** Package (or dist/src folder) → number of modules loaded, from a memory report with a module trace. */
function modulesByPackage(node) {
  const groups = new Map();
  for (const url of new Set([...node.esm, ...node.cjs.map((path) => pathToFileURL(path).href)])) {
    if (url.startsWith('node:')) continue;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const dist = /dist\/src\/([^/]+)/.exec(url)?.[1];
    const key = pkg ?? (dist ? `dist/src/${dist.replace(/\.js$/, '')}` : 'project and bin');
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return groups;
}

/**
 * The modules an idle serve has loaded, by package: after a restart that ran nothing, and what a run
 * (the demo's start-up run, in the first start) loads on top. Module hooks, so never measured for memory.
 */
async function loadedModules() {
  const project = newProject();
  const reportFile = join(work, `modules-${process.pid}.json`);
  const capture = async (afterRun) => {
    const service = startCli(['--project', project, 'serve', '--port', '0'], {
      nodeArgs: ['--import', MEMORY_PRELOAD],
      env: { BENCH_MEMORY_FILE: reportFile, BENCH_TRACE_MODULES: '1' },
    });
    try {
      const match = await service.waitFor(/http: (http:\/\/[^\s,]+)\/health/);
      await until('/ready', async () => (await httpJson(`${match[1]}/ready`)).status === 200);
      if (afterRun) await service.waitFor(/weekly-temperature\) succeeded/);
      await sleep(2000);
      return modulesByPackage((await readMemory(service.pid, reportFile)).node);
    } finally {
      await service.stop();
    }
  };
  const afterRun = await capture(true);
  const atStart = await capture(false);
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]);
  const byRun = sorted(
    new Map(
      [...afterRun].map(([key, count]) => [key, count - (atStart.get(key) ?? 0)]).filter(([, n]) => n > 0),
    ),
  );
  return { atStart: sorted(atStart), byRun };
}

if (parts.has('idle')) {
  // The runner leaves after PIPEWRIGHT_RUNNER_IDLE_MS (default 60 s): once with a short idle time, so
  // the figure is what a service between runs holds, and once with the runner still up.
  const runnerGone = String(Math.max(1, Math.floor(options.idle / 3)) * 1000);
  const ways = [
    {
      name: `serve, after the start-up demo run, runner gone (PIPEWRIGHT_RUNNER_IDLE_MS=${runnerGone})`,
      kind: 'after-run',
      env: { PIPEWRIGHT_RUNNER_IDLE_MS: runnerGone },
    },
    {
      name: 'serve, after the start-up demo run, runner still up (PIPEWRIGHT_RUNNER_IDLE_MS=600000)',
      kind: 'after-run',
      env: { PIPEWRIGHT_RUNNER_IDLE_MS: '600000' },
    },
    { name: 'serve, restarted, no run since', kind: 'restart' },
    { name: 'floor: node -e "setInterval(() => {}, 1000)"', kind: 'floor' },
  ];
  const results = new Map(ways.map((way) => [way.name, []]));
  for (let rep = 1; rep <= options.reps; rep += 1) {
    for (const way of ways) {
      results
        .get(way.name)
        .push(await quietly(`rep ${rep}/${options.reps} idle ${way.name}`, () => idleOnce(way)));
    }
  }
  const heapMiB = (r) => r.node.memoryUsage.heapUsed / 2 ** 20;
  out.push(
    `## Idle memory: after /ready${'' /* keeps the line short */}, the start-up run (if any) and ${options.idle} s without work`,
    '',
    markdownTable(
      [
        'process',
        'VmRSS median (service + runner)',
        'runner',
        'serve alone',
        'each rep',
        'after a forced GC: VmRSS / V8 heap used',
        'VmHWM (max)',
        'anon / file-backed RSS',
        'V8 heap used / total',
        'external + array buffers',
        'threads',
        'idle CPU',
        'others (cores, max)',
      ],
      ways.map((way) => {
        const r = results.get(way.name);
        const m = (f) => median(r.map(f));
        return [
          way.name,
          `**${mib(m((x) => x.treeRss ?? x.proc.rss))}**`,
          r.some((x) => (x.runners ?? 0) > 0) ? 'up' : '—',
          mib(m((x) => x.proc.rss)),
          r.map((x) => fmt(x.treeRss ?? x.proc.rss, 0)).join(' / '),
          `${mib(m((x) => x.procAfterGc.rss))} / ${mib(m((x) => x.node.afterGc.heapUsed / 2 ** 20))}`,
          mib(Math.max(...r.map((x) => x.proc.hwm))),
          `${mib(m((x) => x.proc.anon))} / ${mib(m((x) => x.proc.file))}`,
          `${mib(m(heapMiB))} / ${mib(m((x) => x.node.memoryUsage.heapTotal / 2 ** 20))}`,
          mib(m((x) => (x.node.memoryUsage.external + x.node.memoryUsage.arrayBuffers) / 2 ** 20)),
          String(m((x) => x.proc.threads)),
          `${fmt(
            m((x) => x.idleCpuMsPerS),
            1,
          )} ms/s`,
          disturbance(r),
        ];
      }),
    ),
    '',
    `The start-up demo run (weekly-temperature) took ${ms(median(results.get(ways[0].name).map((r) => r.runMs)))} (median). ` +
      "VmHWM is the process's peak resident set since it started. Every process runs with `--expose-gc` and the preload " +
      '`bench/memory-report.mjs`; the forced GC happens after the other figures were taken.',
    '',
  );
}

// ---------------------------------------------------------------------------------------------------
// 3. Import breakdown

const IMPORT_PROBE = `
import { readFileSync } from 'node:fs';
const [specifier, extra, also] = JSON.parse(process.argv[1]);
const t0 = performance.now();
const module = specifier ? await import(specifier) : undefined;
if (also) await import(also);
const importMs = performance.now() - t0;
let extraMs;
if (extra === 'duckdb') {
  const t1 = performance.now();
  const instance = await module.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run('SELECT 1');
  extraMs = performance.now() - t1;
  globalThis.keep = [instance, connection];
}
if (extra === 'sqlite') {
  const t1 = performance.now();
  const db = new module.default(':memory:');
  db.prepare('SELECT 1').get();
  extraMs = performance.now() - t1;
  globalThis.keep = db;
}
await new Promise((resolve) => setTimeout(resolve, 300));
globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 300));
const status = readFileSync('/proc/self/status', 'utf8');
const kib = (name) => Number(new RegExp('^' + name + ':\\\\s+(\\\\d+)', 'm').exec(status)?.[1]);
process.stdout.write(JSON.stringify({ importMs, extraMs, rssKiB: kib('VmRSS'), anonKiB: kib('RssAnon'), heapUsed: process.memoryUsage().heapUsed }));
`;

const dist = (path) => pathToFileURL(join(pipewright.root, 'dist', 'src', path)).href;
const IMPORTS = [
  { name: '(nothing: node itself)', specifier: null },
  { name: 'zod', specifier: 'zod' },
  { name: 'yaml', specifier: 'yaml' },
  { name: 'luxon', specifier: 'luxon' },
  { name: 'croner', specifier: 'croner' },
  { name: 'liquidjs', specifier: 'liquidjs' },
  { name: 'commander', specifier: 'commander' },
  { name: 'tinyglobby', specifier: 'tinyglobby' },
  { name: 'kysely', specifier: 'kysely' },
  { name: 'better-sqlite3', specifier: 'better-sqlite3' },
  { name: 'better-sqlite3 + an open :memory: database', specifier: 'better-sqlite3', extra: 'sqlite' },
  { name: 'pg', specifier: 'pg' },
  { name: 'fastify', specifier: 'fastify' },
  { name: 'prom-client', specifier: 'prom-client', optional: true },
  { name: '@duckdb/node-api', specifier: '@duckdb/node-api' },
  { name: '@duckdb/node-api + an open :memory: database', specifier: '@duckdb/node-api', extra: 'duckdb' },
  { name: 'exceljs', specifier: 'exceljs' },
  { name: 'nodemailer', specifier: 'nodemailer', optional: true },
  { name: 'markdown-it', specifier: 'markdown-it', optional: true },
  { name: 'vega + vega-lite', specifier: 'vega-lite', also: 'vega', optional: true },
  { name: '@resvg/resvg-js', specifier: '@resvg/resvg-js', optional: true },
  { name: 'playwright-core', specifier: 'playwright-core', optional: true },
  { name: 'dist: api/metrics.js (prom-client)', specifier: dist('api/metrics.js'), optional: true },
  {
    name: 'dist: steps/deliver/email.js (nodemailer, markdown-it)',
    specifier: dist('steps/deliver/email.js'),
    optional: true,
  },
  {
    name: 'dist: core/spec/pipeline-schema.js (zod schemas)',
    specifier: dist('core/spec/pipeline-schema.js'),
  },
  { name: 'dist: store/open-store.js (SQLite store)', specifier: dist('store/open-store.js') },
  { name: 'dist: steps/builtin.js (built-in steps)', specifier: dist('steps/builtin.js') },
  { name: 'dist: engine/execute-run.js (engine)', specifier: dist('engine/execute-run.js') },
  { name: 'dist: scheduler/worker.js', specifier: dist('scheduler/worker.js') },
  { name: 'dist: api/server.js (Fastify app, routes)', specifier: dist('api/server.js') },
  { name: 'dist: cli/commands/serve.js (all serve needs)', specifier: dist('cli/commands/serve.js') },
  { name: 'dist: cli/main.js (CLI entry, commands lazy)', specifier: dist('cli/main.js') },
];

function probeImport(entry) {
  const output = execFileSync(
    process.execPath,
    [
      '--expose-gc',
      '--input-type=module',
      '-e',
      IMPORT_PROBE,
      JSON.stringify([entry.specifier, entry.extra, entry.also]),
    ],
    { cwd: REPO_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return JSON.parse(output);
}

if (parts.has('imports')) {
  const entries = IMPORTS.filter((entry) => {
    if (!entry.optional) return true;
    try {
      probeImport(entry);
      return true;
    } catch {
      return false;
    }
  });
  const results = new Map(entries.map((entry) => [entry.name, []]));
  for (let rep = 0; rep < options['import-reps']; rep += 1) {
    for (const entry of entries) {
      const probe = await quietly(`import ${rep + 1}/${options['import-reps']} ${entry.name}`, async () => {
        await quietCores();
        // lib.mjs's measure(): the CPU other processes used while this child ran.
        const measured = await measure({
          node: true,
          args: [
            '--expose-gc',
            '--input-type=module',
            '-e',
            IMPORT_PROBE,
            JSON.stringify([entry.specifier, entry.extra, entry.also]),
          ],
        });
        if (measured.code !== 0)
          throw new Error(`importing ${entry.name} failed:\n${measured.stderr.slice(-2000)}`);
        const result = JSON.parse(measured.stdout);
        return {
          ...result,
          noiseCores: measured.noiseCores ?? 0,
          summary: `VmRSS ${mib(result.rssKiB / 1024)}, import ${ms(result.importMs)}`,
        };
      });
      results.get(entry.name).push(probe);
    }
  }
  const base = median(results.get(IMPORTS[0].name).map((r) => r.rssKiB)) / 1024;
  const rows = entries.map((entry) => {
    const r = results.get(entry.name);
    const rss = median(r.map((x) => x.rssKiB)) / 1024;
    return [
      entry.name,
      mib(rss),
      entry.specifier ? `+${fmt(rss - base, 1)} MiB` : '—',
      mib(median(r.map((x) => x.heapUsed)) / 2 ** 20),
      entry.specifier ? ms(median(r.map((x) => x.importMs)), 0) : '—',
      entry.extra ? ms(median(r.map((x) => x.extraMs)), 1) : '',
      disturbance(r),
    ];
  });
  const modules = await loadedModules();
  out.push(
    '## Where memory and start time go: one fresh process per import',
    '',
    `Each row is a new \`node --expose-gc\` process that imports only that module (with its dependencies), waits, runs a GC and reads VmRSS; ` +
      `median of ${options['import-reps']} processes (started with the rusage preload of lib.mjs, which every row including the first pays). ` +
      'Rows overlap (a dist/ module includes the packages it imports), so deltas do not add up.',
    '',
    markdownTable(
      [
        'import',
        'VmRSS after GC',
        'over bare node',
        'V8 heap used',
        'import time',
        'opening a database',
        'others (cores, max)',
      ],
      rows,
    ),
    '',
    'Modules an idle `serve` has loaded after a restart that ran nothing, by package (number of modules): ' +
      modules.atStart.map(([key, count]) => `${key} ${count}`).join(', ') +
      '.',
    '',
    'Loaded on top of those once a run (the demo start-up run) executed: ' +
      (modules.byRun.length === 0
        ? 'nothing'
        : modules.byRun.map(([key, count]) => `${key} ${count}`).join(', ')) +
      '.',
    '',
  );
}

// ---------------------------------------------------------------------------------------------------
// 4. API load

async function storeRuns(project, count) {
  const { loadProject } = await distModule('project/load-project.js');
  const { openStateStore } = await distModule('store/open-store.js');
  const { queueManualRun } = await distModule('api/queue-manual-run.js');
  const { newRunId } = await distModule('engine/run-ids.js');
  const loaded = await loadProject(project);
  const store = await openStateStore(loaded.spec.state, loaded.dir);
  try {
    const first = await queueManualRun({
      project: loaded,
      store,
      pipelineId: 'busy',
      params: {},
      trigger: 'bench',
    });
    await store.requestCancel(first.id, new Date());
    const now = Date.now();
    for (let index = 1; index < count; index += 1) {
      const queuedAt = new Date(now - (count - index) * 3_600_000);
      const run = await store.enqueueRun({
        id: newRunId(queuedAt),
        pipelineId: 'busy',
        revision: first.revision,
        status: 'queued',
        trigger: 'bench',
        params: first.params,
        scheduledFor: queuedAt,
        queuedAt,
      });
      await store.updateRun(run.id, {
        status: 'succeeded',
        startedAt: queuedAt,
        finishedAt: new Date(queuedAt.getTime() + 1000),
        attempt: 1,
      });
    }
  } finally {
    await store.close();
  }
}

/** Runs of `pipeline` while `running()`: every `everyMs`, or (everyMs 0) the next once the last finished. */
async function triggerStream({ base, operateToken, readToken }, pipeline, everyMs, running) {
  const triggered = [];
  while (running()) {
    const response = await httpJson(`${base}/api/pipelines/${pipeline}/runs`, {
      method: 'POST',
      token: operateToken,
      body: {},
    });
    if (response.status !== 201)
      throw new Error(`trigger answered ${response.status}: ${response.text.slice(0, 200)}`);
    triggered.push(response.body.id);
    if (everyMs > 0) {
      await sleep(everyMs);
      continue;
    }
    await until(
      `run ${response.body.id}`,
      async () =>
        (await httpJson(`${base}/api/runs/${response.body.id}`, { token: readToken })).body?.finished_at,
      { everyMs: 100, timeoutMs: 300_000 },
    );
  }
  return triggered;
}

/** The event-loop delay of the service since the last call (the preload answers SIGUSR2). */
async function eventLoopDelay(pid) {
  const reportFile = join(work, `load-${process.pid}.json`);
  return (await readMemory(pid, reportFile)).node.eventLoopDelayMs;
}

async function loadOnce(phase, context) {
  const { base, readToken, service } = context;
  await quietCores();
  const window = cpuWindow();
  window.sample([service.pid]);
  let triggering = phase.pipeline !== undefined;
  const trigger = triggering
    ? triggerStream(context, phase.pipeline, phase.everyMs, () => triggering)
    : Promise.resolve([]);
  if (triggering) await sleep(2000); // runs are executing before the load starts
  await eventLoopDelay(service.pid);
  const loadStarted = Date.now();
  const generator = spawn(
    process.execPath,
    [
      join(BENCH_DIR, 'open-loop.mjs'),
      JSON.stringify({
        url: `${base}/api/runs?limit=50`,
        token: readToken,
        rate: options.rate,
        seconds: options.seconds,
      }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  generator.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  const sampler = setInterval(() => window.sample([service.pid]), 1000);
  await new Promise((resolve) => generator.on('close', resolve));
  clearInterval(sampler);
  const loadEnded = Date.now();
  const loopDelay = await eventLoopDelay(service.pid);
  triggering = false;
  const triggered = await trigger;
  window.sample([service.pid]);
  const cpu = window.finish();
  const result = JSON.parse(output);
  // The triggered runs: wait until they finished, count those that ran during the load.
  const runs = await until(
    'the triggered runs',
    async () => {
      if (triggered.length === 0) return [];
      const all = (await allRunsOverApi(base, readToken, phase.pipeline)).filter((run) =>
        triggered.includes(run.id),
      );
      return all.length === triggered.length && all.every((run) => run.finished_at !== null)
        ? all
        : undefined;
    },
    { everyMs: 500, timeoutMs: 300_000 },
  );
  const failed = runs.filter((run) => run.status !== 'succeeded').length;
  const overlapping = runs.filter(
    (run) => Date.parse(run.started_at) < loadEnded && Date.parse(run.finished_at) > loadStarted,
  );
  const runningMs = overlapping.reduce(
    (sum, run) =>
      sum +
      Math.min(Date.parse(run.finished_at), loadEnded) -
      Math.max(Date.parse(run.started_at), loadStarted),
    0,
  );
  const errorCount = Object.values(result.errors).reduce((sum, value) => sum + value, 0);
  const summary = {
    ...result,
    p50: percentile(result.fromDue, 50),
    p95: percentile(result.fromDue, 95),
    p99: percentile(result.fromDue, 99),
    max: Math.max(...result.fromDue),
    sendP99: percentile(result.fromSend, 99),
    errorCount,
    loopDelay,
    runs: overlapping.length,
    failedRuns: failed,
    runMs:
      runs.length > 0
        ? median(runs.map((run) => Date.parse(run.finished_at) - Date.parse(run.started_at)))
        : undefined,
    busyShare: runningMs / (loadEnded - loadStarted),
    serviceCpuCores: (cpu.perPid.get(service.pid) ?? 0) / cpu.seconds,
    generatorCpuCores: result.cpuSeconds / result.sendingSeconds,
    noiseCores: Math.max(0, cpu.noiseCores - result.cpuSeconds / cpu.seconds),
  };
  summary.summary =
    `${result.sent} requests at ${fmt(result.rate, 0)}/s: p50 ${ms(summary.p50, 1)}, p99 ${ms(summary.p99, 1)}, ` +
    `max ${ms(summary.max, 0)}, ${errorCount} errors, event loop blocked up to ${ms(loopDelay.max)}, ` +
    `${summary.runs} runs during the load`;
  return summary;
}

/** Starts serve on the load project, waits for it to be ready and idle, and warms the API up. */
async function startLoadService(project, tokens, nodeArgs = []) {
  const service = startCli(['--project', project, 'serve', '--port', '0'], {
    nodeArgs: [...nodeArgs, '--import', MEMORY_PRELOAD],
    env: { BENCH_MEMORY_FILE: join(work, `load-${process.pid}.json`), BENCH_EVENT_LOOP: '1' },
  });
  const match = await service.waitFor(/http: (http:\/\/[^\s,]+)\/health/);
  const base = match[1];
  await until('/ready', async () => (await httpJson(`${base}/ready`)).status === 200);
  // The demo's start-up run (catch-up of its latest slot) finishes before anything is measured.
  await until(
    'the start-up demo run',
    async () => {
      const runs = await allRunsOverApi(base, tokens.readToken, 'weekly-temperature');
      return runs.length > 0 && runs.every((run) => run.finished_at !== null);
    },
    { everyMs: 200 },
  );
  for (let index = 0; index < 50; index += 1)
    await httpJson(`${base}/api/runs?limit=50`, { token: tokens.readToken });
  return { service, base, ...tokens };
}

if (parts.has('load')) {
  const project = newProject();
  const scan = `SELECT count(*) AS n FROM range(${options['busy-rows']}) t(i) WHERE hash(i) % 7 = 0`;
  writeFileSync(
    join(project, 'pipelines', 'busy.yaml'),
    `# Written by bench/footprint.mjs: a run of about a second of DuckDB work
id: busy
description: Scans ${options['busy-rows']} generated rows
steps:
  - id: scan
    uses: sql
    with: { query: "${scan}" }
`,
  );
  writeFileSync(
    join(project, 'pipelines', 'busy-one-thread.yaml'),
    `# Written by bench/footprint.mjs: the same scan on one DuckDB thread
id: busy-one-thread
description: Scans ${options['busy-rows']} generated rows on one thread
steps:
  - id: scan
    uses: sql
    with: { query: "SET threads = 1; ${scan}" }
`,
  );
  await storeRuns(project, options['stored-runs']);
  const tokens = {
    readToken: createToken(project, 'bench-read', 'read'),
    operateToken: createToken(project, 'bench-operate', 'operate'),
  };
  const phases = [
    { name: 'service idle' },
    {
      name: `while runs execute (\`busy\` triggered every ${options['trigger-every']} ms)`,
      pipeline: 'busy',
      everyMs: options['trigger-every'],
    },
    {
      name: 'while runs execute one at a time on one DuckDB thread (`busy-one-thread`, next when the last finished)',
      pipeline: 'busy-one-thread',
      everyMs: 0,
    },
  ];
  const results = new Map(phases.map((phase) => [phase.name, []]));
  let context = await startLoadService(project, tokens);
  try {
    for (let rep = 1; rep <= options['load-reps']; rep += 1) {
      for (const phase of phases) {
        results
          .get(phase.name)
          .push(
            await quietly(`rep ${rep}/${options['load-reps']} API load, ${phase.name}`, () =>
              loadOnce(phase, context),
            ),
          );
      }
    }
  } finally {
    await context.service.stop();
  }
  // Diagnosis, not a measurement: the second phase again under a CPU profile of the service.
  let profile;
  if (options['load-profile']) {
    const dir = join(work, 'load-profile');
    rmSync(dir, { recursive: true, force: true });
    context = await startLoadService(project, tokens, ['--cpu-prof', '--cpu-prof-dir', dir]);
    try {
      profile = { result: await loadOnce(phases[1], context) };
      note(`API load under --cpu-prof: ${profile.result.summary}`);
    } finally {
      await context.service.stop();
    }
    const [file] = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
    profile.summary = summarizeCpuProfile(join(dir, file));
  }
  out.push(
    `## API load: GET /api/runs?limit=50 at ${options.rate} req/s for ${options.seconds} s (open loop), ${options['stored-runs']} runs stored`,
    '',
    'Latency is measured from the moment each request was due (start + i / rate), so a request waiting for a free connection counts its wait. ' +
      '"service time p99" is measured from when it was written to its socket. The generator runs in its own process (up to 64 keep-alive connections). ' +
      `Runs: one \`sql\` step scanning ${options['busy-rows'].toLocaleString('en')} generated rows, with DuckDB's default threads (2) or \`SET threads = 1\`; ` +
      'triggering starts 2 s before the load and runs until its end; `serve` has its default `--concurrency 2`. ' +
      '"event loop blocked" is the largest event-loop delay of the service during the load (`monitorEventLoopDelay` in the preload, 10 ms resolution).',
    '',
    markdownTable(
      [
        'phase',
        'requests (rate)',
        'p50',
        'p95',
        'p99',
        'max',
        'service time p99',
        'errors',
        'event loop blocked (max)',
        'runs during the load (median run)',
        'runs executing (average)',
        'CPU serve / generator (cores)',
        'others (cores, max)',
      ],
      phases.map((phase) => {
        const r = results.get(phase.name);
        const last = r.at(-1);
        return [
          phase.name,
          `${last.sent} (${fmt(last.rate, 0)}/s)`,
          ms(median(r.map((x) => x.p50)), 1),
          ms(median(r.map((x) => x.p95)), 1),
          `**${ms(median(r.map((x) => x.p99)), 1)}**`,
          ms(Math.max(...r.map((x) => x.max)), 0),
          ms(median(r.map((x) => x.sendP99)), 1),
          r.map((x) => (x.errorCount === 0 ? '0' : JSON.stringify(x.errors))).join(' / '),
          ms(Math.max(...r.map((x) => x.loopDelay.max)), 0),
          phase.pipeline ? `${last.runs} (${ms(last.runMs)}), ${last.failedRuns} failed` : '—',
          phase.pipeline ? fmt(last.busyShare, 2) : '—',
          `${fmt(last.serviceCpuCores)} / ${fmt(last.generatorCpuCores)}`,
          disturbance(r),
        ];
      }),
    ),
    '',
    `Response size: ${fmt(results.get(phases[0].name)[0].meanBytes / 1024, 1)} KiB per page of 50 runs.`,
    '',
  );
  if (profile) {
    const { result, summary } = profile;
    out.push(
      `### The service's main thread during the second phase, under \`--cpu-prof\``,
      '',
      `A separate serve, profiled from start to stop (start-up, warm-up and the phase); with the profiler the phase measured p99 ${ms(result.p99, 1)}, ` +
        `event loop blocked up to ${ms(result.loopDelay.max)}. Main thread ${fmt(summary.totalMs / 1000, 1)} s profiled, ${fmt(summary.idleMs / 1000, 1)} s idle.`,
      '',
      markdownTable(
        ['function (inclusive: with what it calls)', 'main-thread ms'],
        summary.inclusive
          .filter(
            ([key]) => !/node internals$/.test(key) && !key.startsWith('(') && !key.startsWith('(anonymous)'),
          )
          .slice(0, 25)
          .map(([key, total]) => [key, fmt(total, 0)]),
      ),
      '',
    );
  }
}

process.stdout.write(`${out.join('\n')}\n`);
