// Benchmark 1: NDJSON → Parquet (zstd). A Pipewright pipeline (files.read → files.write) run through
// the CLI against a bare @duckdb/node-api script (bench/ndjson-bare.mjs), alternately, both with a
// 1 GB DuckDB memory limit. Goal (issue 2): Pipewright ≤ 1.15× the bare script's wall time, peak RSS ≤ 1 GB.
//
//   node bench/ndjson-to-parquet.mjs [--rows 1000000] [--reps 3]
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
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
  fmt,
  fmtMiB,
  machineInfo,
  markdownTable,
  note,
  parseOptions,
  query,
  median,
  runIdFrom,
  runTimes,
  sqlString,
  summarize,
  warmPageCache,
} from './lib.mjs';

const options = parseOptions(
  {
    rows: { default: 1_000_000, help: 'documents to generate' },
    'generate-only': { default: false, help: 'write the input data to bench/.data and stop' },
    'memory-limit': { default: '1GB', help: 'DuckDB memory_limit for both ways' },
    materialize: {
      default: 'table',
      help: 'files.read materialize: table (copy into the run database) or view',
    },
  },
  'node bench/ndjson-to-parquet.mjs — NDJSON → Parquet: Pipewright pipeline vs. a bare DuckDB script',
);
ensureBuilt();

// ---------------------------------------------------------------------------------------------------
// Data: sensor/event documents as a gateway would export them, one JSON object per line.

const GENERATOR_VERSION = 1;

/** A small, fast, seeded PRNG (mulberry32), so every machine benchmarks the same bytes. */
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

async function generate(path, rows) {
  const next = random(20240501);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const models = ['TH-220', 'TH-220', 'TH-310', 'AQ-45', 'AQ-45', 'CO2-8'];
  const firmware = ['3.1.4', '3.1.4', '3.2.0', '2.9.7'];
  const tagPool = ['hvac', 'floor-1', 'floor-2', 'floor-3', 'cold-room', 'office', 'warehouse', 'lab'];
  const devices = Array.from({ length: 2000 }, (_, index) => ({
    id: `th-${String(index).padStart(4, '0')}`,
    model: pick(models),
    fw: pick(firmware),
    site: `plant-${String(1 + (index % 12)).padStart(2, '0')}`,
    base: 18 + next() * 8,
  }));
  const start = Date.parse('2024-05-01T00:00:00Z');
  const stream = createWriteStream(path);
  let batch = [];
  for (let index = 0; index < rows; index += 1) {
    const device = devices[Math.floor(next() * devices.length)];
    const at = start + index * 2500 + Math.floor(next() * 1000);
    const temp = device.base + Math.sin((at / 3.6e6 / 24) * 2 * Math.PI) * 3 + (next() - 0.5);
    const tags = [pick(tagPool)];
    if (next() < 0.5) tags.push(pick(tagPool));
    const alarms = [];
    if (temp > 27.5) {
      alarms.push({
        code: 'TEMP_HIGH',
        severity: temp > 29 ? 2 : 1,
        since: new Date(at - 60_000).toISOString(),
      });
    }
    const battery = next() < 0.02 ? null : Math.round((2.7 + next() * 0.6) * 100) / 100;
    const document = {
      id: `ev-${String(index).padStart(8, '0')}`,
      type: next() < 0.97 ? 'reading' : 'heartbeat',
      ts: new Date(at).toISOString(),
      device: { id: device.id, model: device.model, fw: device.fw },
      site: device.site,
      metrics: {
        temp_c: Math.round(temp * 100) / 100,
        rh_pct: Math.round((35 + next() * 30) * 10) / 10,
        battery_v: battery,
      },
      tags,
      alarms,
    };
    batch.push(JSON.stringify(document));
    if (batch.length === 10_000 || index === rows - 1) {
      if (!stream.write(`${batch.join('\n')}\n`)) await once(stream, 'drain');
      batch = [];
    }
  }
  stream.end();
  await once(stream, 'finish');
}

mkdirSync(DATA_DIR, { recursive: true });
const input = join(DATA_DIR, `events-${options.rows}.ndjson`);
const metaPath = `${input}.meta.json`;
const wanted = { generator: GENERATOR_VERSION, rows: options.rows };
const meta = existsSync(metaPath) ? readFileSync(metaPath, 'utf8') : '';
if (options.regen || !existsSync(input) || meta !== JSON.stringify(wanted)) {
  note(`generating ${options.rows} documents into ${input} …`);
  rmSync(metaPath, { force: true });
  await generate(input, options.rows);
  writeFileSync(metaPath, JSON.stringify(wanted));
}
const inputBytes = statSync(input).size;
note(`input: ${input} (${(inputBytes / 1e6).toFixed(0)} MB, ${options.rows} documents)`);
if (options['generate-only']) process.exit(0);

// ---------------------------------------------------------------------------------------------------
// The two ways

