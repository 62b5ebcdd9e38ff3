/**
 * The SQL connectors' pure parts, without servers: named parameters, table names, connection settings
 * (URL parsing, TLS, timeouts, what messages may show), driver errors mapped to codes with the password
 * masked, and DuckDB types on their way to each database.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { bindNamed } from './params.js';
import { parseTableName, quoteTable } from './identifiers.js';
import { describeConnection, maskSecrets, sqlSettings, type ServerSettings } from './config.js';
import { toDbError } from './errors.js';
import { columnTypeFor, parseDuckType } from './duckdb-types.js';

const projectDir = mkdtempSync(join(tmpdir(), 'pw-sql-units-'));
after(() => rmSync(projectDir, { recursive: true, force: true }));

describe('named parameters', () => {
  test('become $n for PostgreSQL (a name used twice keeps its number) and ? elsewhere', () => {
    const sql = 'SELECT * FROM t WHERE a > :low AND b < :high OR a = :low';
    const pg = bindNamed('postgres', sql, { low: 1, high: 'x' });
    assert.equal(pg.text, 'SELECT * FROM t WHERE a > $1 AND b < $2 OR a = $1');
    assert.deepEqual(pg.values, [1, 'x']);
    const maria = bindNamed('mariadb', sql, { low: 1, high: 'x' });
    assert.equal(maria.text, 'SELECT * FROM t WHERE a > ? AND b < ? OR a = ?');
    assert.deepEqual(maria.values, [1, 'x', 1]);
    assert.equal(bindNamed('postgres', 'SELECT :a', { a: 1 }, { firstIndex: 3 }).text, 'SELECT $3');
  });

  test('leave strings, quoted names, comments, dollar quotes and casts alone', () => {
    const sql = `SELECT '10:30' AS "t:x", x::date, $f$ :no $f$ -- :nope\n/* :nada */ FROM t WHERE y = :yes`;
    const bound = bindNamed('postgres', sql, { yes: true });
    assert.equal(
      bound.text,
      `SELECT '10:30' AS "t:x", x::date, $f$ :no $f$ -- :nope\n/* :nada */ FROM t WHERE y = $1`,
    );
    assert.deepEqual(bound.values, [true]);
    const maria = bindNamed('mariadb', "SELECT 'it\\'s :no', `a:b` # :no\nFROM t WHERE c = :yes", { yes: 2 });
    assert.equal(maria.text, "SELECT 'it\\'s :no', `a:b` # :no\nFROM t WHERE c = ?");
  });

  test('an undefined name fails with the names there are; unused ones are reported', () => {
    assert.throws(
      () => bindNamed('sqlite', 'SELECT :missing', { other: 1 }),
      (error: unknown) =>
        error instanceof PwError &&
        error.code === 'PW_SPEC_TYPE' &&
        /:missing/.test(error.message) &&
        /:other/.test(error.expected ?? ''),
    );
    assert.deepEqual(bindNamed('sqlite', 'SELECT :a', { a: 1, b: 2 }).unused, ['b']);
  });

  test('a value is bound, never spliced: quotes in it do not reach the SQL text', () => {
    const bound = bindNamed('postgres', 'SELECT * FROM t WHERE name = :name', {
      name: "x'; DROP TABLE t; --",
    });
    assert.equal(bound.text, 'SELECT * FROM t WHERE name = $1');
    assert.deepEqual(bound.values, ["x'; DROP TABLE t; --"]);
  });
});

describe('table names', () => {
  test('plain, schema-qualified and quoted', () => {
    assert.deepEqual(parseTableName('sales'), { schema: undefined, name: 'sales' });
    assert.deepEqual(parseTableName('analytics.Sales'), { schema: 'analytics', name: 'Sales' });
    assert.deepEqual(parseTableName('"my.schema"."a""b"'), { schema: 'my.schema', name: 'a"b' });
    assert.equal(quoteTable('mariadb', { schema: 'db', name: 'a`b' }), '`db`.`a``b`');
    assert.throws(() => parseTableName('a.b.c'), /more than schema and table/);
    assert.throws(() => parseTableName('a..b'), /empty part/);
  });
});

