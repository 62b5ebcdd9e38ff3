/**
 * End to end through the real CLI, against the PostgreSQL and MariaDB servers of the machine:
 * CSV → sql.load upsert into PostgreSQL (values checked against the file, the data-load ledger written),
 * PostgreSQL → sql.query → files.write Parquet with type fidelity, incremental extraction over runs
 * with a failed run in between that does not advance the mark, `pipewright connections test`, and no
 * secret anywhere a failing run wrote.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { MariadbServer, PgServer, requireServer } from '../../src/connectors/sql/test-servers.js';
import {
  assertExit,
  assertNoStackTrace,
  duckQuery,
  listFiles,
  makeProject,
  parquetColumns,
  parseJson,
  removeDir,
  runCli,
  showRun,
  sqlString,
  type RunJson,
} from './cli-harness.js';

const pgServer = await PgServer.connect();
const mariaServer = await MariadbServer.connect();
const PG_PASSWORD = 'e2e-Pg-Secret-5519';
const MARIA_PASSWORD = 'e2e-Maria-Secret-8830';
let database = '';
const projects: string[] = [];

before(async () => {
  if (typeof pgServer !== 'string') database = await pgServer.createDatabase();
});
after(async () => {
  for (const dir of projects) await removeDir(dir);
});

/** The database URL with a password that trust authentication ignores, so it must be masked everywhere. */
function warehouseUrl(): string {
  if (typeof pgServer === 'string') return '';
  const url = new URL(pgServer.url(database));
  url.password = PG_PASSWORD;
  return url.toString();
}

const PROJECT_FILE = `name: e2e
timezone: UTC
connections:
  warehouse: { type: postgres, url: "\${env:WAREHOUSE_URL}" }
`;

async function project(prefix: string, files: Record<string, string>): Promise<string> {
  const dir = await makeProject(prefix, { 'pipewright.yaml': PROJECT_FILE, ...files });
  projects.push(dir);
  return dir;
}

function run(dir: string, args: string[], env: Record<string, string> = {}) {
  return runCli(args, { cwd: dir, env: { WAREHOUSE_URL: warehouseUrl(), ...env } });
}

