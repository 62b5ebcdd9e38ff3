/**
 * `pipewright connections test` for storage and SFTP connections, through the real CLI against real
 * servers: an S3-compatible server (s3rver) and OpenSSH's sshd, both on 127.0.0.1. Each failure has
 * its own code — a missing bucket, a refused access key, a closed port, a TLS endpoint that is not
 * trusted or not TLS at all, a host key that does not match the pinned one, a wrong password — and no
 * secret (secret access key, password, private key) appears in any output, plain or JSON.
 *
 * s3rver checks that the access key id exists but does not verify SigV4 signatures, so a wrong
 * secret_access_key beside a known key id passes there; the refused-credentials case uses an unknown
 * key id (what AWS, R2 and MinIO answer with 403 as well).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { startS3Server, type TestS3Server } from '../../src/connectors/storage/test-s3-server.js';
import { freePort, requireSshd, SshServer } from '../../src/connectors/sftp/test-sshd.js';
import { trySelfSignedCertificate } from '../../src/testing/self-signed-certificate.js';
import { skipOrFailInCI } from '../../src/testing/require-service.js';
import { assertExit, assertNoStackTrace, makeProject, parseJson, removeDir, runCli } from './cli-harness.js';

const S3_SECRET = 'e2e-S3-Secret-7731';
const SFTP_PASSWORD = 'e2e-Sftp-Secret-4410';

interface TestJson {
  ok: boolean;
  connections: {
    name: string;
    type: string;
    status: string;
    target?: string;
    code?: string;
    message?: string;
    hint?: string;
  }[];
}

const projects: string[] = [];
after(async () => {
  for (const dir of projects) await removeDir(dir);
});

function byName(json: TestJson): Map<string, TestJson['connections'][number]> {
  return new Map(json.connections.map((connection) => [connection.name, connection]));
}

function assertNoSecret(output: string, secrets: readonly string[], what: string): void {
  for (const secret of secrets) assert.ok(!output.includes(secret), `${what} shows a secret:\n${output}`);
  assert.doesNotMatch(output, /PRIVATE KEY/, `${what} shows a private key`);
}

describe('connections test: s3', () => {
  let s3: TestS3Server;
  let https: HttpsServer | undefined;
  let httpsPort = 0;
  let certificateProblem: string | undefined;

  before(async () => {
    s3 = await startS3Server(['probe-bucket']);
    const certificate = trySelfSignedCertificate();
    if (typeof certificate === 'string') {
      certificateProblem = certificate;
      return;
    }
    // Any HTTPS server will do: the client refuses its certificate before a request is sent.
    const server = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (_request, response) =>
      response.end(),
    );
    https = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    httpsPort = (server.address() as { port: number }).port;
  });
  after(async () => {
    await s3?.close();
    await new Promise<void>((resolve) => (https === undefined ? resolve() : https.close(() => resolve())));
  });

  test('ok, bucket missing, credentials refused, closed port, TLS: each with its code, no secret', async (t) => {
    const closed = await freePort();
    const connection = (bucket: string, endpoint: string, key = '${env:S3_KEY}') =>
      `{ type: s3, bucket: ${bucket}, endpoint: "${endpoint}", force_path_style: true, access_key_id: "${key}", secret_access_key: "\${env:S3_SECRET}" }`;
    const dir = await makeProject('connections-s3', {
      'pipewright.yaml': `name: e2e
timezone: UTC
connections:
  files: ${connection('probe-bucket', s3.endpoint)}
  missing: ${connection('no-such-bucket', s3.endpoint)}
  stranger: ${connection('probe-bucket', s3.endpoint, '${env:S3_UNKNOWN_KEY}')}
  closed: ${connection('probe-bucket', `http://127.0.0.1:${closed}`)}
  not_tls: ${connection('probe-bucket', s3.endpoint.replace('http://', 'https://'))}
  untrusted: ${connection('probe-bucket', `https://127.0.0.1:${httpsPort}`)}
  archive: { type: local, dir: archive }
`,
    });
    projects.push(dir);
    const env = { S3_KEY: 'S3RVER', S3_UNKNOWN_KEY: 'E2E-UNKNOWN-KEY-ID', S3_SECRET };

    const json = await runCli(['connections', 'test', '--json'], { cwd: dir, env, timeoutMs: 90_000 });
    assertExit(json, 1, 'connections test --json');
    const outcomes = byName(parseJson<TestJson>(json, 'connections test --json'));
    assert.deepEqual(
      [...outcomes.values()].map((outcome) => [outcome.name, outcome.status, outcome.code ?? null]),
      [
        ['archive', 'not tested', null],
        ['closed', 'failed', 'PW_STORAGE_UNAVAILABLE'],
        ['files', 'ok', null],
        ['missing', 'failed', 'PW_STORAGE_BUCKET'],
        ['not_tls', 'failed', 'PW_STORAGE_TLS'],
        ['stranger', 'failed', 'PW_STORAGE_AUTH'],
        ['untrusted', 'failed', 'PW_STORAGE_TLS'],
      ],
    );
    assert.equal(outcomes.get('files')?.target, `s3, s3://probe-bucket/ at ${s3.endpoint}`);
    assert.equal(
      outcomes.get('missing')?.message,
      `Connection 'missing' (s3, s3://no-such-bucket/ at ${s3.endpoint}): checking the bucket: bucket 'no-such-bucket' does not exist`,
    );
    assert.match(
      outcomes.get('stranger')?.message ?? '',
      /^Connection 'stranger' \(s3, s3:\/\/probe-bucket\/ at .*\): checking the bucket: s3:\/\/probe-bucket\/ refused the credentials \(HTTP 403\)$/,
    );
    assert.match(
      outcomes.get('closed')?.message ?? '',
      new RegExp(
        `checking the bucket: http://127\\.0\\.0\\.1:${closed} could not be reached \\(ECONNREFUSED`,
      ),
    );
    assert.match(outcomes.get('closed')?.hint ?? '', /Check endpoint of connection 'closed'/);
    assert.match(
      outcomes.get('not_tls')?.message ?? '',
      /TLS with https:\/\/127\.0\.0\.1:\d+ failed: EPROTO/,
    );
    assert.match(outcomes.get('not_tls')?.hint ?? '', /does not seem to speak TLS/);
    if (certificateProblem !== undefined) {
      skipOrFailInCI(t, 'openssl', certificateProblem);
    } else {
      assert.match(
        outcomes.get('untrusted')?.message ?? '',
        /TLS with https:\/\/127\.0\.0\.1:\d+ failed: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN): self[- ]signed certificate/,
      );
      assert.match(outcomes.get('untrusted')?.hint ?? '', /NODE_EXTRA_CA_CERTS/);
    }

    const plain = await runCli(['connections', 'test'], { cwd: dir, env, timeoutMs: 90_000 });
    assertExit(plain, 1, 'connections test');
    assertNoStackTrace(plain, 'connections test');
    assert.match(
      plain.stdout,
      /^ok\s+files\s+s3, s3:\/\/probe-bucket\/ at http:\/\/127\.0\.0\.1:\d+\s+\d+ ms$/m,
    );
    assert.match(plain.stdout, /^failed\s+missing\s+PW_STORAGE_BUCKET: Connection 'missing'/m);
    assert.match(plain.stdout, /^\s+hint: Create the bucket/m);
    assert.match(plain.stdout, /^skip\s+archive\s+type local is not tested by this command$/m);

    const one = await runCli(['connections', 'test', 'files'], { cwd: dir, env });
    assertExit(one, 0, 'connections test files');
    for (const [result, what] of [
      [json, 'connections test --json'],
      [plain, 'connections test'],
      [one, 'connections test files'],
    ] as const) {
      assertNoSecret(result.stdout + result.stderr, [S3_SECRET, 'E2E-UNKNOWN-KEY-ID'], what);
    }
  });
});

describe('connections test: sftp', () => {
  let sshd: SshServer | string;
  before(async () => {
    sshd = await SshServer.start();
  });
  after(async () => {
    if (typeof sshd !== 'string') await sshd.stop();
  });

  test('ok by key, host key mismatch, wrong password, closed port: each with its code, no secret', async (t) => {
    if (!requireSshd(t, sshd)) return;
    const server = sshd;
    const closed = await freePort();
    const otherKey = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
    const base = `type: sftp, host: 127.0.0.1, user: ${server.user}`;
    const dir = await makeProject('connections-sftp', {
      'pipewright.yaml': `name: e2e
timezone: UTC
connections:
  partner: { ${base}, port: ${server.port}, private_key: "\${env:SFTP_KEY}", host_key: "${server.hostKey}" }
  impostor: { ${base}, port: ${server.port}, password: "\${env:SFTP_PASSWORD}", host_key: "${otherKey}" }
  legacy: { ${base}, port: ${server.port}, password: "\${env:SFTP_PASSWORD}", host_key: "${server.hostKey}" }
  gone: { ${base}, port: ${closed}, password: "\${env:SFTP_PASSWORD}", host_key: "${server.hostKey}", connect_timeout: 5s }
`,
    });
    projects.push(dir);
    const key = await readFile(server.keyFile, 'utf8');
    const env = { SFTP_KEY: key, SFTP_PASSWORD };

    const json = await runCli(['connections', 'test', '--json'], { cwd: dir, env, timeoutMs: 90_000 });
    assertExit(json, 1, 'connections test --json');
    const outcomes = byName(parseJson<TestJson>(json, 'connections test --json'));
    assert.deepEqual(
      [...outcomes.values()].map((outcome) => [outcome.name, outcome.status, outcome.code ?? null]),
      [
        ['gone', 'failed', 'PW_SFTP_UNREACHABLE'],
        ['impostor', 'failed', 'PW_SFTP_HOST_KEY'],
        ['legacy', 'failed', 'PW_SFTP_AUTH'],
        ['partner', 'ok', null],
      ],
    );
    assert.equal(outcomes.get('partner')?.target, `sftp, ${server.user}@127.0.0.1:${server.port}`);
    const mismatch = outcomes.get('impostor')?.message ?? '';
    assert.match(mismatch, /host key mismatch, connection refused/);
    assert.ok(mismatch.includes(`the server presented ${server.hostKey}, expected ${otherKey}`), mismatch);
    assert.match(outcomes.get('impostor')?.hint ?? '', /ssh-keyscan -p \d+ 127\.0\.0\.1/);
    assert.match(
      outcomes.get('legacy')?.message ?? '',
      new RegExp(
        `^Connection 'legacy' \\(sftp, ${server.user}@127\\.0\\.0\\.1:${server.port}\\): connecting failed: login refused`,
      ),
    );
    assert.match(outcomes.get('gone')?.message ?? '', /connecting failed: .*ECONNREFUSED/);

    const plain = await runCli(['connections', 'test'], { cwd: dir, env, timeoutMs: 90_000 });
    assertExit(plain, 1, 'connections test');
    assertNoStackTrace(plain, 'connections test');
    assert.match(plain.stdout, /^ok\s+partner\s+sftp, \S+@127\.0\.0\.1:\d+\s+\d+ ms$/m);
    assert.match(plain.stdout, /^failed\s+impostor\s+PW_SFTP_HOST_KEY: /m);
    assert.match(plain.stdout, /^failed\s+legacy\s+PW_SFTP_AUTH: /m);

    const one = await runCli(['connections', 'test', 'partner', '--json'], { cwd: dir, env });
    assertExit(one, 0, 'connections test partner');
    assert.equal(parseJson<TestJson>(one, 'connections test partner --json').ok, true);
    for (const [result, what] of [
      [json, 'connections test --json'],
      [plain, 'connections test'],
      [one, 'connections test partner'],
    ] as const) {
      assertNoSecret(result.stdout + result.stderr, [SFTP_PASSWORD, key.trim().split('\n')[1] ?? key], what);
    }
  });
});
