/**
 * sql.query, sql.load and sql.exec against a real PostgreSQL (a throwaway database per test file):
 * type fidelity, bound parameters, streaming in batches, every load mode in one transaction, constraint
 * violations, incremental marks, and the connection faults (refused, silent, TLS) with clear codes.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { sqlQueryStep } from '../../steps/extract/sql-query.js';
import { sqlLoadStep } from '../../steps/load/sql-load.js';
import { sqlExecStep } from '../../steps/transform/sql-exec.js';
import {
  fakePostgresTls,
  PgServer,
  requireServer,
  selfSignedCertificate,
  silentServer,
} from './test-servers.js';

const server = await PgServer.connect();
let database = '';
const PASSWORD = 'pg-Secret-7781';

before(async () => {
  if (typeof server === 'string') return;
  database = await server.createDatabase();
  // Trust authentication ignores the password; it is there to prove it never shows.
});

function connectionUrl(): string {
  if (typeof server === 'string') return '';
  const url = new URL(server.url(database));
  url.password = PASSWORD;
  return url.toString();
}

async function harness(
  extra: Record<string, Record<string, unknown> & { type: string }> = {},
): Promise<StepHarness> {
  return createStepHarness({
    connections: { warehouse: { type: 'postgres', url: '${env:WAREHOUSE_URL}' }, ...extra },
    env: { WAREHOUSE_URL: connectionUrl() },
  });
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

describe('PostgreSQL connector', () => {
  test('sql.query maps types faithfully and keeps NULLs', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    await server.query(
      database,
      `
      CREATE TYPE mood AS ENUM ('ok', 'sad');
      CREATE DOMAIN money2 AS numeric(12,2);
      CREATE TABLE types (
        id int PRIMARY KEY, amount numeric(20,6), loose numeric, ts timestamptz, local_at timestamp, day date,
        doc jsonb, plain json, ints int[], words text[], amounts numeric[], raw bytea, uid uuid, span interval,
        feeling mood, price money2, flag boolean, big bigint, ratio float8, name text)`,
    );
    await server.query(
      database,
      `INSERT INTO types VALUES
      (1, 12345678901234.123456, 123456789012345678901234.5, '2024-05-06 07:08:09.123456+02', '2024-05-06 07:08:09.5',
       '0044-03-15 BC', '{"a": [1, 2], "b": null}', '[1, "x"]', '{1,2,NULL}', '{"a b","c\\"d",NULL}', '{1.5,22.25}',
       '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 year 2 mons -3 days +04:05:06.5', 'sad', 19.99, true,
       9007199254740993, 'NaN', 'Zoë'),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity', NULL)`,
    );
    const h = await harness();
    try {
      const result = await h.runStep(
        sqlQueryStep,
        { connection: 'warehouse', query: 'SELECT * FROM types ORDER BY id' },
        { stepId: 'types' },
      );
      assert.equal(result.rows, 2);
      assert.deepEqual(await h.columnTypes('types'), {
        id: 'INTEGER',
        amount: 'DECIMAL(20,6)',
        loose: 'DECIMAL(25,1)',
        ts: 'TIMESTAMP WITH TIME ZONE',
        local_at: 'TIMESTAMP',
        day: 'DATE',
        doc: 'JSON',
        plain: 'JSON',
        ints: 'INTEGER[]',
        words: 'VARCHAR[]',
        amounts: 'DECIMAL(4,2)[]',
        raw: 'BLOB',
        uid: 'UUID',
        span: 'INTERVAL',
        feeling: 'VARCHAR',
        price: 'DECIMAL(12,2)',
        flag: 'BOOLEAN',
        big: 'BIGINT',
        ratio: 'DOUBLE',
        name: 'VARCHAR',
      });
      const rows =
        await h.query(`SELECT amount::VARCHAR AS amount, loose::VARCHAR AS loose, ts::VARCHAR AS ts, local_at::VARCHAR AS local_at,
        day::VARCHAR AS day, doc::VARCHAR AS doc, plain::VARCHAR AS plain, ints, words, amounts::VARCHAR[] AS amounts, raw, uid::VARCHAR AS uid,
        span::VARCHAR AS span, feeling, price::VARCHAR AS price, flag, big::VARCHAR AS big, ratio, name FROM types ORDER BY id`);
      assert.deepEqual(rows[0], {
        amount: '12345678901234.123456',
        loose: '123456789012345678901234.5',
        ts: '2024-05-06 05:08:09.123456+00',
        local_at: '2024-05-06 07:08:09.5',
        day: '0044-03-15 (BC)',
        doc: '{"a": [1, 2], "b": null}',
        plain: '[1, "x"]',
        ints: [1, 2, null],
        words: ['a b', 'c"d', null],
        amounts: ['1.50', '22.25'],
        raw: Buffer.from([0x00, 0xff, 0x10]),
        uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        span: '1 year 2 months -3 days 04:05:06.5',
        feeling: 'sad',
        price: '19.99',
        flag: true,
        big: '9007199254740993',
        ratio: Number.NaN,
        name: 'Zoë',
      });
      const nulls = rows[1] ?? {};
      assert.equal(nulls.ratio, Number.POSITIVE_INFINITY);
      assert.deepEqual(
        Object.entries(nulls).filter(([key, value]) => key !== 'ratio' && value !== null),
        [],
      );
    } finally {
      await h.close();
    }
  });

  test('sql.query streams a large result in batches and binds params (never splicing them)', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    await server.query(
      database,
      `CREATE TABLE many AS SELECT g AS id, 'name ' || g AS name FROM generate_series(1, 30000) g`,
    );
    const h = await harness();
    try {
      const result = await h.runStep(
        sqlQueryStep,
        {
          connection: 'warehouse',
          query: 'SELECT id, name FROM many WHERE id > :low AND name <> :evil;',
          params: { low: 5, evil: "x'; DROP TABLE many; --" },
          batch_size: 997,
        },
        { stepId: 'many' },
      );
      assert.equal(result.rows, 29995);
      const [sum] = await h.query(
        'SELECT sum(id)::BIGINT AS total, min(id) AS low, count(DISTINCT name) AS names FROM many',
      );
      assert.deepEqual(sum, { total: (30000 * 30001) / 2 - 15, low: 6, names: 29995 });
      const [still] = await server.query(database, 'SELECT count(*)::int AS n FROM many');
      assert.equal(still?.n, 30000);
    } finally {
      await h.close();
    }
  });

  test('a type without a DuckDB equivalent fails naming the column, unless columns: gives one', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    const h = await harness();
    try {
      await assert.rejects(
        h.runStep(
          sqlQueryStep,
          { connection: 'warehouse', query: 'SELECT 1 AS id, point(1, 2) AS spot' },
          { stepId: 'spots' },
        ),
        rejectsWith(
          'PW_DB_TYPE',
          /Step 'spots', connection 'warehouse' \(postgres, .*\): column 'spot' has type point, which has no DuckDB equivalent/,
        ),
      );
      await h.runStep(
        sqlQueryStep,
        {
          connection: 'warehouse',
          query: 'SELECT 1 AS id, point(1, 2) AS spot',
          columns: { spot: 'VARCHAR' },
        },
        { stepId: 'spots' },
      );
      assert.deepEqual(await h.query('SELECT spot FROM spots'), [{ spot: '(1,2)' }]);
      await assert.rejects(
        h.runStep(
          sqlQueryStep,
          { connection: 'warehouse', query: "SELECT 'abc'::text AS code", columns: { code: 'INTEGER' } },
          { stepId: 'codes' },
        ),
        rejectsWith('PW_DB_TYPE', /row 1, column 'code' \(text\): 'abc' does not fit DuckDB type INTEGER/),
      );
    } finally {
      await h.close();
    }
  });

  test('a query error names the step, the connection and the line, never the password', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    const h = await harness();
    try {
      await assert.rejects(
        h.runStep(
          sqlQueryStep,
          { connection: 'warehouse', query: 'SELECT id\nFROM no_such_table' },
          { stepId: 'broken' },
        ),
        rejectsWith(
          'PW_DB_QUERY',
          /^Step 'broken', connection 'warehouse' \(postgres, postgres@127\.0\.0\.1:\d+\/pw_sqlt_\w+\): query failed: relation "no_such_table" does not exist \(SQLSTATE 42P01, line 2\)$/,
        ),
      );
    } finally {
      await h.close();
    }
  });

  test('unreachable, silent and TLS-failing servers fail fast with their own codes', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    const certificate = selfSignedCertificate();
    if (!requireServer(t, certificate, 'openssl')) return;
    const silent = await silentServer();
    const tls = await fakePostgresTls(certificate);
    const h = await harness({
      refused: { type: 'postgres', host: '127.0.0.1', port: 1, user: 'app', password: PASSWORD },
      silent: {
        type: 'postgres',
        host: '127.0.0.1',
        port: silent.port,
        user: 'app',
        password: PASSWORD,
        connect_timeout: '400ms',
      },
      selfsigned: {
        type: 'postgres',
        host: '127.0.0.1',
        port: tls.port,
        user: 'app',
        password: PASSWORD,
        ssl: true,
      },
      trusted: {
        type: 'postgres',
        host: '127.0.0.1',
        port: tls.port,
        user: 'app',
        password: PASSWORD,
        ssl: { ca_file: certificate.certFile },
      },
      notls: { type: 'postgres', url: `${connectionUrl()}?sslmode=verify-full` },
    });
    try {
      const query = (connection: string) =>
        h.runStep(sqlQueryStep, { connection, query: 'SELECT 1' }, { stepId: 'probe' });
      await assert.rejects(
        query('refused'),
        rejectsWith('PW_DB_UNREACHABLE', /connecting failed: connect ECONNREFUSED/),
      );
      const started = Date.now();
      await assert.rejects(
        query('silent'),
        rejectsWith('PW_DB_UNREACHABLE', /no answer within 400ms \(connect_timeout\)/),
      );
      assert.ok(Date.now() - started < 3000, `the timeout took ${Date.now() - started} ms`);
      await assert.rejects(
        query('selfsigned'),
        rejectsWith('PW_DB_TLS', /TLS failed: self-signed certificate/),
      );
      // With the certificate trusted, verification passes: the fake server then just hangs up.
      await assert.rejects(query('trusted'), rejectsWith('PW_DB_UNREACHABLE'));
      await assert.rejects(query('notls'), rejectsWith('PW_DB_TLS', /does not support SSL/));
    } finally {
      await h.close();
      await silent.close();
      await tls.close();
    }
  });

  test('sql.load: create, append, replace and upsert, each recorded in the ledger', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    await server.query(database, 'CREATE SCHEMA sales');
    const h = await harness();
    try {
      await h.query(`CREATE TABLE orders AS SELECT * FROM (VALUES
        (1, 'alpha', 10.50::DECIMAL(10,2), TIMESTAMPTZ '2024-01-01 10:00:00+00', [1, 2], '\\x01'::BLOB),
        (2, 'b"e,ta', NULL, TIMESTAMPTZ '2024-01-02 11:30:00.25+00', [], NULL),
        (3, '', 3.25, NULL, NULL, '\\x02\\x03'::BLOB)) t(id, name, amount, ts, tags, raw)`);
      const load = (config: Record<string, unknown>) =>
        h.runStep(
          sqlLoadStep,
          { connection: 'warehouse', input: 'orders', table: 'sales.orders', ...config },
          { stepId: 'publish' },
        );
      assert.equal((await load({ mode: 'create' })).rows, 3);
      const read = () =>
        server.query(
          database,
          `SELECT id, name, amount::text AS amount, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts, tags, encode(raw, 'hex') AS raw FROM sales.orders ORDER BY id, name`,
        );
      assert.deepEqual(await read(), [
        { id: 1, name: 'alpha', amount: '10.50', ts: '2024-01-01 10:00:00.000000', tags: [1, 2], raw: '01' },
        { id: 2, name: 'b"e,ta', amount: null, ts: '2024-01-02 11:30:00.250000', tags: [], raw: null },
        { id: 3, name: '', amount: '3.25', ts: null, tags: null, raw: '0203' },
      ]);
      await assert.rejects(
        load({ mode: 'create' }),
        rejectsWith('PW_OUTPUT_EXISTS', /table sales\.orders already exists/),
      );
      await load({ mode: 'append' });
      assert.equal((await read()).length, 6);
      await load({ mode: 'replace' });
      assert.equal((await read()).length, 3);
      await server.query(database, 'ALTER TABLE sales.orders ADD PRIMARY KEY (id)');
      await h.query(
        `CREATE OR REPLACE TABLE orders AS SELECT * FROM (VALUES (2, 'beta-2', 20.00::DECIMAL(10,2)), (4, 'delta', 4.00)) t(id, name, amount)`,
      );
      await load({ mode: 'upsert', keys: ['id'] });
      assert.deepEqual(
        (await read()).map((row) => [row.id, row.name, row.amount]),
        [
          [1, 'alpha', '10.50'],
          [2, 'beta-2', '20.00'],
          [3, '', '3.25'],
          [4, 'delta', '4.00'],
        ],
      );
      await load({ mode: 'upsert', keys: ['id'], table: 'fresh', create_if_missing: true });
      assert.deepEqual(await server.query(database, 'SELECT id, name FROM fresh ORDER BY id'), [
        { id: 2, name: 'beta-2' },
        { id: 4, name: 'delta' },
      ]);
      assert.deepEqual(
        h.loads.map((entry) => [entry.target, entry.rows, entry.status]),
        [
          ['warehouse:sales.orders', 3, 'succeeded'],
          ['warehouse:sales.orders', 0, 'failed'],
          ['warehouse:sales.orders', 3, 'succeeded'],
          ['warehouse:sales.orders', 3, 'succeeded'],
          ['warehouse:sales.orders', 2, 'succeeded'],
          ['warehouse:fresh', 2, 'succeeded'],
        ],
      );
    } finally {
      await h.close();
    }
  });

  test('sql.load: a constraint violation commits nothing and names the row', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    await server.query(
      database,
      `CREATE TABLE strict_sales (id int PRIMARY KEY, amount numeric(8,2) NOT NULL CHECK (amount >= 0));
      INSERT INTO strict_sales VALUES (100, 1.00)`,
    );
    const h = await harness();
    try {
      await h.query(
        `CREATE TABLE bad AS SELECT * FROM (VALUES (1, 5.00), (2, 6.00), (3, NULL)) t(id, amount)`,
      );
      for (const mode of ['append', 'replace', 'upsert']) {
        await assert.rejects(
          h.runStep(
            sqlLoadStep,
            {
              connection: 'warehouse',
              input: 'bad',
              table: 'strict_sales',
              mode,
              ...(mode === 'upsert' ? { keys: ['id'] } : {}),
            },
            { stepId: 'publish' },
          ),
          rejectsWith(
            'PW_DB_CONSTRAINT',
            /load into strict_sales failed, nothing committed: null value in column "amount" .*Failing row contains \(3, null\)/,
          ),
        );
      }
      assert.deepEqual(await server.query(database, 'SELECT id, amount::text AS amount FROM strict_sales'), [
        { id: 100, amount: '1.00' },
      ]);
      const failed = h.loads.at(-1);
      assert.equal(failed?.status, 'failed');
      assert.match(failed?.message ?? '', /Failing row contains \(3, null\)/);
      await h.query(
        `CREATE OR REPLACE TABLE bad AS SELECT * FROM (VALUES (1, 5.00), (1, 6.00)) t(id, amount)`,
      );
      await assert.rejects(
        h.runStep(
          sqlLoadStep,
          { connection: 'warehouse', input: 'bad', table: 'strict_sales', mode: 'upsert', keys: ['id'] },
          { stepId: 'publish' },
        ),
        rejectsWith('PW_INPUT_MALFORMED', /2 rows with the key id=1/),
      );
      await h.query(`CREATE OR REPLACE TABLE bad AS SELECT * FROM (VALUES (7, 5.00)) t(id, amount)`);
      await server.query(database, 'CREATE TABLE no_key (id int, amount numeric)');
      await assert.rejects(
        h.runStep(
          sqlLoadStep,
          { connection: 'warehouse', input: 'bad', table: 'no_key', mode: 'upsert', keys: ['id'] },
          { stepId: 'publish' },
        ),
        (error: unknown) =>
          error instanceof PwError &&
          error.code === 'PW_DB_QUERY' &&
          /PRIMARY KEY or UNIQUE index/.test(error.hint ?? ''),
      );
      await assert.rejects(
        h.runStep(
          sqlLoadStep,
          { connection: 'warehouse', input: 'bad', table: 'missing_table' },
          { stepId: 'publish' },
        ),
        rejectsWith('PW_DB_QUERY', /table missing_table does not exist/),
      );
    } finally {
      await h.close();
    }
  });

  test('sql.exec runs DDL and REFRESH MATERIALIZED VIEW; a failing batch is rolled back', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    const h = await harness();
    try {
      const exec = (config: Record<string, unknown>) =>
        h.runStep(sqlExecStep, { connection: 'warehouse', ...config }, { stepId: 'prepare' });
      await exec({
        statements:
          'CREATE TABLE facts (n int); INSERT INTO facts VALUES (1), (2); CREATE MATERIALIZED VIEW fact_total AS SELECT sum(n) AS total FROM facts',
      });
      const result = await exec({
        statements: 'INSERT INTO facts SELECT g FROM generate_series(3, 4) g',
        params: undefined,
      });
      assert.deepEqual(result.outputs, { rows_affected: 2 });
      await exec({ statements: 'REFRESH MATERIALIZED VIEW fact_total' });
      assert.deepEqual(await server.query(database, 'SELECT total::int AS total FROM fact_total'), [
        { total: 10 },
      ]);
      await exec({ statements: 'DELETE FROM facts WHERE n > :limit', params: { limit: 3 } });
      await assert.rejects(
        exec({ statements: 'DELETE FROM facts; SELECT * FROM nowhere' }),
        rejectsWith('PW_DB_QUERY', /statements \(rolled back\) failed: relation "nowhere" does not exist/),
      );
      assert.deepEqual(await server.query(database, 'SELECT n FROM facts ORDER BY n'), [
        { n: 1 },
        { n: 2 },
        { n: 3 },
      ]);
    } finally {
      await h.close();
    }
  });

  test('incremental: reads above the committed mark, and a run that is not committed reads again', async (t) => {
    if (!requireServer(t, server, 'PostgreSQL')) return;
    await server.query(
      database,
      `CREATE TABLE events (id int, updated_at timestamptz);
      INSERT INTO events VALUES (1, '2024-01-01 00:00:00.000001+00'), (2, '2024-01-01 00:00:00.000002+00'), (3, NULL)`,
    );
    const h = await harness();
    try {
      const config = {
        connection: 'warehouse',
        query: 'SELECT id, updated_at FROM events WHERE id < :limit',
        params: { limit: 100 },
        incremental: { cursor: 'updated_at' },
      };
      const run = async () => {
        const result = await h.runStep(sqlQueryStep, config, { stepId: 'events' });
        return {
          result,
          ids: (await h.query<{ id: number }>('SELECT id FROM events ORDER BY id')).map((row) => row.id),
        };
      };
      const first = await run();
      assert.deepEqual(first.ids, [1, 2]);
      assert.deepEqual(first.result.outputs?.incremental, {
        cursor: 'updated_at',
        since: null,
        until: '2024-01-01 00:00:00.000002+00',
      });
      h.marks.commit();
      await server.query(
        database,
        `INSERT INTO events VALUES (4, '2024-01-01 00:00:00.000003+00'), (5, '2024-02-01 00:00:00+00')`,
      );
      const second = await run();
      assert.deepEqual(second.ids, [4, 5]);
      // Not committed (the run failed): the next run reads the same window again.
      const again = await run();
      assert.deepEqual(again.ids, [4, 5]);
      h.marks.commit();
      const empty = await run();
      assert.deepEqual(empty.ids, []);
      assert.equal(empty.result.rows, 0);
      assert.deepEqual(await h.columnTypes('events'), {
        id: 'INTEGER',
        updated_at: 'TIMESTAMP WITH TIME ZONE',
      });
    } finally {
      await h.close();
    }
  });
});
