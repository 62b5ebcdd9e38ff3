// Benchmark: loading a CSV dataset into PostgreSQL. A Pipewright pipeline (files.read → sql.load,
// mode create) run through the CLI, against `psql \copy … FROM` of the same CSV into an identical
// empty table and a row-by-row loader (bench/pg-insert-rows.mjs: one parameterised INSERT per row in
// one transaction, as a psycopg2 script does it), alternately in one run. The row-by-row loader is
// timed on a prefix of the rows (`--insert-rows`): at its pace the whole file would take very long;
// throughputs (rows/s) are compared. Goals (issue "Connectors I"): Pipewright ≥ 0.7× the throughput
// of psql \copy, and ≥ 10× the row-by-row loader.
//
//   node bench/pg-load.mjs [--rows 5000000] [--insert-rows 100000] [--reps 3]
//
// Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; another: BENCH_PG_URL) and psql. Uses a
// database pw_bench_pg_load, created at the start and dropped at the end.
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
  DATA_DIR,
  WORK_DIR,
  compare,
  ensureBuilt,
  fail,
  fmt,
  fmtMiB,
  machineInfo,
  markdownTable,
  median,
  note,
  parseOptions,
  runIdFrom,
  runTimes,
  summarize,
  warmPageCache,
} from './lib.mjs';
import { createPgDatabase, dropPgDatabase, PG_ADMIN_URL } from './service-lib.mjs';
import { orderColumns, pgQuery, pgServerVersion, postmasterPid, randomSource } from './pg-bench-lib.mjs';

const options = parseOptions(
  {
    rows: { default: 5_000_000, help: 'rows of the CSV file (10 columns)' },
    'insert-rows': { default: 100_000, help: 'rows the row-by-row INSERT loader is timed on (a prefix)' },
    materialize: {
      default: 'table',
      help: 'files.read materialize: table (the default: copy into the run database) or view',
    },
    'generate-only': { default: false, help: 'write the CSV to bench/.data and stop' },
  },
  'node bench/pg-load.mjs — CSV → PostgreSQL: Pipewright pipeline vs. psql \\copy vs. row-by-row INSERTs',
);
ensureBuilt();
if (options['insert-rows'] > options.rows) fail('--insert-rows cannot exceed --rows');

// ---------------------------------------------------------------------------------------------------
// Data: orders, 10 columns — integers, decimals, text (some quoted), timestamps, a boolean, NULLs.

const GENERATOR_VERSION = 1;

async function generate(path, rows) {
  const next = randomSource(20251123);
  const products = [
    'Widget',
    'Gadget',
    'Sprocket',
    '"Deluxe" widget',
    'Widget, large',
    'Bracket',
    'Flange',
    'Gasket',
    'Valve',
    'Pump housing',
    'Bearing 6204',
    'Zoë-pack',
  ];
  const statuses = ['paid', 'paid', 'paid', 'sent', 'sent', 'cancelled', 'refunded'];
  const start = Date.parse('2024-01-01T00:00:00Z');
  const csvText = (text) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
  const timestamp = (ms) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  const stream = createWriteStream(path);
  stream.write(`${orderColumns.map((column) => column.name).join(',')}\n`);
  let batch = [];
  for (let index = 1; index <= rows; index += 1) {
    const quantity = 1 + Math.floor(next() * 20);
    const cents = 99 + Math.floor(next() * 99_900);
    const created = start + index * 6000 + Math.floor(next() * 5000);
    const shipped = next() < 0.2 ? '' : timestamp(created + 3_600_000 * (1 + Math.floor(next() * 96)));
    const gift = next() < 0.01 ? '' : next() < 0.1 ? 'true' : 'false';
    batch.push(
      [
        index,
        1 + Math.floor(next() * 200_000),
        csvText(products[Math.floor(next() * products.length)]),
        quantity,
        (cents / 100).toFixed(2),
        ((cents * quantity) / 100).toFixed(2),
        statuses[Math.floor(next() * statuses.length)],
        timestamp(created),
        shipped,
        gift,
      ].join(','),
    );
    if (batch.length === 10_000 || index === rows) {
      if (!stream.write(`${batch.join('\n')}\n`)) await once(stream, 'drain');
      batch = [];
    }
  }
  stream.end();
  await once(stream, 'finish');
}

/** The CSV with `rows` rows, generated once into bench/.data and reused. */
async function csvFile(rows) {
  mkdirSync(DATA_DIR, { recursive: true });
  const path = join(DATA_DIR, `orders-${rows}.csv`);
  const metaPath = `${path}.meta.json`;
  const wanted = JSON.stringify({ generator: GENERATOR_VERSION, rows });
  if (
    options.regen ||
    !existsSync(path) ||
    !existsSync(metaPath) ||
    readFileSync(metaPath, 'utf8') !== wanted
  ) {
    note(`generating ${rows} rows into ${path} …`);
    rmSync(metaPath, { force: true });
    await generate(path, rows);
    writeFileSync(metaPath, wanted);
  }
  return path;
}