const work = join(WORK_DIR, 'ndjson-to-parquet');
const project = join(work, 'project');
const bareDir = join(work, 'bare');
const pipewrightOut = join(project, 'out', 'events.parquet');
const bareOut = join(bareDir, 'events.parquet');
mkdirSync(join(project, 'pipelines'), { recursive: true });
mkdirSync(bareDir, { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  `# Written by bench/ndjson-to-parquet.mjs
name: bench-ndjson
state: .pipewright/state.db
workspace: { keep: never }
duckdb: { memory_limit: ${options['memory-limit']} }
`,
);
writeFileSync(
  join(project, 'pipelines', 'ndjson-to-parquet.yaml'),
  `# Written by bench/ndjson-to-parquet.mjs
id: ndjson-to-parquet
description: Sensor event documents (NDJSON) to one Parquet file
steps:
  - id: events
    uses: files.read
    with: { path: ${JSON.stringify(input)}, format: ndjson, materialize: ${options.materialize} }
  - id: export
    uses: files.write
    with: { input: events, path: out/events.parquet, compression: zstd }
`,
);

async function parquetRows(path) {
  const [row] = await query(`SELECT count(*) AS n FROM read_parquet(${sqlString(path)})`);
  return Number(row.n);
}

const ways = [
  {
    name: 'Pipewright (CLI run)',
    prepare: () => rmSync(pipewrightOut, { force: true }),
    spec: () => ({ node: true, args: [CLI, '--project', project, 'run', 'ndjson-to-parquet', '--json'] }),
    check: async (result) => {
      const times = runTimes(project, runIdFrom(result.stdout));
      const { events, export: write } = times.steps;
      return {
        rows: await parquetRows(pipewrightOut),
        events,
        write,
        outside: result.seconds - events - write,
      };
    },
  },
  {
    name: 'bare DuckDB script',
    prepare: () => {
      rmSync(bareOut, { force: true });
      rmSync(join(bareDir, 'spill'), { recursive: true, force: true });
    },
    spec: () => ({
      node: true,
      args: [
        join(import.meta.dirname, 'ndjson-bare.mjs'),
        input,
        bareOut,
        join(bareDir, 'spill'),
        options['memory-limit'],
      ],
    }),
    check: async () => ({ rows: await parquetRows(bareOut) }),
  },
];

await warmPageCache(input);
const machine = machineInfo();
const results = await compare(ways, options);

// ---------------------------------------------------------------------------------------------------
// Checks and report

const rowCounts = [...results.values()].flatMap((measurements) => measurements.map((m) => m.extra.rows));
const sameRows = rowCounts.every((count) => count === options.rows);
const schemaOf = async (path) =>
  (await query(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`))
    .map((row) => `${row.column_name} ${row.column_type}`)
    .join(', ');
const sameSchema = (await schemaOf(pipewrightOut)) === (await schemaOf(bareOut));
const pipewright = summarize(results.get('Pipewright (CLI run)'));
const part = (name) => fmt(median(results.get('Pipewright (CLI run)').map((m) => m.extra[name])));
const bare = summarize(results.get('bare DuckDB script'));
const ratio = pipewright.median / bare.median;
const outBytes = (path) => `${(statSync(path).size / 1e6).toFixed(0)} MB`;

const lines = [
  `## NDJSON → Parquet (zstd), ${options.rows.toLocaleString('en')} documents, ${(inputBytes / 1e6).toFixed(0)} MB`,
  '',
  markdownTable(COMPARISON_HEADERS, comparisonRows(results, 'bare DuckDB script')),
  '',
  `- rows written: ${rowCounts.join(', ')} — ${sameRows ? 'every run wrote all rows' : 'ROW COUNTS DIFFER'}; ` +
    `Parquet schemas ${sameSchema ? 'identical' : 'DIFFER'}; output ${outBytes(pipewrightOut)} (Pipewright) / ${outBytes(bareOut)} (bare)`,
  `- goal ≤ 1.15× wall time: ${fmt(ratio)}× — ${ratio <= 1.15 ? 'met' : `missed by ${fmt((ratio / 1.15 - 1) * 100, 0)} %`}`,
  `- goal peak RSS ≤ 1 GB: ${fmtMiB(pipewright.peakRssMiB)} — ${pipewright.peakRssMiB !== undefined && pipewright.peakRssMiB * 2 ** 20 <= 1e9 ? 'met' : 'missed'}` +
    ` (bare script ${fmtMiB(bare.peakRssMiB)})`,
  `- where Pipewright's time goes (median s): files.read step ${part('events')} ` +
    `(the documents are materialised as a table in the run's DuckDB file), files.write step ${part('write')}, ` +
    `outside the steps ${part('outside')} (CLI start-up, validation, state store, run set-up and clean-up)`,
  `- memory_limit ${options['memory-limit']} for both; ${options.reps} runs each, alternating; peak RSS = max getrusage maxRSS over the runs`,
  `- machine: ${machine.cpu}, ${machine.memory}, Node ${machine.node}, DuckDB ${await duckdbVersion()} (${machine.duckdb}), commit ${machine.commit}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (!sameRows || !sameSchema) process.exitCode = 1;