describe('connection settings', () => {
  test('a URL gives host, port, user, password and database; fields beside it override', () => {
    const settings = sqlSettings(
      'warehouse',
      { type: 'postgres', url: 'postgresql://app:s%3Acret@db.example.com:6543/sales', database: 'other' },
      projectDir,
    ) as ServerSettings;
    assert.equal(settings.host, 'db.example.com');
    assert.equal(settings.port, 6543);
    assert.equal(settings.user, 'app');
    assert.equal(settings.password, 's:cret');
    assert.equal(settings.database, 'other');
    assert.equal(settings.tls, undefined);
    assert.equal(settings.connectTimeoutMs, 10_000);
    assert.equal(describeConnection(settings), 'postgres, app@db.example.com:6543/other');
  });

  test('TLS: verify is on by default, sslmode in the URL turns it on, ca_file is read', () => {
    const ca = join(projectDir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
    const viaUrl = sqlSettings(
      'w',
      { type: 'postgres', url: 'postgres://h/db?sslmode=require' },
      projectDir,
    ) as ServerSettings;
    assert.deepEqual(viaUrl.tls, { verify: true, ca: undefined, cert: undefined, key: undefined });
    const viaField = sqlSettings(
      'm',
      { type: 'mariadb', host: 'h', ssl: { ca_file: 'ca.pem' }, connect_timeout: '2s' },
      projectDir,
    ) as ServerSettings;
    assert.equal(viaField.tls?.verify, true);
    assert.match(viaField.tls?.ca ?? '', /BEGIN CERTIFICATE/);
    assert.equal(viaField.port, 3306);
    assert.equal(viaField.connectTimeoutMs, 2000);
    assert.throws(
      () => sqlSettings('m', { type: 'mariadb', host: 'h', ssl: { ca_file: 'missing.pem' } }, projectDir),
      (error: unknown) =>
        error instanceof PwError && error.code === 'PW_DB_TLS' && /missing\.pem/.test(error.message),
    );
  });

  test('invalid settings are PW_SPEC_TYPE naming the field, and never show the URL', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ type: 'postgres' }, /host: give url or host/],
      [{ type: 'postgres', url: 'postgres://u:pw@h/db', host: 'h' }, /not both/],
      [
        { type: 'postgres', url: 'mysql://u:hunter22@h/db' },
        /url: expected a URL starting with postgres:\/\//,
      ],
      [{ type: 'postgres', url: 'not a url hunter22' }, /url: not a URL/],
      [
        { type: 'postgres', url: 'postgres://u:hunter22@h/db?sslmode=prefer' },
        /sslmode=prefer is not supported/,
      ],
      [{ type: 'mariadb', host: 'h', port: 'x' }, /port/],
      [{ type: 'sqlite' }, /path/],
    ];
    for (const [raw, pattern] of cases) {
      assert.throws(
        () => sqlSettings('c', raw as { type: string }, projectDir),
        (error: unknown) =>
          error instanceof PwError &&
          error.code === 'PW_SPEC_TYPE' &&
          pattern.test(error.message) &&
          !error.message.includes('hunter22'),
        JSON.stringify(raw),
      );
    }
  });

  test('a SQLite path is relative to the project', () => {
    const settings = sqlSettings('local', { type: 'sqlite', path: 'data/app.db' }, projectDir);
    assert.equal(settings.dialect, 'sqlite');
    assert.equal(settings.dialect === 'sqlite' ? settings.path : '', join(projectDir, 'data/app.db'));
    assert.equal(describeConnection(settings), 'sqlite, data/app.db');
  });

  test('secrets are masked in any text: the password, its URL-encoded form, URL passwords', () => {
    assert.equal(maskSecrets('login s:cret failed', 's:cret'), 'login *** failed');
    assert.equal(maskSecrets('url postgres://app:s%3Acret@h/db', undefined), 'url postgres://app:***@h/db');
    assert.equal(maskSecrets('x s%3Acret y', 's:cret'), 'x *** y');
  });
});

