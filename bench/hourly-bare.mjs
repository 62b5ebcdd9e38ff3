// A floor for bench/hourly-vs-pandas.mjs: the same job as one DuckDB statement through
// @duckdb/node-api (read_csv with the same column types → hourly avg per probe → Parquet zstd),
// nothing materialised in between. It shows how much of the gap to pandas DuckDB itself can give.
// Usage: node bench/hourly-bare.mjs <readings.csv> <hourly.parquet> <spill dir>
import { DuckDBInstance } from '@duckdb/node-api';

const [input, output, spill] = process.argv.slice(2);
if (!input || !output || !spill) {
  process.stderr.write('usage: node bench/hourly-bare.mjs <readings.csv> <hourly.parquet> <spill dir>\n');
  process.exit(2);
}
const literal = (value) => `'${value.replace(/'/g, "''")}'`;

const instance = await DuckDBInstance.create(':memory:', { memory_limit: '1GB', temp_directory: spill });
const connection = await instance.connect();
const reader = await connection.runAndReadAll(
  `COPY (
     SELECT date_trunc('hour', ts) AS hour, probe, avg(temp_c) AS temp_c
     FROM read_csv(${literal(input)}, header = true,
                   columns = {'ts': 'TIMESTAMP', 'probe': 'VARCHAR', 'temp_c': 'DOUBLE'})
     GROUP BY ALL ORDER BY ALL
   ) TO ${literal(output)} (FORMAT parquet, COMPRESSION 'zstd')`,
);
const rows = Number(reader.getRows()[0]?.[0] ?? 0);
connection.closeSync();
instance.closeSync();
process.stdout.write(`${JSON.stringify({ rows })}\n`);
