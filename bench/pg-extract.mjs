// Benchmark: extracting a PostgreSQL table into Parquet. A Pipewright pipeline (sql.query →
// files.write parquet) run through the CLI, against `psql \copy (SELECT …) TO` a CSV file,
// alternately in one run. Goals (issue "Connectors I"): Pipewright ≥ 0.6× the throughput of psql
// \copy, with peak RSS ≤ 600 MB.
//
//   node bench/pg-extract.mjs [--rows 5000000] [--reps 3]
//
// Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; another: BENCH_PG_URL) and psql. The
// source table (10 columns, made with generate_series) lives in a database pw_bench_pg_extract,
// created at the start and dropped at the end (`--keep-source` keeps it for the next run).
import { createReadStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import {
  CLI,
  WORK_DIR,
  compare,
  ensureBuilt,
  fmt,
  fmtMiB,
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
} from './lib.mjs';
import { createPgDatabase, dropPgDatabase, PG_ADMIN_URL } from './service-lib.mjs';
import { orderColumns, pgQuery, pgServerVersion, postmasterPid } from './pg-bench-lib.mjs';

const options = parseOptions(
  {
    rows: { default: 5_000_000, help: 'rows of the source table (10 columns)' },
    'keep-source': { default: false, help: 'keep the database pw_bench_pg_extract (and reuse it next time)' },
  },
  'node bench/pg-extract.mjs — PostgreSQL → Parquet: Pipewright pipeline vs. psql \\copy to CSV',
);
ensureBuilt();

// ---------------------------------------------------------------------------------------------------
// The source table: the orders of pg-load.mjs, made on the server from generate_series.

const DATABASE = 'pw_bench_pg_extract';
const adminUrl = new URL(PG_ADMIN_URL);
const url = (() => {
  const target = new URL(PG_ADMIN_URL);
  target.pathname = `/${DATABASE}`;
  return target.href;
})();
const SOURCE_VERSION = `orders v1, ${options.rows} rows`;

async function sourceIsThere() {
  try {
    const [row] = await pgQuery(url, "SELECT obj_description('orders'::regclass) AS comment");
    return row?.comment === SOURCE_VERSION;
  } catch {
    return false;
  }
}

if (options.regen || !(await sourceIsThere())) {
  note(`making the source table: ${options.rows} rows in ${DATABASE}.orders …`);
  await createPgDatabase(DATABASE);
  await pgQuery(
    url,
    `CREATE TABLE orders AS
       SELECT g::bigint AS id,
              (1 + (g * 7919) % 200000)::integer AS customer_id,
              (ARRAY['Widget', 'Gadget', 'Sprocket', '"Deluxe" widget', 'Widget, large', 'Bracket', 'Flange',
                     'Gasket', 'Valve', 'Pump housing', 'Bearing 6204', 'Zoë-pack'])[1 + g % 12] AS product,
              (1 + g % 20)::integer AS quantity,
              ((99 + (g * 37) % 99900) / 100.0)::numeric(10,2) AS unit_price,
              ((99 + (g * 37) % 99900) * (1 + g % 20) / 100.0)::numeric(12,2) AS amount,
              (ARRAY['paid', 'paid', 'paid', 'sent', 'sent', 'cancelled', 'refunded'])[1 + g % 7] AS status,
              timestamp '2024-01-01 00:00:00' + g * interval '6 seconds' AS created_at,
              CASE WHEN g % 5 = 0 THEN NULL
                   ELSE timestamp '2024-01-01 00:00:00' + g * interval '6 seconds' + (1 + g % 96) * interval '1 hour' END AS shipped_at,
              CASE WHEN g % 100 = 0 THEN NULL ELSE g % 10 = 3 END AS is_gift
         FROM generate_series(1::bigint, ${options.rows}) AS g`,
  );
  await pgQuery(url, 'VACUUM ANALYZE orders');
  await pgQuery(url, `COMMENT ON TABLE orders IS '${SOURCE_VERSION}'`);
}
const [{ bytes: tableBytes }] = await pgQuery(
  url,
  "SELECT pg_total_relation_size('orders')::bigint AS bytes",
);
const pgPid = await postmasterPid();
const SELECT = `SELECT ${orderColumns.map((column) => column.name).join(', ')} FROM orders`;

// ---------------------------------------------------------------------------------------------------
// The project and the two ways

const work = join(WORK_DIR, 'pg-extract');
const project = join(work, 'project');
const pipewrightOut = join(project, 'out', 'orders.parquet');
const csvOut = join(work, 'orders.csv');
mkdirSync(join(project, 'pipelines'), { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  `# Written by bench/pg-extract.mjs
name: bench-pg-extract
state: .pipewright/state.db
workspace: { keep: never }
connections:
  warehouse: { type: postgres, url: "${url}" }
`,
);
writeFileSync(
  join(project, 'pipelines', 'pg-extract.yaml'),
  `# Written by bench/pg-extract.mjs
id: pg-extract
description: Orders from PostgreSQL into one Parquet file
steps:
  - id: orders
    uses: sql.query
    with: { connection: warehouse, query: "${SELECT}" }
  - id: export
    uses: files.write
    with: { input: orders, path: out/orders.parquet }
`,
);

async function csvRows(path) {
  let lines = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line !== '') lines += 1;
  }
  return lines - 1; // the header
}

