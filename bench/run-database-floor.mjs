// What a run's own DuckDB database costs at least, for bench/dispatch.mjs's analysis: a loop of what
// the engine does around a trivial `sql` step — create a workspace folder, open a DuckDB file there,
// connect, CREATE TABLE one AS SELECT 1 AS n, close the database (closeSync checkpoints), remove the
// folder — timed per iteration, in variants: as the engine does it, with the checkpoint on close
// disabled (the workspace of a succeeded run is removed anyway), with a single DuckDB thread, and with
// an in-memory database, and with one long-lived instance that ATTACHes each run's file. Prints a
// Markdown table.
//
//   node bench/run-database-floor.mjs [--iterations 300]
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { WORK_DIR, fmt, markdownTable, median, parseOptions, percentile, waitForQuiet } from './lib.mjs';

const options = parseOptions(
  { iterations: { default: 300, help: 'open/close cycles per variant and rep' } },
  'node bench/run-database-floor.mjs — the floor cost of one DuckDB database per run',
);
const root = join(WORK_DIR, 'run-database-floor');
rmSync(root, { recursive: true, force: true });

const variants = [
  { name: 'file, as the engine (checkpoint on close)', file: true, settings: {} },
  { name: 'file, no checkpoint on close', file: true, settings: {}, noCheckpoint: true },
  { name: 'file, threads 1', file: true, settings: { threads: '1' } },
  { name: 'in-memory database', file: false, settings: {} },
  { name: 'one shared instance, ATTACH + DETACH a file per run', attach: true },
];
let shared;

async function cycle(variant, index) {
  const dir = join(root, `run-${index}`);
  const times = {};
  let mark = performance.now();
  const lap = (name) => {
    const now = performance.now();
    times[name] = now - mark;
    mark = now;
  };
  mkdirSync(dir, { recursive: true });
  if (variant.attach) {
    shared ??= await (await DuckDBInstance.create(':memory:', { memory_limit: '1GB' })).connect();
    await shared.run(`ATTACH '${join(dir, 'run.duckdb')}' AS run`);
    lap('open');
    await shared.run('CREATE TABLE run.one AS SELECT 1 AS n');
    await shared.runAndReadAll('SELECT count(*) FROM run.one');
    lap('step');
    await shared.run('DETACH run');
    lap('close');
    rmSync(dir, { recursive: true, force: true });
    lap('remove');
    return times;
  }
  const instance = await DuckDBInstance.create(variant.file ? join(dir, 'run.duckdb') : ':memory:', {
    memory_limit: '1GB',
    temp_directory: join(dir, 'duckdb-spill'),
    preserve_insertion_order: 'true',
    ...variant.settings,
  });
  const connection = await instance.connect();
  lap('open');
  await connection.run('CREATE TABLE one AS SELECT 1 AS n');
  await connection.runAndReadAll('SELECT count(*) FROM one');
  lap('step');
  if (variant.noCheckpoint) await connection.run('PRAGMA disable_checkpoint_on_shutdown');
  connection.closeSync();
  instance.closeSync();
  lap('close');
  rmSync(dir, { recursive: true, force: true });
  lap('remove');
  return times;
}

const results = new Map(variants.map((variant) => [variant.name, []]));
const cpuMs = new Map(variants.map((variant) => [variant.name, []]));
for (let rep = 0; rep < options.reps; rep += 1) {
  for (const variant of variants) {
    await waitForQuiet(options.noise, options['max-wait']);
    const cpuBefore = process.cpuUsage();
    for (let index = 0; index < options.iterations; index += 1) {
      results.get(variant.name).push(await cycle(variant, index));
    }
    const cpu = process.cpuUsage(cpuBefore);
    cpuMs.get(variant.name).push((cpu.user + cpu.system) / 1000 / options.iterations);
  }
}
rmSync(root, { recursive: true, force: true });

const rows = variants.map((variant) => {
  const times = results.get(variant.name);
  const total = times.map((t) => t.open + t.step + t.close + t.remove);
  const part = (name) => fmt(median(times.map((t) => t[name])), 2);
  return [
    variant.name,
    `${fmt(median(total), 2)} ms`,
    `${fmt(percentile(total, 95), 2)} ms`,
    part('open'),
    part('step'),
    part('close'),
    part('remove'),
    fmt(1000 / median(total), 0),
    `${fmt(median(cpuMs.get(variant.name)), 1)} ms`,
  ];
});
process.stdout.write(
  `${markdownTable(
    [
      'variant',
      'per cycle (median)',
      'p95',
      'open + connect',
      'CREATE TABLE + count',
      'close',
      'remove folder',
      'cycles/s, one at a time',
      'process CPU per cycle (all threads)',
    ],
    rows,
  )}\n\nTimes in ms, medians over ${options.reps} × ${options.iterations} cycles per variant.\n`,
);
