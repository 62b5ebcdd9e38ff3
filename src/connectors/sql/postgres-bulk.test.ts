/**
 * sql.query's bulk path against a real PostgreSQL (COPY … TO STDOUT read by DuckDB): the same
 * dataset, types and values as the cursor path for every type it takes, edge values included; the
 * cursor when COPY cannot carry a column or a bound value; the same errors; and a copy stopped halfway
 * by an abort or a cut connection, leaving neither a dataset, a part file nor a running query.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { sqlQueryStep } from '../../steps/extract/sql-query.js';
import { cuttableRelay, PgServer, requireServer } from './test-servers.js';

const server = await PgServer.connect();
let database = '';
const PASSWORD = 'pg-Bulk-Secret-4412';

before(async () => {
  if (typeof server === 'string') return;
  database = await server.createDatabase();
});

function connectionUrl(port?: number): string {
  if (typeof server === 'string') return '';
  const url = new URL(server.url(database));
  url.password = PASSWORD;
  if (port !== undefined) url.port = String(port);
  return url.toString();
}

async function harness(port?: number): Promise<StepHarness> {
  return createStepHarness({
    connections: { warehouse: { type: 'postgres', url: '${env:WAREHOUSE_URL}' } },
    env: { WAREHOUSE_URL: connectionUrl(port) },
  });
}

/** The info lines sql.query logged for a step, saying which path it took. */
function pathLog(h: StepHarness, stepId: string): string[] {
  return h.logs
    .filter((entry) => entry.stepId === stepId && /bulk path|stream through a cursor/.test(entry.message))
    .map((entry) => entry.message);
}

/** Reads `query` twice, through COPY and through the cursor, and checks both datasets are the same. */
async function bothPaths(h: StepHarness, query: string, extra: Record<string, unknown> = {}) {
  const copied = await h.runStep(
    sqlQueryStep,
    { connection: 'warehouse', query, ...extra },
    { stepId: 'copied' },
  );
  const streamed = await h.runStep(
    sqlQueryStep,
    { connection: 'warehouse', query, bulk: 'off', ...extra },
    { stepId: 'streamed' },
  );
  assert.deepEqual(pathLog(h, 'copied'), ['bulk path: COPY (query) TO STDOUT as CSV, read by DuckDB']);
  assert.deepEqual(pathLog(h, 'streamed'), ['rows stream through a cursor (bulk: off)']);
  assert.equal(copied.rows, streamed.rows);
  assert.deepEqual(copied.warnings, streamed.warnings);
  assert.deepEqual(await h.columnTypes('copied'), await h.columnTypes('streamed'));
  // As text (keeps -0, infinities and BC dates apart) and as values (EXCEPT ALL compares typed).
  const asText = (name: string) => h.query(`SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ${name} ORDER BY rowid`);
  assert.deepEqual(await asText('copied'), await asText('streamed'));
  const [difference] = await h.query<{ n: bigint }>(
    `SELECT (SELECT count(*) FROM (SELECT * FROM copied EXCEPT ALL SELECT * FROM streamed))
          + (SELECT count(*) FROM (SELECT * FROM streamed EXCEPT ALL SELECT * FROM copied)) AS n`,
  );
  assert.equal(Number(difference?.n), 0);
  return { copied, streamed };
}

function rejectsWith(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    assert.doesNotMatch(`${error.message} ${error.hint ?? ''}`, new RegExp(PASSWORD));
    return true;
  };
}

