// The reference for bench/ndjson-to-parquet.mjs: NDJSON → Parquet (zstd) with @duckdb/node-api
// directly, the way a hand-written script would do it, under the same memory limit as Pipewright.
// Usage: node bench/ndjson-bare.mjs <input.ndjson> <output.parquet> <spill dir> [memory limit]
import { DuckDBInstance } from '@duckdb/node-api';

const [input, output, spill, memoryLimit = '1GB'] = process.argv.slice(2);
if (!input || !output || !spill) {
  process.stderr.write(
    'usage: node bench/ndjson-bare.mjs <input.ndjson> <output.parquet> <spill dir> [memory limit]\n',
  );
  process.exit(2);
}
const literal = (value) => `'${value.replace(/'/g, "''")}'`;

const instance = await DuckDBInstance.create(':memory:', {
  memory_limit: memoryLimit,
  temp_directory: spill,
});
const connection = await instance.connect();
const reader = await connection.runAndReadAll(
  `COPY (SELECT * FROM read_json(${literal(input)}, format = 'newline_delimited'))
   TO ${literal(output)} (FORMAT parquet, COMPRESSION 'zstd')`,
);
const rows = Number(reader.getRows()[0]?.[0] ?? 0);
connection.closeSync();
instance.closeSync();
process.stdout.write(`${JSON.stringify({ rows })}\n`);
