/**
 * MongoDB connections without a MongoDB server (none can run on this machine): settings from
 * pipewright.yaml, Extended JSON input, error classification of the driver's own error classes, and
 * the real driver failing against local stand-ins — a closed port, a server that never answers, a TLS
 * server with a self-signed certificate — with clear codes and no password in any message.
 */
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { describe, test } from 'node:test';
import { MongoServerError, BSON } from 'mongodb';
import { PwError } from '../../core/errors/pw-error.js';
import { createStepHarness } from '../../testing/step-harness.js';
import { skipOrFailInCI } from '../../testing/require-service.js';
import { trySelfSignedCertificate } from '../../testing/self-signed-certificate.js';
import { mongodbFindStep } from '../../steps/extract/mongodb-find.js';
import { mongodbAggregateStep } from '../../steps/extract/mongodb-aggregate.js';
import { describeMongo, mongoSettings } from './config.js';
import { toMongoError } from './errors.js';
import { readExtendedJson } from './extended-json.js';

const PASSWORD = 'mongo-Secret-4417';

function rejectsWith(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    assert.doesNotMatch(`${error.message} ${error.hint ?? ''}`, new RegExp(PASSWORD));
    return true;
  };
}

function settings(extra: Record<string, unknown> = {}) {
  return mongoSettings(
    'events',
    { type: 'mongodb', url: `mongodb://app:${PASSWORD}@db1:27017,db2:27018/shop?authSource=admin`, ...extra },
    '/project',
  );
}