const input = await csvFile(options.rows);
// The same generator, so the prefix file is the first rows of the big one.
const prefix = await csvFile(options['insert-rows']);
const inputBytes = statSync(input).size;
note(`input: ${input} (${(inputBytes / 1e6).toFixed(0)} MB, ${options.rows} rows)`);
if (options['generate-only']) process.exit(0);

// ---------------------------------------------------------------------------------------------------
// The database, the project and the three ways

const DATABASE = 'pw_bench_pg_load';
const url = await createPgDatabase(DATABASE);
const pgPid = await postmasterPid();
const psqlTarget = new URL(PG_ADMIN_URL);
const ddl = (table) =>
  `CREATE TABLE ${table} (${orderColumns.map((column) => `${column.name} ${column.pg}`).join(', ')})`;
const recreate = async (table, create = true) => {
  await pgQuery(url, `DROP TABLE IF EXISTS ${table}`);
  if (create) await pgQuery(url, ddl(table));
};
/** Row count and a fingerprint of the values (sums and counts over every column). */
const fingerprint = async (table) => {
  const [row] = await pgQuery(
    url,
    `SELECT count(*)::text AS rows, sum(id)::text AS ids, sum(customer_id)::text AS customers,
            sum(length(product))::text AS products, sum(quantity)::text AS quantities,
            sum(unit_price)::text AS prices, sum(amount)::text AS amounts, count(DISTINCT status)::text AS statuses,
            sum(extract(epoch FROM created_at))::text AS created, count(shipped_at)::text AS shipped,
            count(*) FILTER (WHERE is_gift)::text AS gifts, count(is_gift)::text AS gift_known
       FROM ${table}`,
  );
  return row;
};
const columnTypes = async (table) =>
  (
    await pgQuery(
      url,
      `SELECT string_agg(column_name || ' ' || data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', ''), ', ' ORDER BY ordinal_position) AS columns
         FROM information_schema.columns WHERE table_name = $1`,
      [table],
    )
  )[0]?.columns;