/** Polls (bounded) until `check` holds; false when it never did. */
async function eventually(check: () => Promise<boolean>, tries = 200): Promise<boolean> {
  for (let attempt = 0; attempt < tries; attempt += 1) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** The step's COPY, as pg_stat_activity shows it. */
async function copyActivity(): Promise<{ pid: number; wait: string | null }[]> {
  if (typeof server === 'string') return [];
  return server.query(
    database,
    `SELECT pid, wait_event AS wait FROM pg_stat_activity
      WHERE datname = $1 AND application_name = 'pipewright' AND query LIKE 'COPY (%' AND state = 'active'`,
    [database],
  );
}

async function copyFolders(h: StepHarness): Promise<string[]> {
  const workspace = join(h.projectDir, '.pipewright', 'runs', 'test-run');
  return (await readdir(workspace)).filter((name) => name.startsWith('.pw-copy-'));
}

describe('PostgreSQL bulk path (COPY)', () => {
  test('COPY and the cursor give the same dataset for every type the bulk path takes', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    await server.query(
      database,
      `
      CREATE TYPE mood AS ENUM ('ok', 'sad');
      CREATE DOMAIN money2 AS numeric(12,2);
      CREATE TABLE every_type (
        id int, words text, short varchar(8), fixed char(4), label name, feeling mood,
        tiny smallint, num int, big bigint, ident oid, single real, dbl double precision,
        exact numeric(38,10), loose numeric, wide numeric, odd numeric, price money2, cash money,
        flag boolean, day date, at timestamp, at_tz timestamptz, clock time, clock_tz timetz, span interval,
        doc json, docb jsonb, uid uuid, raw bytea, addr inet, mac macaddr, bits bit(3))`,
    );
    await server.query(
      database,
      `INSERT INTO every_type VALUES
      (1, '', '', '', '', 'ok', -32768, -2147483648, -9223372036854775808, 0, 3.4028235e38, 1.7976931348623157e308,
       1234567890123456789012345678.1234567890, 123.456, 1234567890123456789012345678901234567890.5, 'NaN', 19.99, 12.5,
       true, '0044-03-15 BC', '2024-05-06 07:08:09.123456', '2024-05-06 07:08:09.123456+02', '24:00:00', '13:45:00.000001+05:30',
       '1 year 2 mons -3 days +04:05:06.5', '{"a": "x,y\\n\\"q\\""}', '{"b": [1, 2.50]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       '\\x', '192.168.0.1/24', '08:00:2b:01:02:03', B'101'),
      (2, E'line1\\nline2\\r\\nline3', 'a,b', 'ab', 'n', 'sad', 32767, 2147483647, 9223372036854775807, 4294967295, '-0', '-0',
       -0.0000000001, -0.5, 1, 1.5, 0, 0,
       false, 'infinity', 'infinity', '-infinity', '00:00:00', '00:00:00+00', '-00:00:01',
       'null', '[]', '00000000-0000-0000-0000-000000000000', '\\x00ff10', '::1', 'ff:ff:ff:ff:ff:ff', B'000'),
      (3, 'quote "x" and ""', '\\N', ' p ', 'NULL', NULL, 0, 0, 0, 1, 'NaN', 'NaN', 0, 100, 2, 2, NULL, NULL,
       NULL, '-infinity', '-infinity', 'infinity', '23:59:59.999999', '23:59:59.999999-14', '100 years',
       '{"deep": {"k": [null, true]}}', '{"z": "Zoë 😀"}', NULL, decode(repeat('00ff7f10', 400000), 'hex'), NULL, NULL, NULL),
      (4, 'Zoë 😀 ñ, "x"' || chr(9) || 'tab', 'NULL', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1.1, 0.1,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-29', '1970-01-01 00:00:00', '2000-01-01 00:00:00.5+00',
       NULL, NULL, '-04:05:06.123', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity', '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, '-1 years -2 mons +3 days', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (6, '  pad  ', '', '', '', 'ok', 1, 1, 1, 1, 1e-45, 5e-324, 1, 0.001, 3, 3, 1, 1, true, '2000-01-01',
       '2000-01-01 00:00:00.000001', '1999-12-31 23:59:59.999999+00', '12:00:00', '12:00:00+00', '00:00:00.000001',
       '{}', '{}', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\\x41', '10.0.0.1', '00:00:00:00:00:00', B'111')`,
    );
    const h = await harness();
    try {
      const { copied } = await bothPaths(h, `SELECT *, point(1, 2) AS spot FROM every_type ORDER BY id`, {
        columns: { spot: 'VARCHAR' },
      });
      assert.equal(copied.rows, 6);
      assert.deepEqual(await h.columnTypes('copied'), {
        id: 'INTEGER',
        words: 'VARCHAR',
        short: 'VARCHAR',
        fixed: 'VARCHAR',
        label: 'VARCHAR',
        feeling: 'VARCHAR',
        tiny: 'SMALLINT',
        num: 'INTEGER',
        big: 'BIGINT',
        ident: 'UINTEGER',
        single: 'FLOAT',
        dbl: 'DOUBLE',
        exact: 'DECIMAL(38,10)',
        loose: 'DECIMAL(6,3)',
        wide: 'VARCHAR',
        odd: 'VARCHAR',
        price: 'DECIMAL(12,2)',
        cash: 'VARCHAR',
        flag: 'BOOLEAN',
        day: 'DATE',
        at: 'TIMESTAMP',
        at_tz: 'TIMESTAMP WITH TIME ZONE',
        clock: 'TIME',
        clock_tz: 'TIME WITH TIME ZONE',
        span: 'INTERVAL',
        doc: 'JSON',
        docb: 'JSON',
        uid: 'UUID',
        raw: 'BLOB',
        addr: 'VARCHAR',
        mac: 'VARCHAR',
        bits: 'VARCHAR',
        spot: 'VARCHAR',
      });
      assert.equal(copied.warnings?.length, 2);
      // NULL and the empty string stay apart, text keeps its quotes, newlines and characters.
      const texts = await h.query<{ words: string | null; short: string | null; raw: number | null }>(
        'SELECT words, short, octet_length(raw) AS raw FROM copied ORDER BY rowid',
      );
      assert.deepEqual(
        texts.map((row) => [row.words, row.short, row.raw === null ? null : Number(row.raw)]),
        [
          ['', '', 0],
          ['line1\nline2\r\nline3', 'a,b', 3],
          ['quote "x" and ""', '\\N', 1_600_000],
          ['Zoë 😀 ñ, "x"\ttab', 'NULL', null],
          [null, null, null],
          ['  pad  ', '', 1],
        ],
      );
      const [first] = await h.query(
        `SELECT exact::VARCHAR AS exact, day::VARCHAR AS day, at_tz::VARCHAR AS at_tz, span::VARCHAR AS span, doc::VARCHAR AS doc
           FROM copied WHERE id = 1`,
      );
      assert.deepEqual(first, {
        exact: '1234567890123456789012345678.1234567890',
        day: '0044-03-15 (BC)',
        at_tz: '2024-05-06 05:08:09.123456+00',
        span: '1 year 2 months -3 days 04:05:06.5',
        doc: '{"a": "x,y\\n\\"q\\""}',
      });
    } finally {
      await h.close();
    }
  });

  test('a result larger than one part file arrives whole and in order', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    const h = await harness();
    try {
      // About 50 MB of CSV: two part files, cut where a row ends, some rows spanning lines.
      const query = `SELECT g AS id, repeat(md5(g::text), 3) || CASE WHEN g % 7 = 0 THEN E'\\n"quoted", more' ELSE '' END AS body,
                            (g * 1.25)::numeric(14,2) AS amount
                       FROM generate_series(1, 400000) g ORDER BY g DESC`;
      const result = await h.runStep(sqlQueryStep, { connection: 'warehouse', query }, { stepId: 'copied' });
      assert.equal(result.rows, 400000);
      assert.deepEqual(pathLog(h, 'copied'), ['bulk path: COPY (query) TO STDOUT as CSV, read by DuckDB']);
      const [summary] = await h.query<Record<string, unknown>>(
        `SELECT count(*)::INT AS n, sum(amount)::VARCHAR AS total, count(*) FILTER (WHERE body LIKE '%' || chr(10) || '"quoted", more')::INT AS spanning,
                bool_and(id = 400000 - rowid) AS ordered, max(length(body))::INT AS longest FROM copied`,
      );
      assert.deepEqual(summary, {
        n: 400000,
        total: String((400000 * 400001 * 1.25) / 2) + '.00',
        spanning: Math.floor(400000 / 7),
        ordered: true,
        longest: 96 + '\n"quoted", more'.length,
      });
      assert.deepEqual(await copyFolders(h), []);
      // Notices the server sends between rows are not data.
      await server.query(
        database,
        `CREATE FUNCTION noisy(n int) RETURNS int LANGUAGE plpgsql AS $$
           BEGIN IF n % 1000 = 0 THEN RAISE NOTICE 'at %, "quoted", %', n, repeat('x', n % 3000); END IF; RETURN n; END $$`,
      );
      await h.runStep(
        sqlQueryStep,
        {
          connection: 'warehouse',
          query: 'SELECT noisy(g) AS n, g::text AS t FROM generate_series(1, 20000) g',
        },
        { stepId: 'noisy' },
      );
      assert.deepEqual(pathLog(h, 'noisy'), ['bulk path: COPY (query) TO STDOUT as CSV, read by DuckDB']);
      assert.deepEqual(
        await h.query(
          'SELECT count(*)::INT AS n, sum(n)::BIGINT AS total, bool_and(t = n::VARCHAR) AS same FROM noisy',
        ),
        [{ n: 20000, total: 200010000, same: true }],
      );
    } finally {
      await h.close();
    }
  });

  test('a database without an encoding (SQL_ASCII): both paths read its text alike, or fail alike', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    const name = `${database}_ascii`;
    await server.admin.query(
      `CREATE DATABASE ${name} ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'`,
    );
    try {
      await server.query(
        name,
        `CREATE TABLE words AS SELECT convert_from('\\x5a6fc3ab2c20226122'::bytea, 'SQL_ASCII') AS word;
         CREATE TABLE raw_bytes AS SELECT convert_from('\\x41e942'::bytea, 'SQL_ASCII') AS word`,
      );
      const url = new URL(server.url(name));
      url.password = PASSWORD;
      const h = await createStepHarness({
        connections: { warehouse: { type: 'postgres', url: '${env:LEGACY_URL}' } },
        env: { LEGACY_URL: url.toString() },
      });
      try {
        await bothPaths(h, 'SELECT word FROM words');
        assert.deepEqual(await h.query('SELECT word FROM copied'), [{ word: 'Zoë, "a"' }]);
        // The server checks what it sends as UTF-8, whichever way it is read.
        for (const bulk of ['auto', 'off']) {
          await assert.rejects(
            h.runStep(sqlQueryStep, { connection: 'warehouse', query: 'SELECT word FROM raw_bytes', bulk }),
            rejectsWith('PW_DB_TYPE', /invalid byte sequence for encoding "UTF8": 0xe9 0x42/),
          );
        }
      } finally {
        await h.close();
      }
    } finally {
      await server.admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

  test('arrays, params, incremental, bulk: off and statements COPY refuses take the cursor, saying why', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    await server.query(
      database,
      `CREATE TABLE tagged AS SELECT g AS id, ARRAY[g, g + 1] AS tags FROM generate_series(1, 5) g`,
    );
    const h = await harness();
    try {
      const run = async (stepId: string, config: Record<string, unknown>) => {
        const result = await h.runStep(sqlQueryStep, { connection: 'warehouse', ...config }, { stepId });
        return { rows: result.rows, log: pathLog(h, stepId) };
      };
      assert.deepEqual(await run('arrays', { query: 'SELECT id, tags FROM tagged' }), {
        rows: 5,
        log: [
          "rows stream through a cursor: column 'tags' is int4[], which COPY's CSV does not carry exactly",
        ],
      });
      assert.deepEqual(await h.columnTypes('arrays'), { id: 'INTEGER', tags: 'INTEGER[]' });
      assert.deepEqual(
        await run('bound', { query: 'SELECT id FROM tagged WHERE id > :low', params: { low: 2 } }),
        {
          rows: 3,
          log: ['rows stream through a cursor: COPY takes no bound values, and the query has params'],
        },
      );
      assert.deepEqual(
        await run('window', { query: 'SELECT id FROM tagged', incremental: { cursor: 'id' } }),
        {
          rows: 5,
          log: [
            'rows stream through a cursor: COPY takes no bound values, and the query has an incremental window',
          ],
        },
      );
      // Described like a query, but not something COPY takes.
      const shown = await run('shown', { query: 'SHOW TimeZone' });
      assert.equal(shown.rows, 1);
      assert.equal(shown.log.length, 2);
      assert.match(
        shown.log[1] ?? '',
        /^rows stream through a cursor: COPY does not take this statement \(syntax error/,
      );
      assert.deepEqual(await h.query('SELECT * FROM shown'), [{ TimeZone: 'UTC' }]);
    } finally {
      await h.close();
    }
  });

  test('errors read the same on both paths and name the step, the connection and the line', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    await server.query(
      database,
      `CREATE TABLE prices (id int, price numeric(10,2)); INSERT INTO prices SELECT g, g FROM generate_series(1, 6000) g;
       UPDATE prices SET price = 'NaN' WHERE id = 5001`,
    );
    const h = await harness();
    try {
      const failures = async (query: string) => {
        const messages: string[] = [];
        for (const bulk of ['auto', 'off']) {
          await assert.rejects(
            h.runStep(sqlQueryStep, { connection: 'warehouse', query, bulk }, { stepId: 'broken' }),
            (error: unknown) => {
              assert.ok(error instanceof PwError, String(error));
              assert.doesNotMatch(`${error.message} ${error.hint ?? ''}`, new RegExp(PASSWORD));
              messages.push(`${error.code}: ${error.message}`);
              return true;
            },
          );
        }
        assert.equal(messages[0], messages[1]);
        return messages[0];
      };
      assert.match(
        (await failures('SELECT id\nFROM no_such_table')) ?? '',
        /^PW_DB_QUERY: Step 'broken', connection 'warehouse' \(postgres, postgres@127\.0\.0\.1:\d+\/pw_sqlt_\w+\): query failed: relation "no_such_table" does not exist \(SQLSTATE 42P01, line 2\)$/,
      );
      assert.match(
        (await failures("SELECT 1 AS a,\n  'x'::int AS b")) ?? '',
        /query failed: invalid input syntax for type integer: "x" \(SQLSTATE 22P02, line 2\)$/,
      );
      // Raised by the server after thousands of rows were sent.
      assert.match(
        (await failures('SELECT g, 1 / (g - 5000) AS q FROM generate_series(1, 9000) g')) ?? '',
        /query failed: division by zero \(SQLSTATE 22012\)$/,
      );
      assert.match(
        (await failures('SELECT id, price FROM prices ORDER BY id')) ?? '',
        /^PW_DB_TYPE: .*: row 5001, column 'price' \(numeric\(10,2\)\): 'NaN' does not fit DuckDB type DECIMAL\(10,2\)$/,
      );
      assert.equal(
        await h.query("SELECT 1 FROM duckdb_tables() WHERE table_name LIKE '%broken%'").then((r) => r.length),
        0,
      );
      assert.deepEqual(await copyFolders(h), []);
    } finally {
      await h.close();
    }
  });

  test('an abort stops the copy: the server query is cancelled, nothing is left behind', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    const h = await harness();
    const controller = new AbortController();
    try {
      const running = h.runStep(
        sqlQueryStep,
        {
          connection: 'warehouse',
          // Sends 100,000 rows, then sleeps for a minute before the rest.
          query: `SELECT g, CASE WHEN g = 100000 THEN pg_sleep(60)::text ELSE 'x' END AS pause FROM generate_series(1, 200000) g`,
        },
        { stepId: 'slow', signal: controller.signal },
      );
      const outcome = running.then(
        () => 'finished',
        (error: unknown) => error,
      );
      assert.ok(await eventually(async () => (await copyActivity()).some((row) => row.wait === 'PgSleep')));
      controller.abort(new Error('stopped by the test'));
      assert.notEqual(await outcome, 'finished');
      assert.ok(await eventually(async () => (await copyActivity()).length === 0), 'the COPY still runs');
      assert.equal(
        await h.query("SELECT 1 FROM duckdb_tables() WHERE table_name LIKE '%slow%'").then((r) => r.length),
        0,
      );
      assert.deepEqual(await copyFolders(h), []);
    } finally {
      await h.close();
    }
  });

  test('a connection cut in the middle of a copy fails as unreachable, with no dataset', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    const relay = await cuttableRelay(server.host, server.port);
    const h = await harness(relay.port);
    try {
      const running = h.runStep(
        sqlQueryStep,
        {
          connection: 'warehouse',
          query: `SELECT g, CASE WHEN g = 100000 THEN pg_sleep(5)::text ELSE 'x' END AS pause FROM generate_series(1, 200000) g`,
        },
        { stepId: 'cut' },
      );
      const outcome = running.then(
        () => 'finished',
        (error: unknown) => error,
      );
      assert.ok(await eventually(async () => (await copyActivity()).some((row) => row.wait === 'PgSleep')));
      relay.cut();
      const error = await outcome;
      rejectsWith(
        'PW_DB_UNREACHABLE',
        /^Step 'cut', connection 'warehouse' \(postgres, .*\): query failed: Connection terminated unexpectedly$/,
      )(error);
      assert.equal(
        await h.query("SELECT 1 FROM duckdb_tables() WHERE table_name LIKE '%cut%'").then((r) => r.length),
        0,
      );
      assert.deepEqual(await copyFolders(h), []);
    } finally {
      await h.close();
      await relay.close();
    }
  });
});