async function parquetRows(path) {
  const [row] = await query(`SELECT count(*) AS n FROM read_parquet(${sqlString(path)})`);
  return Number(row.n);
}

const PIPEWRIGHT = 'Pipewright (CLI run)';
const PSQL = 'psql \\copy (SELECT …) TO csv';
const ways = [
  {
    name: PIPEWRIGHT,
    prepare: () => rmSync(pipewrightOut, { force: true }),
    spec: () => ({
      node: true,
      args: [CLI, '--project', project, 'run', 'pg-extract', '--json'],
      serverPid: pgPid,
    }),
    check: async (result) => {
      const times = runTimes(project, runIdFrom(result.stdout));
      return {
        rows: await parquetRows(pipewrightOut),
        query: times.steps.orders,
        write: times.steps.export,
        bytes: statSync(pipewrightOut).size,
      };
    },
  },
  {
    name: PSQL,
    prepare: () => rmSync(csvOut, { force: true }),
    spec: () => ({
      command: process.execPath,
      args: [
        join(import.meta.dirname, 'child-usage.mjs'),
        'psql',
        ...[
          '-h',
          adminUrl.hostname,
          '-p',
          adminUrl.port || '5432',
          '-U',
          decodeURIComponent(adminUrl.username),
        ],
        ...['-d', DATABASE, '-v', 'ON_ERROR_STOP=1', '-q', '-c'],
        `\\copy (${SELECT}) TO '${csvOut.replace(/'/g, "''")}' CSV HEADER`,
      ],
      serverPid: pgPid,
    }),
    check: async () => ({ rows: await csvRows(csvOut), bytes: statSync(csvOut).size }),
  },
];

const machine = machineInfo();
const serverVersion = await pgServerVersion();
const results = await compare(ways, options);

// ---------------------------------------------------------------------------------------------------
// Checks and report

const rowCounts = [...results.values()].flatMap((measurements) => measurements.map((m) => m.extra.rows));
const allRows = rowCounts.every((count) => count === options.rows);
const [sums] = await query(
  `SELECT count(*) AS n, sum(id)::VARCHAR AS ids, sum(amount)::VARCHAR AS amounts, count(shipped_at) AS shipped
     FROM read_parquet(${sqlString(pipewrightOut)})`,
);
const [expected] = await pgQuery(
  url,
  'SELECT count(*)::text AS n, sum(id)::text AS ids, sum(amount)::text AS amounts, count(shipped_at)::text AS shipped FROM orders',
);
const sameValues =
  String(sums.n) === expected.n &&
  sums.ids === expected.ids &&
  sums.amounts === expected.amounts &&
  String(sums.shipped) === expected.shipped;
