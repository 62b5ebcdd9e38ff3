/**
 * sql.query, sql.load and sql.exec against a real MariaDB (a throwaway database and users per test
 * file): type fidelity, a wrong password, batched loads in one transaction with the offending row
 * named, upserts by a unique key, incremental marks, and the connection faults.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { sqlQueryStep } from '../../steps/extract/sql-query.js';
import { sqlLoadStep } from '../../steps/load/sql-load.js';
import { sqlExecStep } from '../../steps/transform/sql-exec.js';
import {
  fakeMariadbTls,
  MariadbServer,
  requireServer,
  selfSignedCertificate,
  silentServer,
} from './test-servers.js';

const server = await MariadbServer.connect();
const PASSWORD = 'Maria-Secret-4471';
let database = '';
let user = '';

before(async () => {
  if (typeof server === 'string') return;
  database = await server.createDatabase();
  user = await server.createUser(database, PASSWORD);
});

async function harness(
  extra: Record<string, Record<string, unknown> & { type: string }> = {},
): Promise<StepHarness> {
  const { host, port } = MariadbServer.adminOptions();
  return createStepHarness({
    connections: {
      shop: { type: 'mariadb', host, port, user, password: '${env:SHOP_PASSWORD}', database },
      ...extra,
    },
    env: { SHOP_PASSWORD: PASSWORD },
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

describe('MariaDB connector', () => {
  test('sql.query maps types faithfully (DECIMAL, DATETIME, TIMESTAMP in UTC, JSON, BLOB, unsigned)', async (t) => {
    if (!requireServer(t, server, 'MariaDB')) return;
    await server.query(
      database,
      `CREATE TABLE types (
      id BIGINT PRIMARY KEY, amount DECIMAL(20,6), local_at DATETIME(6), stamp TIMESTAMP(3) NULL, day DATE, doc JSON,
      raw BLOB, name VARCHAR(20), huge BIGINT UNSIGNED, kind ENUM('a','b'), tags SET('x','y'), flag BIT(1), span TIME(6),
      ratio DOUBLE, small TINYINT)`,
    );
    await server.query(
      database,
      `INSERT INTO types VALUES
      (1, 12345678901234.123456, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123', '2024-02-29', '{"a": [1, 2]}',
       x'00ff', 'Zoë', 18446744073709551615, 'b', 'x,y', b'1', '12:34:56.5', 1.25, -5),
      (2, NULL, NULL, NULL, '0000-00-00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    );
    const h = await harness();
    try {
      const result = await h.runStep(
        sqlQueryStep,
        { connection: 'shop', query: 'SELECT * FROM types ORDER BY id' },
        { stepId: 'types' },
      );
      assert.equal(result.rows, 2);
      assert.deepEqual(result.warnings, ["column 'day': 1 zero date(s) (0000-00-00) read as NULL"]);
      assert.deepEqual(await h.columnTypes('types'), {
        id: 'BIGINT',
        amount: 'DECIMAL(20,6)',
        local_at: 'TIMESTAMP',
        stamp: 'TIMESTAMP WITH TIME ZONE',
        day: 'DATE',
        doc: 'JSON',
        raw: 'BLOB',
        name: 'VARCHAR',
        huge: 'UBIGINT',
        kind: 'VARCHAR',
        tags: 'VARCHAR[]',
        flag: 'BOOLEAN',
        span: 'TIME',
        ratio: 'DOUBLE',
        small: 'TINYINT',
      });
      const rows =
        await h.query(`SELECT amount::VARCHAR AS amount, local_at::VARCHAR AS local_at, stamp::VARCHAR AS stamp, day::VARCHAR AS day,
        doc::VARCHAR AS doc, raw, name, huge::VARCHAR AS huge, kind, tags, flag, span::VARCHAR AS span, ratio, small FROM types ORDER BY id`);
      assert.deepEqual(rows[0], {
        amount: '12345678901234.123456',
        local_at: '2024-01-02 03:04:05.123456',
        stamp: '2024-01-02 03:04:05.123+00',
        day: '2024-02-29',
        doc: '{"a": [1, 2]}',
        raw: Buffer.from([0x00, 0xff]),
        name: 'Zoë',
        huge: '18446744073709551615',
        kind: 'b',
        tags: ['x', 'y'],
        flag: true,
        span: '12:34:56.5',
        ratio: 1.25,
        small: -5,
      });
      assert.ok(Object.values(rows[1] ?? {}).every((value) => value === null));
    } finally {
      await h.close();
    }
  });

  test('a wrong password is PW_DB_AUTH and the password shows nowhere', async (t) => {
    if (!requireServer(t, server, 'MariaDB')) return;
    const { host, port } = MariadbServer.adminOptions();
    const h = await createStepHarness({
      connections: {
        shop: { type: 'mariadb', url: `mariadb://${user}:\${env:SHOP_PASSWORD}@${host}:${port}/${database}` },
      },
      env: { SHOP_PASSWORD: `${PASSWORD}-wrong` },
    });
    try {
      await assert.rejects(
        h.runStep(sqlQueryStep, { connection: 'shop', query: 'SELECT 1' }, { stepId: 'probe' }),
        (error: unknown) => {
          assert.ok(error instanceof PwError);
          assert.equal(error.code, 'PW_DB_AUTH');
          assert.match(
            error.message,
            new RegExp(
              `^Step 'probe', connection 'shop' \\(mariadb, ${user}@${host}:${port}/${database}\\): connecting failed: Access denied for user '${user}'`,
            ),
          );
          assert.doesNotMatch(`${error.message} ${error.hint ?? ''} ${error.stack ?? ''}`, /Maria-Secret/);
          return true;
        },
      );
    } finally {
      await h.close();
    }
  });

  test('sql.query streams in batches with bound params; a query error names step and connection', async (t) => {
    if (!requireServer(t, server, 'MariaDB')) return;
    await server.query(database, 'CREATE TABLE many (id INT PRIMARY KEY, name VARCHAR(40))');
    await server.query(database, "INSERT INTO many SELECT seq, CONCAT('name ', seq) FROM seq_1_to_20000");
    const h = await harness();
    try {
      const result = await h.runStep(
        sqlQueryStep,
        {
          connection: 'shop',
          query: 'SELECT id, name FROM many WHERE id > :low AND name <> :evil',
          params: { low: 10, evil: "x' OR '1'='1" },
          batch_size: 333,
        },
        { stepId: 'many' },
      );
      assert.equal(result.rows, 19990);
      assert.deepEqual(await h.query('SELECT sum(id)::BIGINT AS total FROM many'), [
        { total: (20000 * 20001) / 2 - 55 },
      ]);
      await assert.rejects(
        h.runStep(
          sqlQueryStep,
          { connection: 'shop', query: 'SELECT * FROM no_such_table' },
          { stepId: 'broken' },
        ),
        rejectsWith(
          'PW_DB_QUERY',
          /^Step 'broken', connection 'shop' \(mariadb, .*\): query failed: Table '.*\.no_such_table' doesn't exist \(error 1146, SQLSTATE 42S02\)$/,
        ),
      );
    } finally {
      await h.close();
    }
  });

  test('sql.load: create, append, replace, upsert (by a unique key) and create_if_missing', async (t) => {
    if (!requireServer(t, server, 'MariaDB')) return;
    const h = await harness();
    try {
      await h.query(`CREATE TABLE orders AS SELECT * FROM (VALUES
        (1, 'alpha', 10.50::DECIMAL(10,2), TIMESTAMPTZ '2024-01-01 10:00:00.123456+00', true, '\\x01'::BLOB),
        (2, 'b"e\\ta', NULL, NULL, false, NULL)) t(id, name, amount, ts, paid, raw)`);
      const load = (config: Record<string, unknown>) =>
        h.runStep(
          sqlLoadStep,
          { connection: 'shop', input: 'orders', table: 'orders', ...config },
          { stepId: 'publish' },
        );
      await load({ mode: 'create' });
      const read = () =>
        server.query<
          {
            id: bigint;
            name: string;
            amount: string | null;
            ts: string | null;
            paid: number;
            raw: Buffer | null;
          }[]
        >(
          database,
          "SELECT id, name, amount, DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f') AS ts, paid, raw FROM orders ORDER BY id, name",
        );
      const first = await read();
      assert.deepEqual(
        first.map((row) => [
          Number(row.id),
          row.name,
          row.amount,
          row.ts,
          Number(row.paid),
          row.raw?.toString('hex') ?? null,
        ]),
        [
          [1, 'alpha', '10.50', '2024-01-01 10:00:00.123456', 1, '01'],
          [2, 'b"e\\ta', null, null, 0, null],
        ],
      );
      await load({ mode: 'append' });
      assert.equal((await read()).length, 4);
      await load({ mode: 'replace' });
      assert.equal((await read()).length, 2);
      await assert.rejects(
        load({ mode: 'upsert', keys: ['id'] }),
        rejectsWith('PW_DB_QUERY', /no PRIMARY KEY or UNIQUE index on exactly \(id\)/),
      );
      await server.query(database, 'ALTER TABLE orders ADD PRIMARY KEY (id)');
      await h.query(
        `CREATE OR REPLACE TABLE orders AS SELECT * FROM (VALUES (2, 'beta-2'), (3, 'gamma')) t(id, name)`,
      );
      await load({ mode: 'upsert', keys: ['id'] });
      assert.deepEqual(
        (await read()).map((row) => [Number(row.id), row.name, row.amount]),
        [
          [1, 'alpha', '10.50'],
          [2, 'beta-2', null],
          [3, 'gamma', null],
        ],
      );
      await load({ mode: 'upsert', keys: ['name'], table: 'by_name', create_if_missing: true });
      const created = await server.query<{ COLUMN_NAME: string; COLUMN_KEY: string }[]>(
        database,
        "SELECT COLUMN_NAME, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'by_name' ORDER BY ORDINAL_POSITION",
      );
      assert.deepEqual(
        created.map((row) => [row.COLUMN_NAME, row.COLUMN_KEY]),
        [
          ['id', ''],
          ['name', 'PRI'],
        ],
      );
      assert.deepEqual(
        h.loads.map((entry) => entry.status),
        ['succeeded', 'succeeded', 'succeeded', 'failed', 'succeeded', 'succeeded'],
      );
    } finally {
      await h.close();
    }
  });

  test('sql.load: a violating row commits nothing and is named; a table the load created is dropped again', async (t) => {
    if (!requireServer(t, server, 'MariaDB')) return;
    await server.query(
      database,
      'CREATE TABLE strict_sales (id INT PRIMARY KEY, amount DECIMAL(8,2) NOT NULL)',
    );
    await server.query(database, 'INSERT INTO strict_sales VALUES (100, 1.00)');
    const h = await harness();
    try {
      await h.query(
        `CREATE TABLE bad AS SELECT * FROM (VALUES (1, 5.00), (2, 6.00), (3, NULL), (4, 1.00)) t(id, amount)`,
      );
      for (const mode of ['append', 'replace']) {
        await assert.rejects(
          h.runStep(
            sqlLoadStep,
            { connection: 'shop', input: 'bad', table: 'strict_sales', mode },
            { stepId: 'publish' },
          ),
          rejectsWith(
            'PW_DB_CONSTRAINT',
            /load into strict_sales failed, nothing committed: Column 'amount' cannot be null .*row 3 of the dataset/,
          ),
        );
      }
      assert.deepEqual(
        (
          await server.query<{ id: number; amount: string }[]>(
            database,
            'SELECT id, amount FROM strict_sales',
          )
        ).map((row) => [row.id, row.amount]),
        [[100, '1.00']],
      );
      // A date MariaDB cannot store, in a table the load creates: the table goes again.
      await h.query(
        `CREATE OR REPLACE TABLE bad AS SELECT * FROM (VALUES (1, DATE '2024-01-01'), (2, '0044-03-15 (BC)'::DATE)) t(id, day)`,
      );
      await assert.rejects(
        h.runStep(
          sqlLoadStep,
          { connection: 'shop', input: 'bad', table: 'made_here', mode: 'create' },
          { stepId: 'publish' },
        ),
        rejectsWith('PW_DB_CONSTRAINT', /Incorrect date value.*row 2 of the dataset/),
      );
      assert.deepEqual(await server.query<unknown[]>(database, "SHOW TABLES LIKE 'made_here'"), []);
      await server.query(database, 'CREATE TABLE keyed (id INT PRIMARY KEY, name TEXT)');
      await h.query(
        `CREATE OR REPLACE TABLE bad AS SELECT * FROM (VALUES (7, 'a'), (8, 'b'), (7, 'c')) t(id, name)`,
      );
      await assert.rejects(
        h.runStep(sqlLoadStep, { connection: 'shop', input: 'bad', table: 'keyed' }, { stepId: 'publish' }),
        rejectsWith('PW_DB_CONSTRAINT', /Duplicate entry '7' for key 'PRIMARY' .*row 3 of the dataset/),
      );
      assert.deepEqual(await server.query<unknown[]>(database, 'SELECT * FROM keyed'), []);
    } finally {
      await h.close();
    }
  });

  test('sql.exec runs several statements in one transaction, rolled back on failure', async (t) => {
    if (!requireServer(t, server, 'MariaDB')) return;
    const h = await harness();
    try {
      const exec = (config: Record<string, unknown>) =>
        h.runStep(sqlExecStep, { connection: 'shop', ...config }, { stepId: 'prepare' });
      await exec({ statements: 'CREATE TABLE facts (n INT)', transaction: false });
      const result = await exec({
        statements: 'INSERT INTO facts VALUES (1), (2); INSERT INTO facts VALUES (3)',
      });
      assert.deepEqual(result.outputs, { rows_affected: 3 });
      await assert.rejects(
        exec({ statements: 'DELETE FROM facts; SELECT * FROM nowhere' }),
        rejectsWith('PW_DB_QUERY', /statements \(rolled back\) failed/),
      );
      await exec({ statements: 'DELETE FROM facts WHERE n > :limit', params: { limit: 2 } });
      assert.deepEqual(
        (await server.query<{ n: number }[]>(database, 'SELECT n FROM facts ORDER BY n')).map((row) => row.n),
        [1, 2],
      );
    } finally {
      await h.close();
    }
  });

  test('incremental by a DATETIME(6) cursor keeps microseconds and re-reads an uncommitted window', async (t) => {
    if (!requireServer(t, server, 'MariaDB')) return;
    await server.query(database, 'CREATE TABLE events (id INT, updated_at DATETIME(6))');
    await server.query(
      database,
      "INSERT INTO events VALUES (1, '2024-01-01 00:00:00.000001'), (2, '2024-01-01 00:00:00.000002')",
    );
    const h = await harness();
    try {
      const run = async () => {
        const result = await h.runStep(
          sqlQueryStep,
          { connection: 'shop', query: 'SELECT * FROM events', incremental: { cursor: 'updated_at' } },
          { stepId: 'events' },
        );
        return {
          result,
          ids: (await h.query<{ id: number }>('SELECT id FROM events ORDER BY id')).map((row) => row.id),
        };
      };
      assert.deepEqual((await run()).ids, [1, 2]);
      h.marks.commit();
      await server.query(database, "INSERT INTO events VALUES (3, '2024-01-01 00:00:00.000003')");
      const second = await run();
      assert.deepEqual(second.ids, [3]);
      assert.deepEqual(second.result.outputs?.incremental, {
        cursor: 'updated_at',
        since: '2024-01-01 00:00:00.000002',
        until: '2024-01-01 00:00:00.000003',
      });
      assert.deepEqual((await run()).ids, [3]);
    } finally {
      await h.close();
    }
  });

  test('unreachable, silent, TLS-failing and TLS-less servers fail with their own codes', async (t) => {
    if (!requireServer(t, server, 'MariaDB')) return;
    const certificate = selfSignedCertificate();
    if (!requireServer(t, certificate, 'openssl')) return;
    const silent = await silentServer();
    const tls = await fakeMariadbTls(certificate);
    const { host, port } = MariadbServer.adminOptions();
    const h = await harness({
      refused: { type: 'mariadb', host: '127.0.0.1', port: 1, user: 'x', password: PASSWORD },
      silent: {
        type: 'mariadb',
        host: '127.0.0.1',
        port: silent.port,
        user: 'x',
        password: PASSWORD,
        connect_timeout: '400ms',
      },
      selfsigned: {
        type: 'mariadb',
        host: '127.0.0.1',
        port: tls.port,
        user: 'x',
        password: PASSWORD,
        ssl: true,
        connect_timeout: '3s',
      },
      notls: { type: 'mariadb', host, port, user, password: PASSWORD, ssl: true },
    });
    try {
      const query = (connection: string) =>
        h.runStep(sqlQueryStep, { connection, query: 'SELECT 1' }, { stepId: 'probe' });
      await assert.rejects(query('refused'), rejectsWith('PW_DB_UNREACHABLE', /ECONNREFUSED/));
      const started = Date.now();
      await assert.rejects(query('silent'), rejectsWith('PW_DB_UNREACHABLE', /no answer within 400ms/));
      assert.ok(Date.now() - started < 3000);
      await assert.rejects(
        query('selfsigned'),
        rejectsWith('PW_DB_TLS', /TLS failed: self-signed certificate/),
      );
      await assert.rejects(query('notls'), rejectsWith('PW_DB_TLS', /ssl not enabled in the server/));
    } finally {
      await h.close();
      await silent.close();
      await tls.close();
    }
  });
});