describe('MongoDB connection settings', () => {
  test('a URL with several hosts is read without new URL, and described without its password', () => {
    const parsed = settings();
    assert.equal(parsed.database, 'shop');
    assert.equal(parsed.hosts, 'db1:27017,db2:27018');
    assert.equal(parsed.user, 'app');
    assert.equal(parsed.password, PASSWORD);
    assert.equal(parsed.tls, undefined);
    assert.equal(parsed.verify, true);
    assert.equal(parsed.connectTimeoutMs, 10_000);
    assert.equal(describeMongo(parsed), 'mongodb, app@db1:27017,db2:27018/shop');
    assert.equal(settings({ database: 'other' }).database, 'other');
  });

  test('TLS: on for mongodb+srv and tls=true, on with a ca_file, verification on unless turned off', () => {
    const srv = mongoSettings('a', { type: 'mongodb', url: 'mongodb+srv://cluster0.example.net/db' }, '/p');
    assert.equal(srv.tls, true);
    assert.equal(describeMongo(srv), 'mongodb+srv, cluster0.example.net/db, TLS');
    assert.equal(mongoSettings('a', { type: 'mongodb', url: 'mongodb://h/?tls=true' }, '/p').tls, true);
    const certificate = trySelfSignedCertificate();
    if (typeof certificate !== 'string') {
      const withCa = mongoSettings(
        'a',
        { type: 'mongodb', url: 'mongodb://h/db', ca_file: certificate.certFile },
        '/p',
      );
      assert.equal(withCa.tls, true);
      assert.equal(withCa.caFile, certificate.certFile);
    }
    assert.equal(settings({ tls_verify: false }).verify, false);
    assert.throws(
      () => settings({ ca_file: 'certs/missing.pem' }),
      rejectsWith('PW_DB_TLS', /cannot read ca_file certs\/missing\.pem: ENOENT/),
    );
    assert.throws(
      () => settings({ tls: false, ca_file: 'x.pem' }),
      rejectsWith('PW_SPEC_TYPE', /a CA file needs TLS/),
    );
  });

  test('a malformed URL or an unknown field is refused without showing the URL', () => {
    assert.throws(
      () => mongoSettings('a', { type: 'mongodb', url: `postgres://u:${PASSWORD}@h/db` }, '/p'),
      rejectsWith('PW_SPEC_TYPE', /url: expected a URL starting with mongodb:\/\/ or mongodb\+srv:\/\//),
    );
    assert.throws(() => settings({ ssl: true }), rejectsWith('PW_SPEC_TYPE', /Unrecognized key/));
    assert.throws(
      () => settings({ connect_timeout: 'soon' }),
      rejectsWith('PW_SPEC_TYPE', /connect_timeout/),
    );
  });
});

describe('MongoDB errors', () => {
  const context = { settings: settings(), stepId: 'orders', phase: 'query' as const };

  test('server errors are classified by code: auth, query, transient', () => {
    const auth = toMongoError(
      new MongoServerError({ code: 18, codeName: 'AuthenticationFailed', errmsg: 'Authentication failed.' }),
      { ...context, phase: 'connect' },
    );
    rejectsWith(
      'PW_DB_AUTH',
      /Step 'orders', connection 'events' \(mongodb, app@db1:27017,db2:27018\/shop\): connecting failed: Authentication failed\. \(code 18, AuthenticationFailed\)/,
    )(auth);
    const query = toMongoError(
      new MongoServerError({
        code: 40324,
        codeName: 'Location40324',
        errmsg: "Unrecognized pipeline stage name: '$mtach'",
      }),
      { ...context, what: 'aggregate on orders' },
    );
    rejectsWith(
      'PW_DB_QUERY',
      /aggregate on orders failed: Unrecognized pipeline stage name: '\$mtach' \(code 40324/,
    )(query);
    const cursor = toMongoError(
      new MongoServerError({ code: 43, codeName: 'CursorNotFound', errmsg: 'cursor id 7 not found' }),
      context,
    );
    assert.equal(cursor.code, 'PW_DB_TRANSIENT');
    const message = toMongoError(new Error(`failed for mongodb://app:${PASSWORD}@db1/shop`), context);
    rejectsWith('PW_DB_QUERY', /mongodb:\/\/app:\*\*\*@db1\/shop/)(message);
  });

  test('filters and pipelines are read as Extended JSON, from a mapping or a JSON string', async () => {
    const filter = (await readExtendedJson(
      {
        at: { $gte: { $date: '2026-11-16T00:00:00Z' } },
        _id: { $ne: { $oid: '65a1b2c3d4e5f60718293a4b' } },
        price: { $numberDecimal: '1.50' },
      },
      'filter',
      'document',
      "Step 'x'",
    )) as Record<string, unknown>;
    const at = (filter.at as { $gte: unknown }).$gte;
    assert.ok(at instanceof Date);
    assert.equal(at.toISOString(), '2026-11-16T00:00:00.000Z');
    assert.ok((filter._id as { $ne: unknown }).$ne instanceof BSON.ObjectId);
    assert.ok(filter.price instanceof BSON.Decimal128);
    const pipeline = await readExtendedJson(
      '[{"$match": {"n": {"$gt": 5}}}, {"$limit": 3}]',
      'pipeline',
      'pipeline',
      "Step 'x'",
    );
    assert.deepEqual(pipeline, [{ $match: { n: { $gt: 5 } } }, { $limit: 3 }]);
    await assert.rejects(
      readExtendedJson("{ status: 'paid' }", 'filter', 'document', "Step 'x'"),
      rejectsWith('PW_SPEC_TYPE', /with\.filter is not valid Extended JSON/),
    );
    await assert.rejects(
      readExtendedJson('{"$match": {}}', 'pipeline', 'pipeline', "Step 'x'"),
      rejectsWith('PW_SPEC_TYPE', /with\.pipeline must be a list of stage documents/),
    );
    await assert.rejects(
      readExtendedJson({ at: { $date: 'not a date' } }, 'filter', 'document', "Step 'x'"),
      rejectsWith('PW_SPEC_TYPE', /with\.filter\.at is a \$date that is not a valid date/),
    );
  });
});

async function listen(server: ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

async function runFind(url: string, extra: Record<string, unknown> = {}) {
  const h = await createStepHarness({
    connections: {
      events: { type: 'mongodb', url: '${env:EVENTS_URL}', connect_timeout: '700ms', ...extra },
    },
    env: { EVENTS_URL: url },
  });
  try {
    return await h.runStep(
      mongodbFindStep,
      { connection: 'events', collection: 'readings' },
      { stepId: 'readings' },
    );
  } finally {
    await h.close();
  }
}

describe('MongoDB driver against local stand-ins', () => {
  test('a closed port fails with PW_DB_UNREACHABLE naming the connection, not the password', async () => {
    const server = createTcpServer();
    const port = await listen(server);
    await new Promise((done) => server.close(done));
    await assert.rejects(
      runFind(`mongodb://app:${PASSWORD}@127.0.0.1:${port}/plant`),
      rejectsWith(
        'PW_DB_UNREACHABLE',
        new RegExp(
          `Step 'readings', connection 'events' \\(mongodb, app@127\\.0\\.0\\.1:${port}/plant\\): connecting failed: .*ECONNREFUSED`,
        ),
      ),
    );
  });

  test('a server that never answers fails within connect_timeout', async () => {
    const sockets = new Set<Socket>();
    const server = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    const port = await listen(server);
    try {
      const started = Date.now();
      await assert.rejects(
        runFind(`mongodb://app:${PASSWORD}@127.0.0.1:${port}/plant`),
        rejectsWith('PW_DB_UNREACHABLE'),
      );
      assert.ok(Date.now() - started < 8000, 'the connect timeout ended the wait');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => server.close(done));
    }
  });

  test('a self-signed server certificate fails with PW_DB_TLS; with it as ca_file TLS passes', async (t) => {
    const certificate = trySelfSignedCertificate();
    if (typeof certificate === 'string') {
      skipOrFailInCI(t, 'openssl', certificate);
      return;
    }
    const server = createTlsServer({ cert: certificate.cert, key: certificate.key }, (socket) => {
      socket.on('error', () => undefined);
      setTimeout(() => socket.destroy(), 20);
    });
    server.on('tlsClientError', () => undefined);
    const port = await listen(server as unknown as ReturnType<typeof createTcpServer>);
    try {
      await assert.rejects(
        runFind(`mongodb://app:${PASSWORD}@127.0.0.1:${port}/plant?tls=true`),
        rejectsWith('PW_DB_TLS', /TLS failed: .*self[- ]signed certificate/),
      );
      // Trusting the certificate gets past TLS; the stand-in then hangs up, which is no TLS problem.
      await assert.rejects(
        runFind(`mongodb://app:${PASSWORD}@127.0.0.1:${port}/plant`, { ca_file: certificate.certFile }),
        (error: unknown) =>
          error instanceof PwError && error.code !== 'PW_DB_TLS' && error.code === 'PW_DB_UNREACHABLE',
      );
      // So does turning verification off: encrypted, but the certificate is not checked.
      await assert.rejects(
        runFind(`mongodb://app:${PASSWORD}@127.0.0.1:${port}/plant?tls=true`, { tls_verify: false }),
        (error: unknown) => error instanceof PwError && error.code === 'PW_DB_UNREACHABLE',
      );
    } finally {
      await new Promise((done) => server.close(done));
    }
  });

  test('a step without a database anywhere, or with bad JSON, fails before reading', async () => {
    const h = await createStepHarness({
      connections: { events: { type: 'mongodb', url: 'mongodb://127.0.0.1:9/' } },
    });
    try {
      await assert.rejects(
        h.runStep(mongodbAggregateStep, {
          connection: 'events',
          collection: 'c',
          pipeline: [{ $match: {} }],
        }),
        rejectsWith('PW_SPEC_TYPE', /no database/),
      );
      assert.throws(() =>
        mongodbAggregateStep.config.parse({ connection: 'events', collection: 'c', pipeline: [] }),
      );
    } finally {
      await h.close();
    }
  });
});
