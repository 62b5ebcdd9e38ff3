// Service benchmark 1: dispatch. How many trivial runs per second go through the queue, and how long a
// triggered run waits before a worker starts it.
//
// Throughput: N runs of a one-step pipeline (`SELECT 1 AS n`) are queued directly through the store
// API of dist/ (untimed), then worker processes are started and the clock runs from the first spawn
// until the store counts N succeeded runs (process start included); the rate from the first run's
// start to the last run's finish (process start excluded) comes from the run records. Configurations:
// SQLite with one process (`worker --concurrency 1/2/4`, and `serve` with its default concurrency) and
// PostgreSQL with 1, 2 and 4 `worker` processes, each measurement on a fresh store. Afterwards every
// run is checked to have succeeded exactly once (attempt 1, one step attempt).
//
// Latency: a `serve --port 0` with idle workers; runs are triggered one at a time over HTTP
// (POST /api/pipelines/trivial/runs, an operate token) at a steady, jittered pace, and the wait is
// `started_at − queued_at` of each run from GET /api/runs. With the default poll interval, and with a
// short one to show what sets the floor; also with a PostgreSQL store.
//
// Goals (issue 3): ≥ 200 runs/s on SQLite, ≥ 400 runs/s on PostgreSQL with 4 workers (2 cores);
// trigger-to-start p99 ≤ 200 ms.
//
//   node bench/dispatch.mjs [--runs 1000] [--reps 3] [--triggers 200] [--only throughput|latency]
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  WORK_DIR,
  ensureBuilt,
  fail,
  fmt,
  machineInfo,
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
  createPgDatabase,
  createToken,
  distModule,
  dropPgDatabase,
  httpJson,
  pgBackendPids,
  pgVersion,
  runCli,
  serviceUrl,
  startCli,
  summarizeCpuProfile,
  pipewright,
  until,
  useSnapshot,
} from './service-lib.mjs';

const options = parseOptions(
  {
    runs: { default: 1000, help: 'runs queued per throughput measurement' },
    'sqlite-concurrency': { default: '1,2,4', help: 'runs at once in the single SQLite worker process' },
    'serve-concurrency': {
      default: '2',
      help: 'also measure SQLite throughput through `serve` with these concurrencies (empty: skip)',
    },
    'pg-processes': { default: '1,2,4', help: 'PostgreSQL worker processes (empty: skip PostgreSQL)' },
    'pg-concurrency': { default: '1', help: 'runs at once in each PostgreSQL worker process (a list)' },
    'poll-ms': {
      default: '',
      help: 'PIPEWRIGHT_POLL_MS for the throughput workers (empty: the default, 250)',
    },
    triggers: { default: 200, help: 'runs triggered one at a time per latency measurement' },
    interval: { default: 300, help: 'mean ms between two triggers (each uniformly 0.5× to 1.5× of it)' },
    'latency-poll': {
      default: 'default,50',
      help: 'poll intervals (ms, or "default") of the latency measurements on SQLite',
    },
    'latency-pg': { default: true, help: 'also measure latency with a PostgreSQL store (default poll)' },
    only: { default: '', help: '"throughput", "latency" or "profile" to run just one part' },
    profile: {
      default: true,
      help: 'also profile one SQLite worker (--concurrency 1) over --runs runs with --cpu-prof and break a run down',
    },
  },
  'node bench/dispatch.mjs — trivial runs per second through the queue, and trigger-to-start latency',
);
ensureBuilt();
await useSnapshot();
if (options.only !== '' && !['throughput', 'latency', 'profile'].includes(options.only))
  fail('--only expects throughput, latency or profile');

const selected = (part) => options.only === '' || options.only === part;
const list = (text) =>
  String(text)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
const numbers = (text) => list(text).map(Number);

const work = join(WORK_DIR, 'dispatch');
const project = join(work, 'project');
const PG_DATABASE = `pw_bench_dispatch_${process.pid}`;
const PIPELINE = 'trivial';