const work = join(WORK_DIR, 'pg-load');
const project = join(work, 'project');
mkdirSync(join(project, 'pipelines'), { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  `# Written by bench/pg-load.mjs
name: bench-pg-load
state: .pipewright/state.db
workspace: { keep: never }
connections:
  warehouse: { type: postgres, url: "${url}" }
`,
);
writeFileSync(
  join(project, 'pipelines', 'pg-load.yaml'),
  `# Written by bench/pg-load.mjs
id: pg-load
description: Orders (CSV) into a new PostgreSQL table
steps:
  - id: orders
    uses: files.read
    with:
      path: ${JSON.stringify(input)}
      format: csv
      materialize: ${options.materialize}
      columns: { ${orderColumns.map((column) => `${column.name}: "${column.duck}"`).join(', ')} }
  - id: load
    uses: sql.load
    with: { connection: warehouse, input: orders, table: orders_pw, mode: create }
`,
);

const psql = (file, table) => [
  'psql',
  ...[
    '-h',
    psqlTarget.hostname,
    '-p',
    psqlTarget.port || '5432',
    '-U',
    decodeURIComponent(psqlTarget.username),
  ],
  ...['-d', DATABASE, '-v', 'ON_ERROR_STOP=1', '-q', '-c'],
  `\\copy ${table} FROM '${file.replace(/'/g, "''")}' CSV HEADER`,
];

const PIPEWRIGHT = 'Pipewright (CLI run)';
const PSQL = 'psql \\copy';
const INSERTS = 'row-by-row INSERT (pg)';
const ways = [
  {
    name: PIPEWRIGHT,
    rows: options.rows,
    prepare: () => recreate('orders_pw', false),
    spec: () => ({
      node: true,
      args: [CLI, '--project', project, 'run', 'pg-load', '--json'],
      serverPid: pgPid,
    }),
    check: async (result) => {
      const times = runTimes(project, runIdFrom(result.stdout));
      return {
        fingerprint: await fingerprint('orders_pw'),
        read: times.steps.orders,
        load: times.steps.load,
      };
    },
  },
  {
    name: PSQL,
    rows: options.rows,
    prepare: () => recreate('orders_copy'),
    spec: () => ({
      command: process.execPath,
      args: [join(import.meta.dirname, 'child-usage.mjs'), ...psql(input, 'orders_copy')],
      serverPid: pgPid,
    }),
    check: async () => ({ fingerprint: await fingerprint('orders_copy') }),
  },
  {
    name: INSERTS,
    rows: options['insert-rows'],
    prepare: () => recreate('orders_insert'),
    spec: () => ({
      node: true,
      args: [join(import.meta.dirname, 'pg-insert-rows.mjs'), url, 'orders_insert', prefix],
      serverPid: pgPid,
    }),
    check: async () => ({ fingerprint: await fingerprint('orders_insert') }),
  },
];

await warmPageCache(input);
const machine = machineInfo();
const results = await compare(ways, options);

// ---------------------------------------------------------------------------------------------------
// Checks and report

const fingerprints = (name) => results.get(name).map((m) => JSON.stringify(m.extra.fingerprint));
const full = [...fingerprints(PIPEWRIGHT), ...fingerprints(PSQL)];
const sameFull = full.every((text) => text === full[0]) && JSON.parse(full[0]).rows === String(options.rows);
const prefixRows = fingerprints(INSERTS).every(
  (text) => JSON.parse(text).rows === String(options['insert-rows']),
);
const pwTypes = await columnTypes('orders_pw');
const refTypes = await columnTypes('orders_copy');
const sameTypes = pwTypes === refTypes;
const serverVersion = await pgServerVersion();
await dropPgDatabase(DATABASE);

const rate = (rows, seconds) => rows / seconds;
const pipewright = summarize(results.get(PIPEWRIGHT));
const copy = summarize(results.get(PSQL));
const inserts = summarize(results.get(INSERTS));
const loadStep = median(results.get(PIPEWRIGHT).map((m) => m.extra.load));
const readStep = median(results.get(PIPEWRIGHT).map((m) => m.extra.read));
const pwRate = rate(options.rows, pipewright.median);
const loadRate = rate(options.rows, loadStep);
const copyRate = rate(options.rows, copy.median);
const insertRate = rate(options['insert-rows'], inserts.median);
const serverCpu = (name) => fmt(median(results.get(name).map((m) => m.serverCpuSeconds ?? NaN)), 1);
const rows = [
  [PIPEWRIGHT, options.rows, pipewright, pwRate],
  [PSQL, options.rows, copy, copyRate],
  [INSERTS, options['insert-rows'], inserts, insertRate],
].map(([name, count, summary, perSecond]) => [
  name,
  count.toLocaleString('en'),
  `${fmt(summary.median)} s`,
  summary.all.map((value) => fmt(value)).join(' / '),
  Math.round(perSecond).toLocaleString('en'),
  `${fmt(pwRate / perSecond)}×`,
  fmtMiB(summary.peakRssMiB),
  `${fmt(summary.cpuMedian, 1)} s`,
  `${serverCpu(name)} s`,
  `${fmt(summary.maxNoise)}${summary.reruns > 0 ? ` (${summary.reruns} re-run)` : ''}`,
]);
const duration = (seconds) => (seconds < 120 ? `${fmt(seconds, 0)} s` : `${fmt(seconds / 60, 0)} min`);
const met = (value, goal) => (value >= goal ? 'met' : `missed by ${fmt((1 - value / goal) * 100, 0)} %`);
const lines = [
  `## CSV → PostgreSQL, ${options.rows.toLocaleString('en')} rows × 10 columns, ${(inputBytes / 1e6).toFixed(0)} MB`,
  '',
  markdownTable(
    [
      'way',
      'rows',
      'median wall',
      'each run (s)',
      'rows/s',
      'Pipewright rows/s ÷ this',
      'peak RSS',
      'median CPU',
      'PostgreSQL CPU',
      'others (cores, max)',
    ],
    rows,
  ),
  '',
  `- goal ≥ 0.7× psql \\copy: whole run ${fmt(pwRate / copyRate)}× — ${met(pwRate / copyRate, 0.7)}; ` +
    `the sql.load step alone ${Math.round(loadRate).toLocaleString('en')} rows/s, ${fmt(loadRate / copyRate)}× (the CSV is parsed by the files.read step before it: ${fmt(readStep)} s)`,
  `- goal ≥ 10× row-by-row INSERTs: ${fmt(pwRate / insertRate)}× — ${met(pwRate / insertRate, 10)} ` +
    `(the INSERT loader was timed on the first ${options['insert-rows'].toLocaleString('en')} rows only and is compared by rows/s; at its pace all ${options.rows.toLocaleString('en')} rows would take about ${duration(options.rows / insertRate)})`,
  `- checks: ${sameFull ? `every Pipewright and psql table holds the same ${options.rows.toLocaleString('en')} rows (count and sums over every column equal)` : 'TABLES DIFFER'}; ` +
    `${prefixRows ? 'every INSERT table holds its prefix' : 'INSERT ROW COUNTS WRONG'}; column types ${sameTypes ? `identical (${pwTypes})` : `DIFFER: Pipewright ${pwTypes} / psql ${refTypes}`}`,
  `- Pipewright: files.read (materialize: ${options.materialize}, typed columns) then sql.load mode create (DuckDB writes the rows as CSV, streamed to COPY … FROM STDIN); ` +
    `median steps: files.read ${fmt(readStep)} s, sql.load ${fmt(loadStep)} s; wall includes CLI start-up and the run's set-up`,
  `- PostgreSQL CPU: the server's processes (postmaster tree) during each measurement, counted as the measurement's own, not as others; psql's peak RSS is not measured`,
  `- ${options.reps} runs each, alternating; PostgreSQL ${serverVersion} on ${psqlTarget.host}`,
  `- machine: ${machine.cpu}, ${machine.memory}, load average ${machine.load}, Node ${machine.node}, ${machine.duckdb}, commit ${machine.commit}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (!sameFull || !prefixRows || !sameTypes) process.exitCode = 1;