describe('driver errors', () => {
  const settings = sqlSettings(
    'warehouse',
    { type: 'postgres', url: 'postgres://app:topsecret99@db:5432/sales' },
    projectDir,
  );
  const maria = sqlSettings(
    'shop',
    { type: 'mariadb', host: 'db', user: 'u', password: 'topsecret99' },
    projectDir,
  );

  test('map to codes by meaning, naming step and connection, never the password', () => {
    const cases: [unknown, typeof settings, string, 'connect' | 'query' | 'load'][] = [
      [
        Object.assign(new Error('password authentication failed for user "app" (topsecret99)'), {
          code: '28P01',
        }),
        settings,
        'PW_DB_AUTH',
        'connect',
      ],
      [
        Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }),
        settings,
        'PW_DB_UNREACHABLE',
        'connect',
      ],
      [new Error('timeout expired'), settings, 'PW_DB_UNREACHABLE', 'connect'],
      [
        Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
        settings,
        'PW_DB_TLS',
        'connect',
      ],
      [
        Object.assign(new Error('relation "x" does not exist'), { code: '42P01', position: '15' }),
        settings,
        'PW_DB_QUERY',
        'query',
      ],
      [Object.assign(new Error('deadlock detected'), { code: '40P01' }), settings, 'PW_DB_TRANSIENT', 'load'],
      [
        Object.assign(new Error('duplicate key value'), {
          code: '23505',
          detail: 'Key (id)=(5) already exists.',
        }),
        settings,
        'PW_DB_CONSTRAINT',
        'load',
      ],
      [
        Object.assign(new Error('Access denied'), {
          errno: 1045,
          sqlMessage: "Access denied for user 'u'",
          sqlState: '28000',
        }),
        maria,
        'PW_DB_AUTH',
        'connect',
      ],
      [
        Object.assign(new Error('x'), { errno: 1213, sqlMessage: 'Deadlock found' }),
        maria,
        'PW_DB_TRANSIENT',
        'load',
      ],
      [
        Object.assign(new Error('x'), { errno: 1062, sqlMessage: "Duplicate entry '5' for key 'PRIMARY'" }),
        maria,
        'PW_DB_CONSTRAINT',
        'load',
      ],
    ];
    for (const [error, where, code, phase] of cases) {
      const mapped = toDbError(error, { settings: where, stepId: 'orders', phase });
      assert.equal(mapped.code, code, mapped.message);
      assert.match(mapped.message, /^Step 'orders', connection '(warehouse|shop)' \((postgres|mariadb), /);
      assert.doesNotMatch(`${mapped.message} ${mapped.hint ?? ''}`, /topsecret99/);
    }
  });

  test('a PostgreSQL position becomes the line of the query; COPY lines become dataset rows', () => {
    const error = Object.assign(new Error('syntax error at or near "FORM"'), {
      code: '42601',
      position: '22',
    });
    const mapped = toDbError(error, {
      settings,
      stepId: 's',
      phase: 'query',
      sql: 'SELECT 1\nSELECT 2\nFORM t',
      lineOffset: 0,
    });
    assert.match(mapped.message, /SQLSTATE 42601, line 3/);
    const copy = Object.assign(new Error('null value in column "amount" violates not-null constraint'), {
      code: '23502',
      detail: 'Failing row contains (3, null).',
      where: 'COPY sales, line 3: "3,"',
    });
    const load = toDbError(copy, { settings, stepId: 's', phase: 'load', what: 'load into public.sales' });
    assert.match(
      load.message,
      /load into public\.sales failed, nothing committed: null value .*Failing row contains \(3, null\)\. \(SQLSTATE 23502, row 3 of the dataset\)/,
    );
  });
});

describe('DuckDB types on the way out', () => {
  test('parse and map to each database', () => {
    assert.deepEqual(parseDuckType('DECIMAL(20,6)'), {
      kind: 'scalar',
      name: 'DECIMAL',
      precision: 20,
      scale: 6,
    });
    assert.deepEqual(parseDuckType('INTEGER[]'), {
      kind: 'list',
      element: { kind: 'scalar', name: 'INTEGER' },
    });
    assert.equal(parseDuckType('STRUCT(a INTEGER)').kind, 'nested');
    const column = (type: string) => ({ name: 'c', type });
    assert.equal(columnTypeFor('postgres', column('TIMESTAMP WITH TIME ZONE'), false), 'timestamptz');
    assert.equal(columnTypeFor('postgres', column('INTEGER[]'), false), 'integer[]');
    assert.equal(columnTypeFor('postgres', column('STRUCT(a INTEGER)'), false), 'jsonb');
    assert.equal(columnTypeFor('mariadb', column('VARCHAR'), true), 'VARCHAR(255)');
    assert.equal(columnTypeFor('mariadb', column('VARCHAR'), false), 'LONGTEXT');
    assert.equal(columnTypeFor('sqlite', column('DECIMAL(20,6)'), false), 'TEXT DECIMAL(20,6)');
    assert.equal(columnTypeFor('sqlite', column('DECIMAL(10,2)'), false), 'DECIMAL(10,2)');
    assert.throws(
      () => columnTypeFor('postgres', column('BIT'), false),
      (error: unknown) => error instanceof PwError && error.code === 'PW_DB_TYPE',
    );
  });
});
