// The row-by-row reference loader of bench/pg-load.mjs, the way a psycopg2 script loads a CSV: one
// parameterised INSERT per row, all in one transaction, through the `pg` driver.
//
//   node bench/pg-insert-rows.mjs <postgres-url> <table> <file.csv>
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import pg from 'pg';

const [url, table, file] = process.argv.slice(2);
if (url === undefined || table === undefined || file === undefined) {
  process.stderr.write('usage: node bench/pg-insert-rows.mjs <postgres-url> <table> <file.csv>\n');
  process.exit(2);
}

/** One CSV line into fields: quoted fields may hold commas and doubled quotes (no line breaks here). */
function fields(line) {
  const out = [];
  let index = 0;
  while (index <= line.length) {
    if (line[index] === '"') {
      let value = '';
      index += 1;
      for (;;) {
        const quote = line.indexOf('"', index);
        value += line.slice(index, quote);
        if (line[quote + 1] === '"') {
          value += '"';
          index = quote + 2;
        } else {
          index = quote + 2;
          break;
        }
      }
      out.push(value);
    } else {
      const comma = line.indexOf(',', index);
      const end = comma < 0 ? line.length : comma;
      // An empty unquoted field is NULL, as for COPY … CSV.
      out.push(end === index ? null : line.slice(index, end));
      index = end + 1;
    }
  }
  return out;
}

const client = new pg.Client({ connectionString: url });
await client.connect();
const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
let header;
let insert;
let rows = 0;
await client.query('BEGIN');
for await (const line of lines) {
  if (header === undefined) {
    header = fields(line);
    insert = `INSERT INTO ${table} (${header.join(', ')}) VALUES (${header.map((_, i) => `$${i + 1}`).join(', ')})`;
    continue;
  }
  if (line === '') continue;
  await client.query(insert, fields(line));
  rows += 1;
}
await client.query('COMMIT');
await client.end();
process.stdout.write(`${JSON.stringify({ rows })}\n`);