rmSync(work, { recursive: true, force: true });
mkdirSync(join(project, 'pipelines'), { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  `# Written by bench/dispatch.mjs; PIPEWRIGHT_STATE_URL points PostgreSQL measurements elsewhere
name: bench-dispatch
state: .pipewright/state.db
`,
);
writeFileSync(
  join(project, 'pipelines', `${PIPELINE}.yaml`),
  `# Written by bench/dispatch.mjs: the smallest useful run
id: ${PIPELINE}
description: One trivial sql step
steps:
  - id: one
    uses: sql
    with: { query: "SELECT 1 AS n" }
`,
);

const { loadProject } = await distModule('project/load-project.js');
const { openStateStore } = await distModule('store/open-store.js');
const { queueManualRun } = await distModule('api/queue-manual-run.js');
const { newRunId } = await distModule('engine/run-ids.js');

/** A fresh store (SQLite file removed, or a new PostgreSQL database) and the env pointing at it. */
async function freshStore(kind) {
  rmSync(join(project, '.pipewright'), { recursive: true, force: true });
  if (kind === 'sqlite') return { env: {}, dispose: async () => {} };
  const url = await createPgDatabase(PG_DATABASE);
  return { env: { PIPEWRIGHT_STATE_URL: url }, dispose: () => dropPgDatabase(PG_DATABASE) };
}

async function openStore(env) {
  const loaded = await loadProject(project);
  const store = await openStateStore(loaded.spec.state, loaded.dir, { ...process.env, ...env });
  return { loaded, store };
}

/** Repeats a disturbed measurement (others above --noise cores) up to --reruns times; keeps the quietest. */
async function quietly(label, measureOnce) {
  let kept;
  let attempts = 0;
  for (let attempt = 0; attempt <= options.reruns; attempt += 1) {
    attempts += 1;
    const result = await measureOnce();
    note(
      `${label}: ${result.summary}, others ${result.noiseCores.toFixed(2)} cores${result.noiseCores > options.noise ? ' (disturbed)' : ''}`,
    );
    if (!kept || result.noiseCores < kept.noiseCores) kept = result;
    if (result.noiseCores <= options.noise) break;
    if (attempt < options.reruns) note(`  re-running it (attempt ${attempt + 2})`);
  }
  kept.reruns = attempts - 1;
  return kept;
}

// ---------------------------------------------------------------------------------------------------
// Throughput

const configs = [
  ...numbers(options['sqlite-concurrency']).map((concurrency) => ({
    name: `SQLite, 1 \`worker\` process, --concurrency ${concurrency}`,
    kind: 'sqlite',
    command: 'worker',
    processes: 1,
    concurrency,
  })),
  ...numbers(options['serve-concurrency']).map((concurrency) => ({
    name: `SQLite, 1 \`serve\` process, --concurrency ${concurrency}`,
    kind: 'sqlite',
    command: 'serve',
    processes: 1,
    concurrency,
  })),
  ...numbers(options['pg-concurrency']).flatMap((concurrency) =>
    numbers(options['pg-processes']).map((processes) => ({
      name: `PostgreSQL, ${processes} \`worker\` process${processes > 1 ? 'es' : ''}, --concurrency ${concurrency}`,
      kind: 'pg',
      command: 'worker',
      processes,
      concurrency,
    })),
  ),
];

async function throughputOnce(config) {
  const n = options.runs;
  const { env, dispose } = await freshStore(config.kind);
  const { loaded, store } = await openStore(env);
  const workers = [];
  try {
    // Queue N runs: the first through queueManualRun (stores the revision), the rest directly.
    const enqueueStarted = performance.now();
    const first = await queueManualRun({
      project: loaded,
      store,
      pipelineId: PIPELINE,
      params: {},
      trigger: 'bench',
    });
    for (let index = 1; index < n; index += 1) {
      const now = new Date();
      await store.enqueueRun({
        id: newRunId(now),
        pipelineId: PIPELINE,
        revision: first.revision,
        status: 'queued',
        trigger: 'bench',
        params: first.params,
        scheduledFor: now,
        queuedAt: now,
      });
    }
    const enqueueSeconds = (performance.now() - enqueueStarted) / 1000;
    const harnessBackends = config.kind === 'pg' ? await pgBackendPids(PG_DATABASE) : [];

    await waitForQuiet(options.noise, options['max-wait']);
    const window = cpuWindow();
    window.sample(harnessBackends);
    const started = performance.now();
    const spawnEpoch = Date.now();
    const workerEnv = {
      ...env,
      ...(options['poll-ms'] === '' ? {} : { PIPEWRIGHT_POLL_MS: options['poll-ms'] }),
    };
    for (let index = 0; index < config.processes; index += 1) {
      const args = ['--project', project, config.command, '--concurrency', String(config.concurrency)];
      if (config.command === 'serve') args.push('--port', '0');
      workers.push(startCli(args, { env: workerEnv, nodeArgs: config.nodeArgs ?? [] }));
    }
    const sampleAll = async () => {
      window.sample(
        workers.map((worker) => worker.pid),
        { fromZero: true },
      );
      if (config.kind === 'pg') {
        const backends = await pgBackendPids(PG_DATABASE);
        window.sample(
          backends.filter((pid) => !harnessBackends.includes(pid)),
          { fromZero: true },
        );
        window.sample(harnessBackends);
      }
    };
    let lastSample = 0;
    let lastFailedCheck = 0;
    const deadline = started + (n / 5 + 120) * 1000;
    for (;;) {
      const succeeded = await store.countRuns({ status: 'succeeded' });
      if (succeeded >= n) break;
      const now = performance.now();
      if (now - lastSample > 1000) {
        lastSample = now;
        await sampleAll();
      }
      if (now - lastFailedCheck > 1000) {
        lastFailedCheck = now;
        const failed = await store.countRuns({ status: 'failed' });
        if (failed > 0) throw new Error(`${failed} runs failed:\n${workers[0].output().slice(-3000)}`);
        const gone = workers.find((worker) => worker.child.exitCode !== null);
        if (gone) throw new Error(`a worker exited early:\n${gone.output().slice(-3000)}`);
      }
      if (now > deadline) throw new Error(`only ${succeeded} of ${n} runs succeeded in time`);
      await sleep(20);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    await sampleAll();
    const cpu = window.finish();
    await Promise.all(workers.map((worker) => worker.stop()));

    // Every run exactly once: succeeded, attempt 1, one step attempt of run attempt 1.
    const runs = await store.listRuns({ limit: n + 100 });
    const problems = [];
    if (runs.length !== n) problems.push(`${runs.length} runs stored, expected ${n}`);
    if (new Set(runs.map((run) => run.id)).size !== runs.length) problems.push('duplicate run ids');
    const notSucceeded = runs.filter((run) => run.status !== 'succeeded').length;
    if (notSucceeded > 0) problems.push(`${notSucceeded} runs not succeeded`);
    const retried = runs.filter((run) => run.attempt !== 1).length;
    if (retried > 0) problems.push(`${retried} runs with attempt > 1`);
    let stepProblems = 0;
    for (const run of runs) {
      const steps = await store.listStepAttempts(run.id);
      if (steps.length !== 1 || steps[0].runAttempt !== 1 || steps[0].status !== 'succeeded')
        stepProblems += 1;
    }
    if (stepProblems > 0) problems.push(`${stepProblems} runs without exactly one succeeded step attempt`);
    if (problems.length > 0) throw new Error(`${config.name}: ${problems.join('; ')}`);

    const firstStart = Math.min(...runs.map((run) => run.startedAt.getTime()));
    const lastFinish = Math.max(...runs.map((run) => run.finishedAt.getTime()));
    const spanSeconds = (lastFinish - firstStart) / 1000;
    const perProcess = new Map();
    for (const run of runs) perProcess.set(run.pid, (perProcess.get(run.pid) ?? 0) + 1);
    const workerPids = new Set(workers.map((worker) => worker.pid));
    const workerCpu = [...cpu.perPid]
      .filter(([pid]) => workerPids.has(pid))
      .reduce((sum, [, s]) => sum + s, 0);
    const pgCpu = cpu.ownSeconds - workerCpu;
    const result = {
      rate: n / wallSeconds,
      spanRate: n / spanSeconds,
      wallSeconds,
      spanSeconds,
      startSeconds: (firstStart - spawnEpoch) / 1000,
      runMs: median(runs.map((run) => run.finishedAt.getTime() - run.startedAt.getTime())),
      workerCpuMsPerRun: (workerCpu * 1000) / n,
      pgCpuMsPerRun: (pgCpu * 1000) / n,
      perProcess: [...perProcess.values()].sort((a, b) => b - a),
      enqueueRate: n / enqueueSeconds,
      noiseCores: cpu.noiseCores,
    };
    result.summary =
      `${fmt(result.rate, 1)} runs/s from spawn (${fmt(wallSeconds)} s), ${fmt(result.spanRate, 1)} runs/s ` +
      `first start → last finish (first run started ${fmt(result.startSeconds)} s after spawn), worker CPU ${fmt(result.workerCpuMsPerRun, 1)} ms/run` +
      (config.kind === 'pg' ? `, PostgreSQL CPU ${fmt(result.pgCpuMsPerRun, 1)} ms/run` : '');
    return result;
  } finally {
    await Promise.all(workers.map((worker) => worker.stop(5_000)));
    await store.close();
    await dispose();
  }
}

// ---------------------------------------------------------------------------------------------------
// Latency

const latencyConfigs = [
  ...list(options['latency-poll']).map((poll) => ({
    name: `SQLite, \`serve\` (--concurrency 2), poll ${poll === 'default' ? '250 ms (default)' : `${poll} ms`}`,
    kind: 'sqlite',
    poll: poll === 'default' ? undefined : Number(poll),
  })),
  ...(options['latency-pg'] && list(options['pg-processes']).length > 0
    ? [{ name: 'PostgreSQL, `serve` (--concurrency 2), poll 250 ms (default)', kind: 'pg', poll: undefined }]
    : []),
];

/** A small deterministic generator, so every measurement uses the same pace. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function latencyOnce(config) {
  const { env, dispose } = await freshStore(config.kind);
  const serviceEnv = {
    ...env,
    ...(config.poll === undefined ? {} : { PIPEWRIGHT_POLL_MS: String(config.poll) }),
  };
  let service;
  try {
    runCli(['--project', project, 'validate'], { env });
    const token = createToken(project, 'bench', 'operate', env);
    service = startCli(['--project', project, 'serve', '--port', '0'], { env: serviceEnv });
    const base = await serviceUrl(service);
    await until('/ready', async () => (await httpJson(`${base}/ready`)).status === 200);
    const trigger = async () => {
      const sent = performance.now();
      const response = await httpJson(`${base}/api/pipelines/${PIPELINE}/runs`, {
        method: 'POST',
        token,
        body: {},
      });
      if (response.status !== 201)
        throw new Error(`POST answered ${response.status}: ${response.text.slice(0, 300)}`);
      return { id: response.body.id, postMs: performance.now() - sent };
    };
    const finished = async (ids) => {
      const runs = await allRunsOverApi(base, token, PIPELINE);
      const wanted = runs.filter((run) => ids.has(run.id));
      return wanted.length === ids.size && wanted.every((run) => run.finished_at !== null)
        ? wanted
        : undefined;
    };
    // Warm-up, not counted: the first runs load DuckDB and the step code in the service.
    const warm = new Set();
    for (let index = 0; index < 3; index += 1) warm.add((await trigger()).id);
    await until('the warm-up runs', () => finished(warm));
    const pgBackends = config.kind === 'pg' ? await pgBackendPids(PG_DATABASE) : [];

    await waitForQuiet(options.noise, options['max-wait']);
    const window = cpuWindow();
    window.sample([service.pid, ...pgBackends]);
    const next = random(20261123);
    const triggered = [];
    const started = performance.now();
    let at = 0;
    for (let index = 0; index < options.triggers; index += 1) {
      const wait = started + at - performance.now();
      if (wait > 0) await sleep(wait);
      triggered.push(await trigger());
      at += options.interval * (0.5 + next());
    }
    const ids = new Set(triggered.map((entry) => entry.id));
    const runs = await until('the triggered runs', () => finished(ids), { everyMs: 100 });
    window.sample([service.pid, ...(config.kind === 'pg' ? await pgBackendPids(PG_DATABASE) : [])]);
    const cpu = window.finish();

    const bad = runs.filter((run) => run.status !== 'succeeded' || run.attempt !== 1);
    if (bad.length > 0) throw new Error(`${bad.length} runs did not succeed at the first attempt`);
    const waitMs = runs.map((run) => Date.parse(run.started_at) - Date.parse(run.queued_at));
    const totalMs = runs.map((run) => Date.parse(run.finished_at) - Date.parse(run.queued_at));
    const postMs = triggered.map((entry) => entry.postMs);
    const result = {
      waitMs,
      p50: percentile(waitMs, 50),
      p95: percentile(waitMs, 95),
      p99: percentile(waitMs, 99),
      max: Math.max(...waitMs),
      totalP50: percentile(totalMs, 50),
      totalP99: percentile(totalMs, 99),
      postP50: percentile(postMs, 50),
      postP99: percentile(postMs, 99),
      noiseCores: cpu.noiseCores,
    };
    result.summary = `queued → started p50 ${fmt(result.p50, 0)} ms, p99 ${fmt(result.p99, 0)} ms, max ${fmt(result.max, 0)} ms`;
    return result;
  } finally {
    await service?.stop(10_000);
    await dispose();
  }
}

// ---------------------------------------------------------------------------------------------------
// Run and report

const machine = machineInfo();
const postgres = await pgVersion();
const throughput = new Map(configs.map((config) => [config.name, []]));
const latency = new Map(latencyConfigs.map((config) => [config.name, []]));

if (selected('throughput')) {
  for (let rep = 1; rep <= options.reps; rep += 1) {
    for (const config of configs) {
      throughput
        .get(config.name)
        .push(await quietly(`rep ${rep}/${options.reps} ${config.name}`, () => throughputOnce(config)));
    }
  }
}
if (selected('latency')) {
  for (let rep = 1; rep <= options.reps; rep += 1) {
    for (const config of latencyConfigs) {
      latency
        .get(config.name)
        .push(await quietly(`rep ${rep}/${options.reps} latency ${config.name}`, () => latencyOnce(config)));
    }
  }
}

let profile;
if (options.profile && selected('profile')) {
  const dir = join(work, 'cpu-profile');
  rmSync(dir, { recursive: true, force: true });
  const config = {
    name: 'SQLite, 1 `worker` process, --concurrency 1, --cpu-prof',
    kind: 'sqlite',
    command: 'worker',
    processes: 1,
    concurrency: 1,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
  };
  const result = await quietly('profile', async () => {
    rmSync(dir, { recursive: true, force: true });
    return throughputOnce(config);
  });
  const [file] = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  profile = { result, summary: summarizeCpuProfile(join(dir, file)) };
}

const maxNoise = (results) =>
  `${fmt(Math.max(...results.map((r) => r.noiseCores)))}${results.some((r) => r.reruns > 0) ? ` (${results.reduce((s, r) => s + r.reruns, 0)} re-run)` : ''}`;

const out = [];
out.push('# Dispatch benchmark', '');
out.push(
  `Machine: ${machine.cpu}, ${machine.memory}; Node ${machine.node}; ${postgres}; commit ${machine.commit}, dist/ built ${pipewright.builtAt.toISOString()} (run from a copy); ` +
    `load before: ${machine.load}. ${options.reps} measurement(s) per configuration, configurations alternating.`,
  '',
);
if (selected('throughput')) {
  out.push(
    `## Throughput: ${options.runs} queued runs of a one-step pipeline (\`SELECT 1 AS n\`)`,
    '',
    `Poll interval: ${options['poll-ms'] === '' ? '250 ms (default)' : `${options['poll-ms']} ms`}. ` +
      '"from spawn" counts from the first process spawn until the store counts every run succeeded (polled every 20 ms); ' +
      '"start → finish" is first run started → last run finished from the run records. CPU per run: user + system of the ' +
      'worker processes (and of the PostgreSQL backends serving them) divided by the runs.',
    '',
  );
  const rows = configs.map((config) => {
    const results = throughput.get(config.name);
    return [
      config.name,
      `${fmt(median(results.map((r) => r.rate)), 1)}`,
      results.map((r) => fmt(r.rate, 1)).join(' / '),
      `${fmt(median(results.map((r) => r.spanRate)), 1)}`,
      `${fmt(median(results.map((r) => r.runMs)), 0)} ms`,
      `${fmt(median(results.map((r) => r.workerCpuMsPerRun)), 1)}${config.kind === 'pg' ? ` + ${fmt(median(results.map((r) => r.pgCpuMsPerRun)), 1)}` : ''}`,
      results.at(-1).perProcess.join(' / '),
      maxNoise(results),
    ];
  });
  out.push(
    markdownTable(
      [
        'configuration',
        'runs/s from spawn (median)',
        'each rep',
        'runs/s start → finish',
        'run duration (median)',
        'CPU ms per run (worker + PostgreSQL)',
        'runs per process (last rep)',
        'others (cores, max)',
      ],
      rows,
    ),
    '',
    `Every run succeeded exactly once in every measurement (attempt 1, one step attempt). Queuing through the store API ran at ` +
      `${fmt(median([...throughput.values()].flat().map((r) => r.enqueueRate)), 0)} runs/s (median, not part of the figures).`,
    '',
  );
}
if (selected('latency')) {
  out.push(
    `## Trigger-to-start latency: ${options.triggers} runs triggered one at a time over HTTP`,
    '',
    `POST /api/pipelines/${PIPELINE}/runs every ${options.interval} ms on average (uniformly 0.5× to 1.5×), workers idle in between; ` +
      'the wait is started_at − queued_at of each run (millisecond timestamps from GET /api/runs). Three warm-up runs before each measurement are not counted.',
    '',
  );
  const rows = latencyConfigs.map((config) => {
    const results = latency.get(config.name);
    const pooled = results.flatMap((r) => r.waitMs);
    return [
      config.name,
      `${fmt(percentile(pooled, 50), 0)} ms`,
      `${fmt(percentile(pooled, 95), 0)} ms`,
      `**${fmt(percentile(pooled, 99), 0)} ms**`,
      `${fmt(Math.max(...pooled), 0)} ms`,
      results.map((r) => fmt(r.p99, 0)).join(' / '),
      `${fmt(median(results.map((r) => r.totalP50)), 0)} ms`,
      `${fmt(median(results.map((r) => r.postP50)), 1)} / ${fmt(median(results.map((r) => r.postP99)), 1)} ms`,
      maxNoise(results),
    ];
  });
  out.push(
    markdownTable(
      [
        'configuration',
        'p50',
        'p95',
        'p99',
        'max',
        'p99 per rep',
        'queued → finished p50',
        'POST p50 / p99',
        'others (cores, max)',
      ],
      rows,
    ),
    '',
    'Percentiles pool every measured run of all reps.',
    '',
  );
}
if (profile) {
  const { result, summary } = profile;
  const n = options.runs;
  const perRun = (totalMs) => fmt(totalMs / n, 2);
  out.push(
    `## Where a trivial run's time goes: CPU profile of one SQLite worker (--concurrency 1, ${n} runs)`,
    '',
    `With \`node --cpu-prof\` (which slows it down): ${fmt(result.spanRate, 1)} runs/s start → finish; the process used ` +
      `${fmt(result.workerCpuMsPerRun, 1)} ms CPU per run (all threads: JavaScript, DuckDB's threads, SQLite). ` +
      `Its main thread: ${perRun(summary.totalMs)} ms per run profiled (from process start to exit), of which ${perRun(summary.idleMs)} ms idle ` +
      '(waiting for DuckDB, which runs queries on its own threads, and for file-system calls) and ' +
      `${perRun(summary.totalMs - summary.idleMs)} ms busy.`,
    '',
    markdownTable(
      ['main-thread self time by owner', 'ms per run', 'share of busy'],
      summary.self
        .slice(0, 14)
        .map(([key, total]) => [
          key,
          perRun(total),
          `${fmt((100 * total) / (summary.totalMs - summary.idleMs), 1)} %`,
        ]),
    ),
    '',
    markdownTable(
      ['function (inclusive: with what it calls)', 'ms per run'],
      summary.inclusive
        .filter(
          ([key]) => !/node internals$/.test(key) && !key.startsWith('(') && !key.startsWith('(anonymous)'),
        )
        .slice(0, 30)
        .map(([key, total]) => [key, perRun(total)]),
    ),
    '',
  );
}
process.stdout.write(`${out.join('\n')}\n`);