describe('SQL connectors end to end', () => {
  test('CSV → sql.load upsert into PostgreSQL: values match the file, reruns update, the ledger records each load', async (t) => {
    if (!requireServer(t, pgServer, 'PostgreSQL')) return;
    const csv = (rows: string[]) => ['id,name,balance,joined_at,vip', ...rows, ''].join('\n');
    const dir = await project('sql-upsert', {
      'data/customers.csv': csv([
        '1,Ada Lovelace,1200.50,2024-01-02 10:00:00,true',
        '2,"Doe, Jane",0.00,2024-02-03 11:30:00,false',
        '3,Zoë Ünal,-15.25,2024-03-04 12:45:30,true',
        '4,"Say ""hi""",99999.99,2024-04-05 00:00:00,',
      ]),
      'pipelines/customers.yaml': `id: customers
steps:
  - id: customers
    uses: files.read
    with: { path: data/customers.csv, columns: { balance: "DECIMAL(12,2)" } }
  - id: publish
    uses: sql.load
    with: { connection: warehouse, input: customers, table: public.customers, mode: upsert, keys: [id], create_if_missing: true }
`,
    });
    const first = await run(dir, ['run', 'customers']);
    assertExit(first, 0, 'first run');
    const read = () =>
      pgServer.query(
        database,
        `SELECT id, name, balance::text AS balance, to_char(joined_at, 'YYYY-MM-DD HH24:MI:SS') AS joined_at, vip FROM public.customers ORDER BY id`,
      );
    assert.deepEqual(await read(), [
      { id: '1', name: 'Ada Lovelace', balance: '1200.50', joined_at: '2024-01-02 10:00:00', vip: true },
      { id: '2', name: 'Doe, Jane', balance: '0.00', joined_at: '2024-02-03 11:30:00', vip: false },
      { id: '3', name: 'Zoë Ünal', balance: '-15.25', joined_at: '2024-03-04 12:45:30', vip: true },
      { id: '4', name: 'Say "hi"', balance: '99999.99', joined_at: '2024-04-05 00:00:00', vip: null },
    ]);
    const [pk] = await pgServer.query(
      database,
      `SELECT string_agg(a.attname, ',') AS columns FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'public.customers'::regclass AND i.indisprimary`,
    );
    assert.equal(pk?.columns, 'id');

    await writeFile(
      join(dir, 'data/customers.csv'),
      csv(['2,Jane Doe,10.00,2024-02-03 11:30:00,true', '5,New Person,5.55,2024-05-06 07:08:09,false']),
    );
    assertExit(await run(dir, ['run', 'customers']), 0, 'second run');
    assert.deepEqual(
      (await read()).map((row) => [row.id, row.name, row.balance, row.vip]),
      [
        ['1', 'Ada Lovelace', '1200.50', true],
        ['2', 'Jane Doe', '10.00', true],
        ['3', 'Zoë Ünal', '-15.25', true],
        ['4', 'Say "hi"', '99999.99', null],
        ['5', 'New Person', '5.55', false],
      ],
    );
    const state = new Database(join(dir, '.pipewright', 'state.db'), { readonly: true });
    try {
      const loads = state
        .prepare('SELECT pipeline_id, step_id, target, source, rows, status FROM data_loads ORDER BY id')
        .all();
      assert.deepEqual(loads, [
        {
          pipeline_id: 'customers',
          step_id: 'publish',
          target: 'warehouse:public.customers',
          source: 'customers',
          rows: 4,
          status: 'succeeded',
        },
        {
          pipeline_id: 'customers',
          step_id: 'publish',
          target: 'warehouse:public.customers',
          source: 'customers',
          rows: 2,
          status: 'succeeded',
        },
      ]);
    } finally {
      state.close();
    }
  });

  test('PostgreSQL → sql.query → files.write Parquet keeps the types and NULLs', async (t) => {
    if (!requireServer(t, pgServer, 'PostgreSQL')) return;
    await pgServer.query(
      database,
      `CREATE TABLE typed (id int PRIMARY KEY, amount numeric(20,6), at timestamptz, doc jsonb, ints int[], raw bytea);
      INSERT INTO typed VALUES
        (1, 98765432109876.543210, '2024-06-30 23:59:59.999999+02', '{"k": [1, {"x": null}]}', '{3,1,2}', '\\xdeadbeef'),
        (2, NULL, NULL, NULL, NULL, NULL),
        (3, -0.000001, '1970-01-01 00:00:00+00', '[]', '{}', '\\x')`,
    );
    const dir = await project('sql-parquet', {
      'pipelines/export.yaml': `id: export
steps:
  - id: typed
    uses: sql.query
    with: { connection: warehouse, query: "SELECT * FROM typed ORDER BY id" }
  - id: save
    uses: files.write
    with: { input: typed, path: out/typed.parquet }
`,
    });
    const result = await run(dir, ['run', 'export']);
    assertExit(result, 0, 'export');
    const file = join(dir, 'out', 'typed.parquet');
    assert.deepEqual(await parquetColumns(file), [
      { name: 'id', type: 'INTEGER' },
      { name: 'amount', type: 'DECIMAL(20,6)' },
      { name: 'at', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'doc', type: 'JSON' },
      { name: 'ints', type: 'INTEGER[]' },
      { name: 'raw', type: 'BLOB' },
    ]);
    const rows = await duckQuery(
      `SET TimeZone = 'UTC'; SELECT id, amount::VARCHAR AS amount, "at"::VARCHAR AS at, doc::VARCHAR AS doc, ints, hex(raw) AS raw FROM read_parquet(${sqlString(file)}) ORDER BY id`,
    );
    assert.deepEqual(rows, [
      {
        id: 1,
        amount: '98765432109876.543210',
        at: '2024-06-30 21:59:59.999999+00',
        doc: '{"k": [1, {"x": null}]}',
        ints: [3, 1, 2],
        raw: 'DEADBEEF',
      },
      { id: 2, amount: null, at: null, doc: null, ints: null, raw: null },
      { id: 3, amount: '-0.000001', at: '1970-01-01 00:00:00+00', doc: '[]', ints: [], raw: '' },
    ]);
  });

  test('incremental: a failed run does not advance the mark, so the next run reads the same window', async (t) => {
    if (!requireServer(t, pgServer, 'PostgreSQL')) return;
    await pgServer.query(
      database,
      `CREATE TABLE events (id int, updated_at timestamptz);
      INSERT INTO events VALUES (1, '2024-01-01 00:00:00.000001+00'), (2, '2024-01-01 00:00:00.000002+00')`,
    );
    const dir = await project('sql-incremental', {
      'pipelines/sync.yaml': `id: sync
params:
  fail: { type: boolean, default: false }
steps:
  - id: events
    uses: sql.query
    with: { connection: warehouse, query: "SELECT id, updated_at FROM events", incremental: { cursor: updated_at } }
  - id: after_extract
    uses: sql
    with:
      query: SELECT count(*) AS n FROM events WHERE CASE WHEN getvariable('fail') THEN error('forced failure') ELSE true END
`,
    });
    const sync = async (fail: boolean) => {
      const result = await run(dir, ['run', 'sync', '--param', `fail=${fail}`, '--json']);
      assertExit(result, fail ? 1 : 0, `sync fail=${fail}`);
      const runJson = parseJson<RunJson>(result, 'run --json');
      const shown = await showRun(dir, runJson.id);
      const step = shown.steps.find((candidate) => candidate.step === 'events');
      return { rows: step?.rows, window: step?.outputs.incremental };
    };
    assert.deepEqual(await sync(false), {
      rows: 2,
      window: { cursor: 'updated_at', since: null, until: '2024-01-01 00:00:00.000002+00' },
    });
    await pgServer.query(
      database,
      `INSERT INTO events VALUES (3, '2024-01-01 00:00:00.000003+00'), (4, '2024-03-01 12:00:00+00')`,
    );
    const windowTwo = {
      cursor: 'updated_at',
      since: '2024-01-01 00:00:00.000002+00',
      until: '2024-03-01 12:00:00+00',
    };
    assert.deepEqual(await sync(true), { rows: 2, window: windowTwo });
    assert.deepEqual(
      await sync(false),
      { rows: 2, window: windowTwo },
      'the failed run left the mark where it was',
    );
    assert.deepEqual(await sync(false), {
      rows: 0,
      window: { ...windowTwo, since: windowTwo.until, until: null },
    });
  });

  test('connections test, and a failing run: no secret in any output, log, record or file', async (t) => {
    if (!requireServer(t, pgServer, 'PostgreSQL') || !requireServer(t, mariaServer, 'MariaDB')) return;
    const mariaDatabase = await mariaServer.createDatabase();
    const user = await mariaServer.createUser(mariaDatabase, MARIA_PASSWORD);
    const { host, port } = MariadbServer.adminOptions();
    const dir = await project('sql-secrets', {
      'pipewright.yaml': `${PROJECT_FILE}  shop: { type: mariadb, host: ${host}, port: ${port}, user: ${user}, password: "\${env:SHOP_PASSWORD}", database: ${mariaDatabase} }
`,
      'pipelines/mixed.yaml': `id: mixed
steps:
  - id: orders
    uses: sql.query
    with: { connection: warehouse, query: "SELECT 1 AS id, 'x' AS note" }
  - id: to_shop
    uses: sql.load
    with: { connection: shop, input: orders, table: orders, create_if_missing: true }
  - id: bad_query
    uses: sql.query
    needs: [to_shop]
    with: { connection: warehouse, query: "SELECT * FROM missing_table" }
`,
    });
    const wrong = { SHOP_PASSWORD: `${MARIA_PASSWORD}-wrong` };
    const outputs: string[] = [];
    const check = await run(dir, ['connections', 'test'], wrong);
    assertExit(check, 1, 'connections test with a wrong password');
    assert.match(check.stdout, /ok\s+warehouse\s+postgres, postgres@/);
    assert.match(
      check.stdout,
      /failed\s+shop\s+PW_DB_AUTH: Connection 'shop' \(mariadb, .*\): connecting failed: Access denied/,
    );
    const good = await run(dir, ['connections', 'test', 'shop', '--json'], { SHOP_PASSWORD: MARIA_PASSWORD });
    assertExit(good, 0, 'connections test shop');
    assert.equal(parseJson<{ ok: boolean }>(good, 'connections test --json').ok, true);

    const failing = await run(dir, ['run', 'mixed', '--json'], wrong);
    assertExit(failing, 1, 'the failing run');
    assertNoStackTrace(failing, 'the failing run');
    const runJson = parseJson<RunJson>(failing, 'run --json');
    assert.equal(runJson.error?.code, 'PW_DB_AUTH');
    assert.match(runJson.error?.message ?? '', /Step 'to_shop', connection 'shop'/);
    const fixed = await run(dir, ['run', 'mixed', '--json'], { SHOP_PASSWORD: MARIA_PASSWORD });
    assertExit(fixed, 1, 'the run failing at its query');
    const fixedJson = parseJson<RunJson>(fixed, 'run --json');
    assert.equal(fixedJson.error?.code, 'PW_DB_QUERY');
    assert.match(
      fixedJson.error?.message ?? '',
      /^Step 'bad_query', connection 'warehouse' \(postgres, .*\): query failed: relation "missing_table" does not exist/,
    );
    for (const id of [runJson.id, fixedJson.id]) {
      for (const args of [
        ['show', id, '--json'],
        ['logs', id],
      ]) {
        const shown = await run(dir, args);
        outputs.push(shown.stdout, shown.stderr);
      }
    }
    outputs.push(
      check.stdout,
      check.stderr,
      good.stdout,
      good.stderr,
      failing.stdout,
      failing.stderr,
      fixed.stdout,
      fixed.stderr,
    );
    const secrets = [PG_PASSWORD, MARIA_PASSWORD, encodeURIComponent(PG_PASSWORD)];
    for (const secret of secrets) {
      assert.ok(
        outputs.every((text) => !text.includes(secret)),
        `a command printed ${secret}`,
      );
    }
    const files = await listFiles(dir);
    assert.ok(
      files.some((file) => file.startsWith('.pipewright/state.db')),
      files.join(', '),
    );
    for (const file of files) {
      const bytes = await readFile(join(dir, file));
      for (const secret of secrets) {
        assert.equal(bytes.includes(secret), false, `${file} holds ${secret}`);
      }
    }
  });
});
