// The reference for bench/engine-overhead.mjs: the same chain of trivial steps as bare DuckDB
// statements in one file database, each table created and then checkpointed (as Pipewright does after
// a step), timed per step in-process. It is the floor: what the engine's bookkeeping comes on top of.
// Usage: node bench/engine-bare.mjs <database file> <steps>
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';

const [path, stepsArg] = process.argv.slice(2);
const steps = Number(stepsArg);
if (!path || !Number.isInteger(steps) || steps < 1) {
  process.stderr.write('usage: node bench/engine-bare.mjs <database file> <steps>\n');
  process.exit(2);
}
rmSync(path, { force: true });
rmSync(`${path}.wal`, { force: true });

const name = (index) => `s${String(index).padStart(3, '0')}`;
const runStarted = performance.now();
const instance = await DuckDBInstance.create(path, { memory_limit: '1GB', preserve_insertion_order: 'true' });
const connection = await instance.connect();
const durations = [];
for (let index = 1; index <= steps; index += 1) {
  const started = performance.now();
  const select = index === 1 ? 'SELECT 1 AS n' : `SELECT n + 1 AS n FROM ${name(index - 1)}`;
  await connection.run(`CREATE TABLE ${name(index)} AS ${select}`);
  await connection.run('CHECKPOINT');
  durations.push(performance.now() - started);
}
const last = await connection.runAndReadAll(`SELECT n FROM ${name(steps)}`);
const runMs = performance.now() - runStarted;
connection.closeSync();
instance.closeSync();
process.stdout.write(`${JSON.stringify({ durations, runMs, last: Number(last.getRows()[0]?.[0]) })}\n`);
