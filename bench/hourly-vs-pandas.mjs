// Benchmark 2: 10 million 15-minute probe readings (CSV) → hourly average per probe. A Pipewright
// pipeline (files.read with column types → sql → files.write Parquet) run through the CLI against a
// pandas script (bench/hourly_pandas.py), alternately. Debian's pandas has no pyarrow, so pandas writes
// its result as CSV. Goal (issue 2): Pipewright ≥ 5× faster than pandas.
//
//   node bench/hourly-vs-pandas.mjs [--rows 10000000] [--probes 1000] [--reps 3]
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  CLI,
  COMPARISON_HEADERS,
  DATA_DIR,
  WORK_DIR,
  compare,
  comparisonRows,
  duckdbVersion,
  ensureBuilt,
  fail,
  fmt,
  machineInfo,
  markdownTable,
  median,
  note,
  parseOptions,
  query,
  runIdFrom,
  runTimes,
  sqlString,
  summarize,
  warmPageCache,
} from './lib.mjs';

const options = parseOptions(
  {
    rows: { default: 10_000_000, help: 'readings to generate (rounded down to a multiple of --probes)' },
    probes: { default: 1000, help: 'number of probes; each reports every 15 minutes' },
    python: { default: '/usr/bin/python3', help: "the Python that has Debian's python3-pandas" },
    'generate-only': { default: false, help: 'write the input data to bench/.data and stop' },
    materialize: {
      default: 'table',
      help: 'files.read materialize: table (copy into the run database) or view',
    },
    floor: {
      default: true,
      help: 'also run the job as one bare DuckDB query (bench/hourly-bare.mjs); --floor=false to skip',
    },
  },
  'node bench/hourly-vs-pandas.mjs — 15-minute readings → hourly averages: Pipewright vs. pandas',
);
ensureBuilt();

// ---------------------------------------------------------------------------------------------------
// pandas: Debian's package, installed when missing.