const [schema] = await query(
  `SELECT string_agg(column_name || ' ' || column_type, ', ') AS columns FROM (DESCRIBE SELECT * FROM read_parquet(${sqlString(pipewrightOut)}))`,
);
if (!options['keep-source']) await dropPgDatabase(DATABASE);
rmSync(csvOut, { force: true });

const pipewright = summarize(results.get(PIPEWRIGHT));
const copy = summarize(results.get(PSQL));
const ratio = copy.median / pipewright.median;
const extra = (name, field) => median(results.get(name).map((m) => m.extra[field]));
const serverCpu = (name) => fmt(median(results.get(name).map((m) => m.serverCpuSeconds ?? NaN)), 1);
const rows = [
  [PIPEWRIGHT, pipewright],
  [PSQL, copy],
].map(([name, summary]) => [
  name,
  `${fmt(summary.median)} s`,
  summary.all.map((value) => fmt(value)).join(' / '),
  Math.round(options.rows / summary.median).toLocaleString('en'),
  `${fmt(copy.median / summary.median)}×`,
  fmtMiB(summary.peakRssMiB),
  `${fmt(summary.cpuMedian, 1)} s`,
  `${serverCpu(name)} s`,
  `${(extra(name, 'bytes') / 1e6).toFixed(0)} MB`,
  `${fmt(summary.maxNoise)}${summary.reruns > 0 ? ` (${summary.reruns} re-run)` : ''}`,
]);
const rssMet = pipewright.peakRssMiB !== undefined && pipewright.peakRssMiB * 2 ** 20 <= 600e6;
const lines = [
  `## PostgreSQL → Parquet, ${options.rows.toLocaleString('en')} rows × 10 columns (table ${(tableBytes / 1e6).toFixed(0)} MB on the server)`,
  '',
  markdownTable(
    [
      'way',
      'median wall',
      'each run (s)',
      'rows/s',
      'throughput ÷ psql',
      'peak RSS',
      'median CPU',
      'PostgreSQL CPU',
      'output',
      'others (cores, max)',
    ],
    rows,
  ),
  '',
  `- goal ≥ 0.6× psql \\copy: ${fmt(ratio)}× — ${ratio >= 0.6 ? 'met' : `missed by ${fmt((1 - ratio / 0.6) * 100, 0)} %`}`,
  `- goal peak RSS ≤ 600 MB: ${fmtMiB(pipewright.peakRssMiB)} — ${rssMet ? 'met' : 'missed'} (getrusage maxRSS of the CLI process, DuckDB's memory included; \`pipewright run\` starts no child processes)`,
  `- checks: ${allRows ? `every output holds all ${options.rows.toLocaleString('en')} rows` : `ROW COUNTS WRONG: ${rowCounts.join(', ')}`}; ` +
    `the Parquet file's count, sums of id and amount and count of shipped_at ${sameValues ? 'equal the table’s' : 'DIFFER from the table’s'}; Parquet columns: ${schema?.columns}`,
  `- Pipewright: sql.query (bulk path: COPY … TO STDOUT as CSV into part files read by DuckDB's read_csv into the run's DuckDB file) then files.write (Parquet, zstd); ` +
    `median steps: sql.query ${fmt(extra(PIPEWRIGHT, 'query'))} s, files.write ${fmt(extra(PIPEWRIGHT, 'write'))} s; wall includes CLI start-up and the run's set-up. psql writes CSV, which needs no encoding or compression`,
  `- PostgreSQL CPU: the server's processes (postmaster tree) during each measurement, counted as the measurement's own; psql's peak RSS is not measured`,
  `- ${options.reps} runs each, alternating; PostgreSQL ${serverVersion} on ${adminUrl.host}`,
  `- machine: ${machine.cpu}, ${machine.memory}, load average ${machine.load}, Node ${machine.node}, ${machine.duckdb}, commit ${machine.commit}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (!allRows || !sameValues) process.exitCode = 1;
