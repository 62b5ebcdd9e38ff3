/**
 * sql.query, sql.load and sql.exec on a SQLite file in the project: declared types with SQLite's
 * affinity rules, values checked against them (SQLite stores anything anywhere), 64-bit integers and
 * wide decimals kept exact, loads in one transaction with the offending row named, read-only queries.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { PwError } from '../../core/errors/pw-error.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { sqlQueryStep } from '../../steps/extract/sql-query.js';
import { sqlLoadStep } from '../../steps/load/sql-load.js';
import { sqlExecStep } from '../../steps/transform/sql-exec.js';

async function harness(): Promise<StepHarness> {
  return createStepHarness({ connections: { local: { type: 'sqlite', path: 'data/app.db' } } });
}

function sqlite(h: StepHarness): Database.Database {
  return new Database(`${h.projectDir}/data/app.db`);
}

async function withDb<T>(h: StepHarness, work: (db: Database.Database) => T): Promise<T> {
  await h.writeFile('data/.keep', '');
  const db = sqlite(h);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

describe('SQLite connector', () => {
  test('declared types map by affinity, undeclared ones by their values, big integers stay exact', async () => {
    const h = await harness();
    try {
      await withDb(h, (db) => {
        db.exec(`CREATE TABLE things (id INTEGER PRIMARY KEY, big BIGINT, name VARCHAR(20), note TEXT, ratio REAL, price DECIMAL(20,6),
          day DATE, at DATETIME, flag BOOLEAN, raw BLOB, doc JSON, loose);
          INSERT INTO things VALUES (1, 9007199254740993, 'Zoë', NULL, 1.5, '1234.123456', '2024-02-29', '2024-02-29 10:11:12.5', 1, x'00ff', '{"a":1}', 7),
                                    (2, NULL, NULL, 'x', NULL, 3, NULL, NULL, 0, NULL, NULL, 8)`);
      });
      const result = await h.runStep(
        sqlQueryStep,
        {
          connection: 'local',
          query: 'SELECT *, count(*) OVER () AS n, 2.5 * id AS calc FROM things ORDER BY id',
        },
        { stepId: 'things' },
      );
      assert.equal(result.rows, 2);
      assert.deepEqual(await h.columnTypes('things'), {
        id: 'BIGINT',
        big: 'BIGINT',
        name: 'VARCHAR',
        note: 'VARCHAR',
        ratio: 'DOUBLE',
        price: 'DECIMAL(20,6)',
        day: 'DATE',
        at: 'TIMESTAMP',
        flag: 'BOOLEAN',
        raw: 'BLOB',
        doc: 'JSON',
        loose: 'BIGINT',
        n: 'BIGINT',
        calc: 'DOUBLE',
      });
      assert.deepEqual(
        await h.query(
          `SELECT big::VARCHAR AS big, name, price::VARCHAR AS price, day::VARCHAR AS day, "at"::VARCHAR AS at, flag, raw, doc::VARCHAR AS doc, loose, calc FROM things ORDER BY id`,
        ),
        [
          {
            big: '9007199254740993',
            name: 'Zoë',
            price: '1234.123456',
            day: '2024-02-29',
            at: '2024-02-29 10:11:12.5',
            flag: true,
            raw: Buffer.from([0, 255]),
            doc: '{"a":1}',
            loose: 7,
            calc: 2.5,
          },
          {
            big: null,
            name: null,
            price: '3.000000',
            day: null,
            at: null,
            flag: false,
            raw: null,
            doc: null,
            loose: 8,
            calc: 5,
          },
        ],
      );
    } finally {
      await h.close();
    }
  });

  test('a value that does not fit its declared type fails naming the row; columns: reads it as text', async () => {
    const h = await harness();
    try {
      await withDb(h, (db) => {
        db.exec(
          `CREATE TABLE dirty (id INTEGER, qty INTEGER); INSERT INTO dirty VALUES (1, 5), (2, 'five'), (3, 6)`,
        );
      });
      await assert.rejects(
        h.runStep(
          sqlQueryStep,
          { connection: 'local', query: 'SELECT * FROM dirty ORDER BY id' },
          { stepId: 'dirty' },
        ),
        (error: unknown) =>
          error instanceof PwError &&
          error.code === 'PW_DB_TYPE' &&
          /^Step 'dirty', connection 'local' \(sqlite, data\/app\.db\): row 2, column 'qty' \(declared INTEGER\) holds text 'five', which is not a BIGINT$/.test(
            error.message,
          ),
      );
      await h.runStep(
        sqlQueryStep,
        { connection: 'local', query: 'SELECT * FROM dirty ORDER BY id', columns: { qty: 'VARCHAR' } },
        { stepId: 'dirty' },
      );
      assert.deepEqual(
        (await h.query<{ qty: string }>('SELECT qty FROM dirty')).map((row) => row.qty),
        ['5', 'five', '6'],
      );
    } finally {
      await h.close();
    }
  });

  test('queries are read-only and a missing file is PW_INPUT_NOT_FOUND', async () => {
    const h = await harness();
    try {
      await assert.rejects(
        h.runStep(sqlQueryStep, { connection: 'local', query: 'SELECT 1' }, { stepId: 'probe' }),
        (error: unknown) =>
          error instanceof PwError &&
          error.code === 'PW_INPUT_NOT_FOUND' &&
          /cannot open .*app\.db/.test(error.message),
      );
      await withDb(h, (db) => db.exec('CREATE TABLE t (n INTEGER)'));
      await assert.rejects(
        h.runStep(
          sqlQueryStep,
          { connection: 'local', query: 'INSERT INTO t VALUES (1) RETURNING n' },
          { stepId: 'probe' },
        ),
        (error: unknown) =>
          error instanceof PwError && error.code === 'PW_DB_QUERY' && /readonly/i.test(error.message),
      );
    } finally {
      await h.close();
    }
  });

  test('sql.load round-trips types, upserts by key and rolls back a violating load', async () => {
    const h = await harness();
    try {
      await h.writeFile('data/.keep', '');
      await h.query(`CREATE TABLE orders AS SELECT * FROM (VALUES
        (1, 'alpha', 12345678901234.123456::DECIMAL(20,6), TIMESTAMPTZ '2024-01-01 10:00:00.5+00', true, 18446744073709551615::UBIGINT, [1, 2]),
        (2, 'beta', NULL, NULL, false, NULL, NULL)) t(id, name, amount, ts, paid, huge, tags)`);
      const load = (config: Record<string, unknown>) =>
        h.runStep(
          sqlLoadStep,
          { connection: 'local', input: 'orders', table: 'orders', ...config },
          { stepId: 'publish' },
        );
      await load({ mode: 'upsert', keys: ['id'], create_if_missing: true });
      await h.runStep(
        sqlQueryStep,
        { connection: 'local', query: 'SELECT * FROM orders ORDER BY id' },
        { stepId: 'back' },
      );
      assert.deepEqual(await h.columnTypes('back'), {
        id: 'BIGINT',
        name: 'VARCHAR',
        amount: 'DECIMAL(20,6)',
        ts: 'TIMESTAMP WITH TIME ZONE',
        paid: 'BOOLEAN',
        huge: 'DECIMAL(20,0)',
        tags: 'JSON',
      });
      assert.deepEqual(
        await h.query(
          'SELECT amount::VARCHAR AS amount, ts::VARCHAR AS ts, paid, huge::VARCHAR AS huge, tags::VARCHAR AS tags FROM back ORDER BY id',
        ),
        [
          {
            amount: '12345678901234.123456',
            ts: '2024-01-01 10:00:00.5+00',
            paid: true,
            huge: '18446744073709551615',
            tags: '[1,2]',
          },
          { amount: null, ts: null, paid: false, huge: null, tags: null },
        ],
      );
      await h.query(
        `CREATE OR REPLACE TABLE orders AS SELECT * FROM (VALUES (2, 'beta-2'), (3, 'gamma')) t(id, name)`,
      );
      await load({ mode: 'upsert', keys: ['id'] });
      await withDb(h, (db) => {
        assert.deepEqual(db.prepare('SELECT id, name FROM orders ORDER BY id').raw().all(), [
          [1, 'alpha'],
          [2, 'beta-2'],
          [3, 'gamma'],
        ]);
        db.exec(
          'CREATE TABLE strict_sales (id INTEGER PRIMARY KEY, amount REAL NOT NULL); INSERT INTO strict_sales VALUES (100, 1)',
        );
      });
      await h.query(`CREATE TABLE bad AS SELECT * FROM (VALUES (1, 5.0), (2, NULL)) t(id, amount)`);
      await assert.rejects(
        h.runStep(
          sqlLoadStep,
          { connection: 'local', input: 'bad', table: 'strict_sales', mode: 'replace' },
          { stepId: 'publish' },
        ),
        (error: unknown) =>
          error instanceof PwError &&
          error.code === 'PW_DB_CONSTRAINT' &&
          /NOT NULL constraint failed: strict_sales\.amount \(SQLITE_CONSTRAINT_NOTNULL\) \(row 2 of the dataset\)/.test(
            error.message,
          ),
      );
      await withDb(h, (db) =>
        assert.deepEqual(db.prepare('SELECT id, amount FROM strict_sales').raw().all(), [[100, 1]]),
      );
      assert.deepEqual(
        h.loads.map((entry) => [entry.target, entry.status]),
        [
          ['local:orders', 'succeeded'],
          ['local:orders', 'succeeded'],
          ['local:strict_sales', 'failed'],
        ],
      );
    } finally {
      await h.close();
    }
  });

  test('incremental by an integer cursor beyond 2^53; a connection of another type is refused', async () => {
    const h = await createStepHarness({
      connections: {
        local: { type: 'sqlite', path: 'data/app.db' },
        mail: { type: 'smtp', host: 'localhost' },
      },
    });
    try {
      await withDb(h, (db) => {
        db.exec(
          "CREATE TABLE log (seq INTEGER, msg TEXT); INSERT INTO log VALUES (9007199254740993, 'a'), (9007199254740994, 'b')",
        );
      });
      const run = async () => {
        const result = await h.runStep(
          sqlQueryStep,
          { connection: 'local', query: 'SELECT seq, msg FROM log', incremental: { cursor: 'seq' } },
          { stepId: 'log' },
        );
        return {
          result,
          msgs: (await h.query<{ msg: string }>('SELECT msg FROM log ORDER BY seq')).map((row) => row.msg),
        };
      };
      assert.deepEqual((await run()).msgs, ['a', 'b']);
      h.marks.commit();
      assert.deepEqual(h.marks.committed.get('log'), {
        cursor: 'seq',
        value: { type: 'bigint', value: '9007199254740994' },
      });
      await withDb(h, (db) => db.exec("INSERT INTO log VALUES (9007199254740995, 'c')"));
      const second = await run();
      assert.deepEqual(second.msgs, ['c']);
      assert.deepEqual(second.result.outputs?.incremental, {
        cursor: 'seq',
        since: '9007199254740994',
        until: '9007199254740995',
      });
      await assert.rejects(
        h.runStep(sqlQueryStep, { connection: 'mail', query: 'SELECT 1' }, { stepId: 'probe' }),
        (error: unknown) =>
          error instanceof PwError &&
          error.code === 'PW_CONNECTION_UNKNOWN' &&
          /has type 'smtp'/.test(error.message),
      );
    } finally {
      await h.close();
    }
  });

  test('sql.exec runs a script in one transaction', async () => {
    const h = await harness();
    try {
      await h.writeFile('data/.keep', '');
      const exec = (statements: string) =>
        h.runStep(sqlExecStep, { connection: 'local', statements }, { stepId: 'prepare' });
      const result = await exec('CREATE TABLE facts (n INTEGER); INSERT INTO facts VALUES (1), (2);');
      assert.deepEqual(result.outputs, { rows_affected: 2 });
      await assert.rejects(
        exec('DELETE FROM facts; INSERT INTO nowhere VALUES (1)'),
        (error: unknown) => error instanceof PwError && error.code === 'PW_DB_QUERY',
      );
      await withDb(h, (db) =>
        assert.deepEqual(db.prepare('SELECT n FROM facts ORDER BY n').pluck().all(), [1, 2]),
      );
    } finally {
      await h.close();
    }
  });
});
