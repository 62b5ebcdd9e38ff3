// Benchmark 3: engine overhead. A pipeline of 100 trivial `sql` steps, each `SELECT n + 1 AS n FROM`
// the previous one, run through the CLI. Per-step times come from `pipewright show <id> --json`
// (finished_at − started_at of each step: config rendering, the step, DuckDB checkpoint and the
// state-store writes); the whole run is also divided by the step count. A bare DuckDB script doing the
// same CREATE TABLE … AS + CHECKPOINT chain (bench/engine-bare.mjs) runs alternately as the floor.
// Goal (issue 2): ≤ 10 ms per step, median.
//
//   node bench/engine-overhead.mjs [--steps 100] [--reps 3]
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLI,
  WORK_DIR,
  compare,
  duckdbVersion,
  ensureBuilt,
  fmt,
  fmtMiB,
  machineInfo,
  markdownTable,
  median,
  parseOptions,
  percentile,
  query,
  runIdFrom,
  runTimes,
  sqlString,
  summarize,
} from './lib.mjs';

const options = parseOptions(
  { steps: { default: 100, help: 'steps in the chain' } },
  'node bench/engine-overhead.mjs — per-step overhead of the engine on a chain of trivial sql steps',
);
ensureBuilt();
const steps = options.steps;
const name = (index) => `s${String(index).padStart(3, '0')}`;

const work = join(WORK_DIR, 'engine-overhead');
const project = join(work, 'project');
const bareDatabase = join(work, 'bare', 'chain.duckdb');
rmSync(project, { recursive: true, force: true });
mkdirSync(join(project, 'pipelines'), { recursive: true });
mkdirSync(join(work, 'bare'), { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  `# Written by bench/engine-overhead.mjs
name: bench-engine
state: .pipewright/state.db
workspace: { keep: always } # kept so the benchmark can check the last table; deleted after each check
duckdb: { memory_limit: 1GB }
`,
);
const stepYaml = Array.from({ length: steps }, (_, offset) => {
  const index = offset + 1;
  const select = index === 1 ? 'SELECT 1 AS n' : `SELECT n + 1 AS n FROM ${name(index - 1)}`;
  return `  - id: ${name(index)}\n    uses: sql\n    with: { query: "${select}" }`;
}).join('\n');
writeFileSync(
  join(project, 'pipelines', 'chain.yaml'),
  `# Written by bench/engine-overhead.mjs
id: chain
description: ${steps} trivial sql steps, each reading the previous one
steps:
${stepYaml}
`,
);

async function lastValue(databaseFile) {
  await query(`ATTACH ${sqlString(databaseFile)} AS checked (READ_ONLY)`);
  try {
    const [row] = await query(`SELECT n FROM checked.${name(steps)}`);
    return Number(row?.n);
  } finally {
    await query('DETACH checked');
  }
}

const ways = [
  {
    name: 'Pipewright (CLI run)',
    spec: () => ({ node: true, args: [CLI, '--project', project, 'run', 'chain', '--json'] }),
    check: async (result) => {
      const { shown, span } = runTimes(project, runIdFrom(result.stdout));
      const succeeded = shown.steps.filter((step) => step.status === 'succeeded');
      if (succeeded.length !== steps) throw new Error(`${succeeded.length} of ${steps} steps succeeded`);
      const databases = readdirSync(shown.workspace, { recursive: true }).filter((file) =>
        file.endsWith('.duckdb'),
      );
      const value = databases.length === 1 ? await lastValue(join(shown.workspace, databases[0])) : NaN;
      if (value !== steps) throw new Error(`the last step holds ${value}, expected ${steps}`);
      rmSync(shown.workspace, { recursive: true, force: true });
      return {
        stepMs: succeeded.map((step) => Date.parse(step.finished_at) - Date.parse(step.started_at)),
        runMs: span * 1000,
      };
    },
  },
  {
    name: 'bare DuckDB chain',
    spec: () => ({
      node: true,
      args: [join(import.meta.dirname, 'engine-bare.mjs'), bareDatabase, String(steps)],
    }),
    check: (result) => {
      const output = JSON.parse(result.stdout);
      if (output.last !== steps) throw new Error(`the last table holds ${output.last}, expected ${steps}`);
      return { stepMs: output.durations, runMs: output.runMs };
    },
  },
];

const machine = machineInfo();
const results = await compare(ways, options);

const pipewright = summarize(results.get('Pipewright (CLI run)'));
const bare = summarize(results.get('bare DuckDB chain'));
const pooled = (way, name) => results.get(way).flatMap((m) => m.extra[name]);
const pipewrightSteps = pooled('Pipewright (CLI run)', 'stepMs');
const pipewrightRuns = pooled('Pipewright (CLI run)', 'runMs');
const bareSteps = pooled('bare DuckDB chain', 'stepMs');
const bareRuns = pooled('bare DuckDB chain', 'runMs');
const ms = (value) => `${fmt(value, 1)} ms`;
const rows = [
  [
    'Pipewright (CLI run)',
    ms(median(pipewrightSteps)),
    ms(percentile(pipewrightSteps, 95)),
    ms(median(pipewrightRuns) / steps),
    ms((pipewright.median * 1000) / steps),
    `${fmt(pipewright.median)} s`,
    fmtMiB(pipewright.peakRssMiB),
    `${fmt(pipewright.maxNoise)}${pipewright.reruns > 0 ? ` (${pipewright.reruns} re-run)` : ''}`,
  ],
  [
    'bare DuckDB chain',
    ms(median(bareSteps)),
    ms(percentile(bareSteps, 95)),
    ms(median(bareRuns) / steps),
    ms((bare.median * 1000) / steps),
    `${fmt(bare.median)} s`,
    fmtMiB(bare.peakRssMiB),
    `${fmt(bare.maxNoise)}${bare.reruns > 0 ? ` (${bare.reruns} re-run)` : ''}`,
  ],
];
const stepMedian = median(pipewrightSteps);
const lines = [
  `## Engine overhead: a chain of ${steps} trivial sql steps`,
  '',
  markdownTable(
    [
      'way',
      'per-step median',
      'per-step p95',
      'run span / steps',
      'process wall / steps',
      'median process wall',
      'peak RSS',
      'others (cores, max)',
    ],
    rows,
  ),
  '',
  `- goal ≤ 10 ms per step (median): ${ms(stepMedian)} — ${stepMedian <= 10 ? 'met' : `missed by ${ms(stepMedian - 10)}`}`,
  `- per-step figures pool ${pipewrightSteps.length} Pipewright steps (show --json, millisecond timestamps) and ${bareSteps.length} bare steps (timed in-process); ` +
    `run span = the run's started_at → finished_at; process wall = spawn → exit of the CLI, including Node start-up`,
  `- ${options.reps} runs each, alternating; all ${steps} steps succeeded and the last table holds ${steps} in every run`,
  `- machine: ${machine.cpu}, ${machine.memory}, Node ${machine.node}, DuckDB ${await duckdbVersion()} (${machine.duckdb}), commit ${machine.commit}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