function pandasVersion() {
  const probe = spawnSync(
    options.python,
    ['-c', 'import pandas, numpy; print(pandas.__version__, numpy.__version__)'],
    {
      encoding: 'utf8',
    },
  );
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

let versions = pandasVersion();
if (versions === undefined) {
  note("pandas is missing: installing Debian's python3-pandas (apt-get install -y python3-pandas) …");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', 'python3-pandas'], { stdio: 'inherit', env });
  if (install().status !== 0) {
    note('apt-get install failed; running apt-get update first and trying again …');
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (install().status !== 0)
      fail('could not install python3-pandas (run as root, or install it yourself)');
  }
  versions = pandasVersion();
  if (versions === undefined) fail(`${options.python} still cannot import pandas; pass --python <path>`);
}
const [pandasRelease, numpyRelease] = versions.split(' ');

// ---------------------------------------------------------------------------------------------------
// Data: `ts,probe,temp_c`, every probe every 15 minutes, as a logger's export sorted by time.

const GENERATOR_VERSION = 1;
const probes = options.probes;
const intervals = Math.floor(options.rows / probes);
const rows = intervals * probes;

function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function generate(path) {
  const next = random(15);
  const names = Array.from({ length: probes }, (_, index) => `probe-${String(index + 1).padStart(4, '0')}`);
  const bases = names.map(() => 15 + next() * 15);
  const start = Date.parse('2024-01-01T00:00:00Z');
  const stream = createWriteStream(path);
  stream.write('ts,probe,temp_c\n');
  for (let interval = 0; interval < intervals; interval += 1) {
    const at = start + interval * 900_000;
    const ts = new Date(at).toISOString().slice(0, 19).replace('T', ' ');
    const diurnal = Math.sin((((at / 3.6e6) % 24) / 24) * 2 * Math.PI) * 4;
    let chunk = '';
    for (let probe = 0; probe < probes; probe += 1) {
      const temp = bases[probe] + diurnal + (next() - 0.5) * 2;
      chunk += `${ts},${names[probe]},${temp.toFixed(2)}\n`;
    }
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}

mkdirSync(DATA_DIR, { recursive: true });
const input = join(DATA_DIR, `readings-${rows}-${probes}.csv`);
const metaPath = `${input}.meta.json`;
const wanted = JSON.stringify({ generator: GENERATOR_VERSION, rows, probes });
if (
  options.regen ||
  !existsSync(input) ||
  (existsSync(metaPath) ? readFileSync(metaPath, 'utf8') : '') !== wanted
) {
  note(`generating ${rows} readings (${probes} probes × ${intervals} quarter-hours) into ${input} …`);
  rmSync(metaPath, { force: true });
  await generate(input);
  writeFileSync(metaPath, wanted);
}
const inputBytes = statSync(input).size;
note(`input: ${input} (${(inputBytes / 1e6).toFixed(0)} MB, ${rows} rows)`);
if (options['generate-only']) process.exit(0);

// ---------------------------------------------------------------------------------------------------
// The two ways

const work = join(WORK_DIR, 'hourly-vs-pandas');
const project = join(work, 'project');
const pandasDir = join(work, 'pandas');
const pipewrightOut = join(project, 'out', 'hourly.parquet');
const pandasOut = join(pandasDir, 'hourly.csv');
mkdirSync(join(project, 'pipelines'), { recursive: true });
mkdirSync(pandasDir, { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  `# Written by bench/hourly-vs-pandas.mjs
name: bench-hourly
state: .pipewright/state.db
workspace: { keep: never }
duckdb: { memory_limit: 1GB }
`,
);
writeFileSync(
  join(project, 'pipelines', 'hourly.yaml'),
  `# Written by bench/hourly-vs-pandas.mjs
id: hourly
description: 15-minute probe readings to hourly averages per probe
steps:
  - id: readings
    uses: files.read
    with:
      path: ${JSON.stringify(input)}
      materialize: ${options.materialize}
      columns: { ts: TIMESTAMP, probe: VARCHAR, temp_c: DOUBLE }
  - id: hourly
    uses: sql
    with:
      query: |
        SELECT date_trunc('hour', ts) AS hour, probe, avg(temp_c) AS temp_c
        FROM readings GROUP BY ALL ORDER BY ALL
  - id: export
    uses: files.write
    with: { input: hourly, path: out/hourly.parquet }
`,
);

const bareDir = join(work, 'bare');
const bareOut = join(bareDir, 'hourly.parquet');
mkdirSync(bareDir, { recursive: true });
const PIPEWRIGHT = 'Pipewright (CLI run, Parquet out)';
const PANDAS = 'pandas (CSV out)';
const BARE = 'bare DuckDB, one query (Parquet out)';

const ways = [
  {
    name: PIPEWRIGHT,
    prepare: () => rmSync(pipewrightOut, { force: true }),
    spec: () => ({ node: true, args: [CLI, '--project', project, 'run', 'hourly', '--json'] }),
    check: (result) => {
      const { steps } = runTimes(project, runIdFrom(result.stdout));
      const inSteps = steps.readings + steps.hourly + steps.export;
      return { ...steps, outside: result.seconds - inSteps };
    },
  },
  {
    name: PANDAS,
    prepare: () => rmSync(pandasOut, { force: true }),
    spec: () => ({
      command: options.python,
      args: [join(import.meta.dirname, 'hourly_pandas.py'), input, pandasOut],
    }),
    check: (result) => JSON.parse(result.stdout.trim().split('\n').pop()),
  },
];
if (options.floor) {
  ways.push({
    name: BARE,
    prepare: () => {
      rmSync(bareOut, { force: true });
      rmSync(join(bareDir, 'spill'), { recursive: true, force: true });
    },
    spec: () => ({
      node: true,
      args: [join(import.meta.dirname, 'hourly-bare.mjs'), input, bareOut, join(bareDir, 'spill')],
    }),
    check: (result) => JSON.parse(result.stdout),
  });
}

await warmPageCache(input);
const machine = machineInfo();
const results = await compare(ways, options);

// ---------------------------------------------------------------------------------------------------
// Checks: same groups, same averages (each within 1e-6), same checksum (Kahan sums of the averages).

const [agreement] = await query(`
  WITH p AS (SELECT hour, probe, temp_c FROM read_parquet(${sqlString(pipewrightOut)})),
       q AS (SELECT hour, probe, temp_c FROM read_csv(${sqlString(pandasOut)}, header = true, auto_detect = false,
               columns = {'hour': 'TIMESTAMP', 'probe': 'VARCHAR', 'temp_c': 'DOUBLE'}))
  SELECT (SELECT count(*) FROM p) AS rows_pipewright,
         (SELECT count(*) FROM q) AS rows_pandas,
         (SELECT count(*) FROM p JOIN q USING (hour, probe)) AS matched,
         (SELECT max(abs(p.temp_c - q.temp_c)) FROM p JOIN q USING (hour, probe)) AS max_difference,
         (SELECT fsum(temp_c) FROM p) AS checksum_pipewright,
         (SELECT fsum(temp_c) FROM q) AS checksum_pandas`);
const expectedRows = (intervals / 4) * probes;
let floorAgrees = true;
if (options.floor) {
  const [floor] = await query(`
    SELECT count(*) AS n, fsum(temp_c) AS checksum FROM read_parquet(${sqlString(bareOut)})`);
  floorAgrees =
    Number(floor.n) === Number(agreement.rows_pipewright) &&
    Math.abs(floor.checksum - agreement.checksum_pipewright) <= 1e-6;
}
const checksumDifference = Math.abs(agreement.checksum_pipewright - agreement.checksum_pandas);
const agree =
  Number(agreement.rows_pipewright) === Number(agreement.rows_pandas) &&
  Number(agreement.matched) === Number(agreement.rows_pandas) &&
  agreement.max_difference <= 1e-6 &&
  checksumDifference <= 1e-6;

const pipewright = summarize(results.get(PIPEWRIGHT));
const pandas = summarize(results.get(PANDAS));
const speedup = pandas.median / pipewright.median;
const extra = (way, name) => fmt(median(results.get(way).map((m) => m.extra[name])), 2);

const lines = [
  `## Hourly averages: ${rows.toLocaleString('en')} readings (${probes} probes), ${(inputBytes / 1e6).toFixed(0)} MB CSV`,
  '',
  markdownTable(COMPARISON_HEADERS, comparisonRows(results, PANDAS)),
  '',
  `- results agree: ${agree ? 'yes' : 'NO'} — ${Number(agreement.rows_pipewright)} hourly rows each (expected ${expectedRows}), ` +
    `${Number(agreement.matched)} matched on (hour, probe), largest difference of an average ${agreement.max_difference?.toExponential(1)}, ` +
    `checksums ${agreement.checksum_pipewright.toFixed(6)} / ${agreement.checksum_pandas.toFixed(6)}`,
  `- goal ≥ 5× faster than pandas: ${fmt(speedup)}× — ${speedup >= 5 ? 'met' : `missed (${fmt((1 - speedup / 5) * 100, 0)} % short)`}`,
  `- Pipewright writes Parquet (zstd); pandas writes CSV, because Debian's python3-pandas has no pyarrow and cannot write Parquet`,
  `- Pipewright (median s): files.read step ${extra(PIPEWRIGHT, 'readings')} (CSV → table in the run's DuckDB file), ` +
    `sql step ${extra(PIPEWRIGHT, 'hourly')}, files.write step ${extra(PIPEWRIGHT, 'export')}, ` +
    `outside the steps ${extra(PIPEWRIGHT, 'outside')} (CLI start-up, validation, state store, run set-up and clean-up)`,
  `- pandas (median s): import ${extra(PANDAS, 'import_s')}, read_csv ${extra(PANDAS, 'read_s')}, ` +
    `groupby ${extra(PANDAS, 'group_s')}, to_csv ${extra(PANDAS, 'write_s')}`,
  ...(options.floor
    ? [
        `- floor: the same job as one DuckDB COPY statement (bench/hourly-bare.mjs) is ` +
          `${fmt(pandas.median / summarize(results.get(BARE)).median)}× faster than pandas; ` +
          `its result ${floorAgrees ? 'agrees' : 'DIFFERS'} (row count and checksum)`,
      ]
    : []),
  `- ${options.reps} runs each, alternating; peak RSS = max getrusage maxRSS over the runs; DuckDB memory_limit 1GB`,
  `- machine: ${machine.cpu}, ${machine.memory}, Node ${machine.node}, DuckDB ${await duckdbVersion()} (${machine.duckdb}), ` +
    `pandas ${pandasRelease} / numpy ${numpyRelease} (Debian, ${options.python}), commit ${machine.commit}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (!agree || !floorAgrees) process.exitCode = 1;
