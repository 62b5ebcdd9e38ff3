/**
 * sftp.get and sftp.put against a real OpenSSH sshd started by the tests (see test-sshd.ts): globbed
 * fetches with move to processed/, uploads under .part names, if_exists, key/password/passphrase
 * logins, pinned host keys (a mismatch is refused), and unreachable servers failing fast and clearly.
 * No password, key or passphrase may appear in an error, a hint or the log.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import type { ConnectionDefinitions } from '../../engine/connections.js';
import { sftpGetStep } from '../../steps/extract/sftp-get.js';
import { sftpPutStep } from '../../steps/load/sftp-put.js';
import { fingerprintOf } from './config.js';
import { globToRegExp, movedPath, parseRemotePattern } from './remote-glob.js';
import { ENCRYPTED_KEY_PASSPHRASE, freePort, requireSshd, silentTcpServer, SshServer } from './test-sshd.js';

const PASSWORD = 'sftp-Secret-5521';
const server = await SshServer.start();
after(async () => {
  if (typeof server !== 'string') await server.stop();
});

const harnesses: StepHarness[] = [];
after(async () => {
  for (const h of harnesses) await h.close();
});

function sshd(): SshServer {
  assert.ok(typeof server !== 'string');
  return server;
}

async function harness(connection: Record<string, unknown> = {}, name = 'partner'): Promise<StepHarness> {
  const s = sshd();
  const connections: ConnectionDefinitions = {
    [name]: {
      type: 'sftp',
      host: '127.0.0.1',
      port: s.port,
      user: s.user,
      private_key_file: s.keyFile,
      host_key: s.hostKey,
      ...connection,
    },
  };
  const h = await createStepHarness({
    connections,
    env: { SFTP_PASSWORD: PASSWORD, KEY_PASS: ENCRYPTED_KEY_PASSPHRASE },
  });
  harnesses.push(h);
  return h;
}

function rejectsWith(code: string, pattern?: RegExp, h?: StepHarness) {
  return (error: unknown) => {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    const shown = `${error.message} ${error.hint ?? ''} ${error.expected ?? ''} ${error.found ?? ''} ${JSON.stringify(h?.logs ?? [])}`;
    assert.doesNotMatch(shown, new RegExp(PASSWORD));
    assert.doesNotMatch(shown, new RegExp(ENCRYPTED_KEY_PASSPHRASE));
    assert.doesNotMatch(shown, /PRIVATE KEY/);
    assert.equal(error.cause, undefined);
    return true;
  };
}

async function remoteNames(folder: string): Promise<string[]> {
  return (await readdir(join(sshd().root, folder))).sort();
}

describe('remote globs (no server needed)', () => {
  test('wildcards in the last segment only; * ? and classes', () => {
    const pattern = parseRemotePattern('/outgoing/*.csv');
    assert.ok(typeof pattern !== 'string');
    assert.equal(pattern.dir, '/outgoing');
    assert.ok(globToRegExp('*.csv').test('a.csv'));
    assert.ok(!globToRegExp('*.csv').test('a.csv.part'));
    assert.ok(globToRegExp('sales_??.csv').test('sales_01.csv'));
    assert.ok(!globToRegExp('sales_??.csv').test('sales_1.csv'));
    assert.ok(globToRegExp('day[12].txt').test('day2.txt'));
    assert.ok(globToRegExp('a+b(1).csv').test('a+b(1).csv'));
    assert.match(String(parseRemotePattern('/out*/x.csv')), /last path segment/);
    assert.match(String(parseRemotePattern('/outgoing/')), /not a folder/);
    assert.equal(movedPath('/outgoing/a.csv', 'processed/'), '/outgoing/processed/a.csv');
    assert.equal(movedPath('/outgoing/a.csv', '/archive'), '/archive/a.csv');
  });

  test('fingerprints are in the OpenSSH SHA256 form', () => {
    assert.match(fingerprintOf(Buffer.from('key')), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('sftp.get', () => {
  test('fetches a glob into inbox/, then moves the remote files to processed/', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    await s.put('get1/outgoing/a.csv', 'id\n1\n');
    await s.put('get1/outgoing/b.csv', 'id\n2\n3\n');
    await s.put('get1/outgoing/notes.txt', 'not a csv');
    await s.put('get1/outgoing/.hidden.csv', 'hidden');
    await s.put('get1/outgoing/c.csv.part', 'being uploaded');
    const h = await harness();
    const result = await h.runStep(
      sftpGetStep,
      { connection: 'partner', remote: `${s.root}/get1/outgoing/*.csv`, move_to: 'processed/' },
      { stepId: 'fetch' },
    );
    assert.deepEqual(result.outputs?.files, ['inbox/a.csv', 'inbox/b.csv']);
    assert.equal(result.outputs?.count, 2);
    assert.equal(result.bytes, 5 + 7);
    assert.equal(await readFile(join(h.projectDir, 'inbox/b.csv'), 'utf8'), 'id\n2\n3\n');
    assert.deepEqual(await readdir(join(h.projectDir, 'inbox')), ['a.csv', 'b.csv']);
    assert.deepEqual(await remoteNames('get1/outgoing'), [
      '.hidden.csv',
      'c.csv.part',
      'notes.txt',
      'processed',
    ]);
    assert.deepEqual(await remoteNames('get1/outgoing/processed'), ['a.csv', 'b.csv']);
    assert.deepEqual(result.outputs?.moved, [
      `${s.root}/get1/outgoing/processed/a.csv`,
      `${s.root}/get1/outgoing/processed/b.csv`,
    ]);
    assert.equal(h.artifacts.length, 0);
    assert.ok(h.logs.some((entry) => /Fetched .*a\.csv to inbox\/a\.csv/.test(entry.message)));

    // A second run finds nothing new: a clear error, or success with allow_empty.
    await assert.rejects(
      h.runStep(
        sftpGetStep,
        { connection: 'partner', remote: `${s.root}/get1/outgoing/*.csv` },
        { stepId: 'fetch' },
      ),
      rejectsWith('PW_INPUT_NOT_FOUND', /no remote file matches/, h),
    );
    const empty = await h.runStep(
      sftpGetStep,
      { connection: 'partner', remote: `${s.root}/get1/outgoing/*.csv`, allow_empty: true },
      { stepId: 'fetch' },
    );
    assert.equal(empty.outputs?.count, 0);
  });

  test('a single path, into another folder; if_exists skip and fail', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    await s.put('get2/report.csv', 'x\n1\n');
    await s.put('get2/other.csv', 'x\n2\n');
    const h = await harness();
    await h.writeFile('data/in/report.csv', 'old');
    const skipped = await h.runStep(
      sftpGetStep,
      {
        connection: 'partner',
        remote: `${s.root}/get2/report.csv`,
        into: 'data/in',
        if_exists: 'skip',
        move_to: 'done',
      },
      { stepId: 'fetch' },
    );
    assert.deepEqual(skipped.outputs?.files, []);
    assert.deepEqual(skipped.outputs?.skipped, ['data/in/report.csv']);
    assert.equal(await readFile(join(h.projectDir, 'data/in/report.csv'), 'utf8'), 'old');
    // A skipped file is not moved either.
    assert.deepEqual(await remoteNames('get2'), ['other.csv', 'report.csv']);

    await assert.rejects(
      h.runStep(
        sftpGetStep,
        {
          connection: 'partner',
          remote: `${s.root}/get2/*.csv`,
          into: 'data/in',
          if_exists: 'fail',
          move_to: 'done',
        },
        { stepId: 'fetch' },
      ),
      rejectsWith('PW_OUTPUT_EXISTS', /report\.csv already exists \(nothing was fetched\)/, h),
    );
    assert.equal(existsSync(join(h.projectDir, 'data/in/other.csv')), false);
    assert.deepEqual(await remoteNames('get2'), ['other.csv', 'report.csv']);

    const overwritten = await h.runStep(
      sftpGetStep,
      { connection: 'partner', remote: `${s.root}/get2/report.csv`, into: 'data/in' },
      { stepId: 'fetch' },
    );
    assert.deepEqual(overwritten.outputs?.files, ['data/in/report.csv']);
    assert.equal(await readFile(join(h.projectDir, 'data/in/report.csv'), 'utf8'), 'x\n1\n');
    assert.deepEqual(await readdir(join(h.projectDir, 'data/in')), ['report.csv']);
  });

  test('a larger file arrives whole', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'abcdefghij');
    await s.put('get3/big.bin', big);
    const h = await harness();
    const result = await h.runStep(
      sftpGetStep,
      { connection: 'partner', remote: `${s.root}/get3/big.bin` },
      { stepId: 'fetch' },
    );
    assert.equal(result.bytes, big.length);
    assert.ok((await readFile(join(h.projectDir, 'inbox/big.bin'))).equals(big));
  });

  test('a missing remote folder matches nothing; allow_empty accepts that', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    const h = await harness();
    await assert.rejects(
      h.runStep(
        sftpGetStep,
        { connection: 'partner', remote: `${s.root}/nowhere/x.csv` },
        { stepId: 'fetch' },
      ),
      rejectsWith('PW_INPUT_NOT_FOUND', /no remote file matches/, h),
    );
    const result = await h.runStep(
      sftpGetStep,
      { connection: 'partner', remote: `${s.root}/nowhere/*.csv`, allow_empty: true },
      { stepId: 'fetch' },
    );
    assert.equal(result.outputs?.count, 0);
    await assert.rejects(
      h.runStep(sftpGetStep, { connection: 'partner', remote: `${s.root}/out*/x.csv` }, { stepId: 'fetch' }),
      rejectsWith('PW_SPEC_TYPE', /last path segment/, h),
    );
  });
});

describe('sftp.put', () => {
  test('uploads a glob into a remote folder via .part names; if_exists fail, skip, overwrite', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    const h = await harness();
    await h.writeFile('exports/a.csv', 'id\n1\n');
    await h.writeFile('exports/b.csv', 'id\n2\n');
    await h.writeFile('exports/skip.txt', 'no');
    const result = await h.runStep(
      sftpPutStep,
      { connection: 'partner', path: 'exports/*.csv', remote: `${s.root}/put1/incoming/` },
      { stepId: 'send' },
    );
    assert.deepEqual(result.outputs?.files, [
      `${s.root}/put1/incoming/a.csv`,
      `${s.root}/put1/incoming/b.csv`,
    ]);
    assert.equal(result.bytes, 10);
    assert.deepEqual(await remoteNames('put1/incoming'), ['a.csv', 'b.csv']);
    assert.equal(await readFile(join(s.root, 'put1/incoming/b.csv'), 'utf8'), 'id\n2\n');

    await h.writeFile('exports/a.csv', 'id\n1\n10\n');
    await assert.rejects(
      h.runStep(
        sftpPutStep,
        {
          connection: 'partner',
          path: 'exports/*.csv',
          remote: `${s.root}/put1/incoming/`,
          if_exists: 'fail',
        },
        { stepId: 'send' },
      ),
      rejectsWith('PW_OUTPUT_EXISTS', /already exists on the server \(nothing was uploaded\)/, h),
    );
    const skipped = await h.runStep(
      sftpPutStep,
      { connection: 'partner', path: 'exports/a.csv', remote: `${s.root}/put1/incoming`, if_exists: 'skip' },
      { stepId: 'send' },
    );
    assert.deepEqual(skipped.outputs?.skipped, [`${s.root}/put1/incoming/a.csv`]);
    assert.equal(await readFile(join(s.root, 'put1/incoming/a.csv'), 'utf8'), 'id\n1\n');
    await h.runStep(
      sftpPutStep,
      { connection: 'partner', path: 'exports/a.csv', remote: `${s.root}/put1/incoming/renamed.csv` },
      { stepId: 'send' },
    );
    await h.runStep(
      sftpPutStep,
      { connection: 'partner', path: 'exports/a.csv', remote: `${s.root}/put1/incoming/` },
      { stepId: 'send' },
    );
    assert.equal(await readFile(join(s.root, 'put1/incoming/a.csv'), 'utf8'), 'id\n1\n10\n');
    assert.equal(await readFile(join(s.root, 'put1/incoming/renamed.csv'), 'utf8'), 'id\n1\n10\n');
    assert.deepEqual(await remoteNames('put1/incoming'), ['a.csv', 'b.csv', 'renamed.csv']);

    await assert.rejects(
      h.runStep(
        sftpPutStep,
        { connection: 'partner', path: 'exports/*.csv', remote: `${s.root}/put1/one.csv` },
        { stepId: 'send' },
      ),
      rejectsWith('PW_SPEC_TYPE', /remote must be a folder/, h),
    );
    await assert.rejects(
      h.runStep(
        sftpPutStep,
        { connection: 'partner', path: 'exports/*.parquet', remote: `${s.root}/put1/` },
        { stepId: 'send' },
      ),
      rejectsWith('PW_INPUT_NOT_FOUND', undefined, h),
    );
    // A remote folder that cannot be created (a file is in the way) is a remote failure.
    await s.put('put1/blocker', 'file');
    await assert.rejects(
      h.runStep(
        sftpPutStep,
        { connection: 'partner', path: 'exports/a.csv', remote: `${s.root}/put1/blocker/sub/` },
        { stepId: 'send' },
      ),
      rejectsWith('PW_SFTP_REMOTE', /creating folder .*blocker failed/, h),
    );
  });

  test('uploads a dataset written by DuckDB in the chosen format', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    const h = await harness();
    await h.query("CREATE TABLE sales AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(id, name)");
    const csv = await h.runStep(
      sftpPutStep,
      { connection: 'partner', input: 'sales', remote: `${s.root}/put2/sales-2026.csv` },
      { stepId: 'send' },
    );
    assert.equal(csv.rows, 2);
    assert.equal(await readFile(join(s.root, 'put2/sales-2026.csv'), 'utf8'), 'id,name\n1,a\n2,b\n');
    const ndjson = await h.runStep(
      sftpPutStep,
      { connection: 'partner', input: 'sales', format: 'ndjson', remote: `${s.root}/put2/` },
      { stepId: 'send' },
    );
    assert.deepEqual(ndjson.outputs?.files, [`${s.root}/put2/sales.ndjson`]);
    assert.equal(
      await readFile(join(s.root, 'put2/sales.ndjson'), 'utf8'),
      '{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n',
    );
    // The temporary file in the workspace is gone.
    const workspace = join(h.projectDir, '.pipewright', 'runs', 'test-run');
    assert.deepEqual(
      (await readdir(workspace)).filter((name) => name.startsWith('.sftp-put')),
      [],
    );
    await assert.rejects(
      h.runStep(
        sftpPutStep,
        { connection: 'partner', input: 'sales', remote: `${s.root}/put2/` },
        { stepId: 'send' },
      ),
      rejectsWith('PW_SPEC_TYPE', /Cannot tell which format/, h),
    );
    assert.equal(sftpPutStep.config.safeParse({ connection: 'p', remote: '/x/' }).success, false);
    assert.equal(
      sftpPutStep.config.safeParse({ connection: 'p', remote: '/x/', path: 'a', input: 'b' }).success,
      false,
    );
  });
});

describe('logins and host keys', () => {
  test('a host key mismatch is refused, showing both fingerprints and the ssh-keyscan hint', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    await s.put('hk/a.csv', 'x');
    const wrong = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
    const h = await harness({ host_key: wrong });
    await assert.rejects(
      h.runStep(
        sftpGetStep,
        { connection: 'partner', remote: `${s.root}/hk/a.csv`, move_to: 'done' },
        { stepId: 'fetch' },
      ),
      (error: unknown) => {
        rejectsWith('PW_SFTP_HOST_KEY', /host key mismatch, connection refused/, h)(error);
        const e = error as PwError;
        assert.ok(e.message.includes(`presented ${s.hostKey}`), e.message);
        assert.ok(e.message.includes(`expected ${wrong}`), e.message);
        assert.match(
          e.hint ?? '',
          new RegExp(`ssh-keyscan -p ${s.port} 127\\.0\\.0\\.1 \\| ssh-keygen -lf -`),
        );
        return true;
      },
    );
    assert.equal(existsSync(join(h.projectDir, 'inbox')), false);
    assert.deepEqual(await remoteNames('hk'), ['a.csv']);
  });

  test('host_key: a list, or the whole ssh-keygen -lf line, is accepted', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    await s.put('hk2/a.csv', 'x');
    const h1 = await harness({ host_key: ['SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s', s.hostKey] });
    assert.equal(
      (
        await h1.runStep(
          sftpGetStep,
          { connection: 'partner', remote: `${s.root}/hk2/a.csv` },
          { stepId: 'f' },
        )
      ).outputs?.count,
      1,
    );
    const h2 = await harness({ host_key: `256 ${s.hostKey} pipewright-test (ED25519)` });
    assert.equal(
      (
        await h2.runStep(
          sftpGetStep,
          { connection: 'partner', remote: `${s.root}/hk2/a.csv` },
          { stepId: 'f' },
        )
      ).outputs?.count,
      1,
    );
  });

  test('no host_key is refused before connecting; insecure_skip_host_key_check warns', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    await s.put('hk3/a.csv', 'x');
    const h = await harness({ host_key: undefined });
    await assert.rejects(
      h.runStep(sftpGetStep, { connection: 'partner', remote: `${s.root}/hk3/a.csv` }, { stepId: 'fetch' }),
      (error: unknown) => {
        rejectsWith('PW_SPEC_TYPE', /host_key: the server key must be pinned/, h)(error);
        assert.match((error as PwError).hint ?? '', /ssh-keyscan -p \d+ 127\.0\.0\.1 \| ssh-keygen -lf -/);
        return true;
      },
    );
    const bad = await harness({ host_key: 'MD5:aa:bb' });
    await assert.rejects(
      bad.runStep(sftpGetStep, { connection: 'partner', remote: `${s.root}/hk3/a.csv` }, { stepId: 'fetch' }),
      rejectsWith('PW_SPEC_TYPE', /expected an OpenSSH SHA256 fingerprint/, bad),
    );
    const insecure = await harness({ host_key: undefined, insecure_skip_host_key_check: true });
    await insecure.runStep(
      sftpGetStep,
      { connection: 'partner', remote: `${s.root}/hk3/a.csv` },
      { stepId: 'fetch' },
    );
    const warning = insecure.logs.find((entry) => entry.level === 'warn');
    assert.ok(warning, 'a warning is logged');
    assert.match(warning.message, /insecure_skip_host_key_check/);
    assert.ok(warning.message.includes(s.hostKey), warning.message);
  });

  test('a wrong password is refused (PW_SFTP_AUTH) and never shown', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    const h = await harness({ private_key_file: undefined, password: '${env:SFTP_PASSWORD}' });
    await assert.rejects(
      h.runStep(sftpGetStep, { connection: 'partner', remote: `${s.root}/x.csv` }, { stepId: 'fetch' }),
      rejectsWith(
        'PW_SFTP_AUTH',
        /connection 'partner' \(sftp, \S+@127\.0\.0\.1:\d+\): connecting failed: login refused/,
        h,
      ),
    );
  });

  test('an unknown key is refused; a key given as ${file:…} text works', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    const stranger = await harness({ private_key_file: s.strangerKeyFile });
    await assert.rejects(
      stranger.runStep(
        sftpGetStep,
        { connection: 'partner', remote: `${s.root}/x.csv` },
        { stepId: 'fetch' },
      ),
      rejectsWith('PW_SFTP_AUTH', /login refused/, stranger),
    );
    await s.put('key/a.csv', 'k');
    const h = await harness({ private_key_file: undefined, private_key: '${file:secrets/id_ed25519}' });
    await h.writeFile('secrets/id_ed25519', await readFile(s.keyFile));
    assert.equal(
      (
        await h.runStep(
          sftpGetStep,
          { connection: 'partner', remote: `${s.root}/key/a.csv` },
          { stepId: 'f' },
        )
      ).outputs?.count,
      1,
    );
  });

  test('an encrypted key works with its passphrase; a wrong or missing one fails clearly', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    await s.put('enc/a.csv', 'e');
    const good = await harness({ private_key_file: s.encryptedKeyFile, passphrase: '${env:KEY_PASS}' });
    assert.equal(
      (
        await good.runStep(
          sftpGetStep,
          { connection: 'partner', remote: `${s.root}/enc/a.csv` },
          { stepId: 'f' },
        )
      ).outputs?.count,
      1,
    );
    const wrong = await harness({ private_key_file: s.encryptedKeyFile, passphrase: `${PASSWORD}` });
    await assert.rejects(
      wrong.runStep(sftpGetStep, { connection: 'partner', remote: `${s.root}/enc/a.csv` }, { stepId: 'f' }),
      rejectsWith('PW_SFTP_AUTH', /private key cannot be used: wrong passphrase/, wrong),
    );
    const missing = await harness({ private_key_file: s.encryptedKeyFile });
    await assert.rejects(
      missing.runStep(sftpGetStep, { connection: 'partner', remote: `${s.root}/enc/a.csv` }, { stepId: 'f' }),
      rejectsWith('PW_SFTP_AUTH', /encrypted and no passphrase is given/, missing),
    );
  });
});

describe('unreachable servers', () => {
  test('a closed port fails at once with PW_SFTP_UNREACHABLE', async () => {
    const port = await freePort();
    const h = await createStepHarness({
      connections: {
        partner: {
          type: 'sftp',
          host: '127.0.0.1',
          port,
          user: 'u',
          password: PASSWORD,
          host_key: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
        },
      },
    });
    harnesses.push(h);
    const started = Date.now();
    await assert.rejects(
      h.runStep(sftpGetStep, { connection: 'partner', remote: '/x.csv' }, { stepId: 'fetch' }),
      rejectsWith('PW_SFTP_UNREACHABLE', /ECONNREFUSED/, h),
    );
    assert.ok(Date.now() - started < 3000);
  });

  test('a server that never answers times out after connect_timeout, clearly', async () => {
    const silent = await silentTcpServer();
    try {
      const h = await createStepHarness({
        connections: {
          partner: {
            type: 'sftp',
            host: '127.0.0.1',
            port: silent.port,
            user: 'u',
            password: PASSWORD,
            host_key: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
            connect_timeout: '500ms',
          },
        },
      });
      harnesses.push(h);
      const started = Date.now();
      await assert.rejects(
        h.runStep(sftpGetStep, { connection: 'partner', remote: '/x.csv' }, { stepId: 'fetch' }),
        (error: unknown) => {
          rejectsWith('PW_SFTP_UNREACHABLE', /no SSH handshake within 500ms/, h)(error);
          assert.equal((error as PwError).kind, 'operational');
          return true;
        },
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 400 && elapsed < 3000, `took ${elapsed} ms`);

      // Aborting the step ends the attempt at once.
      const controller = new AbortController();
      const slow = await createStepHarness({
        connections: {
          partner: {
            type: 'sftp',
            host: '127.0.0.1',
            port: silent.port,
            user: 'u',
            password: PASSWORD,
            host_key: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
          },
        },
      });
      harnesses.push(slow);
      const abortStarted = Date.now();
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(
        slow.runStep(
          sftpGetStep,
          { connection: 'partner', remote: '/x.csv' },
          { stepId: 'fetch', signal: controller.signal },
        ),
        rejectsWith('PW_CANCELLED', undefined, slow),
      );
      assert.ok(Date.now() - abortStarted < 2000);
    } finally {
      await silent.close();
    }
  });
});

describe('renames and cancellation', () => {
  test('without posix-rename, an existing target is removed and the .part renamed onto it', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    await s.put('rn/target.csv', 'old');
    await s.put('rn/target.csv.part', 'new');
    const { SftpSession } = await import('./client.js');
    const { sftpSettings } = await import('./config.js');
    const session = await SftpSession.open(
      sftpSettings(
        'partner',
        {
          type: 'sftp',
          host: '127.0.0.1',
          port: s.port,
          user: s.user,
          private_key_file: s.keyFile,
          host_key: s.hostKey,
        },
        '/',
      ),
    );
    try {
      assert.equal(session.hasPosixRename, true, 'OpenSSH offers posix-rename');
      Object.defineProperty(session, 'hasPosixRename', { value: false });
      await session.rename(`${s.root}/rn/target.csv.part`, `${s.root}/rn/target.csv`, true);
    } finally {
      session.close();
    }
    assert.deepEqual(await remoteNames('rn'), ['target.csv']);
    assert.equal(await readFile(join(s.root, 'rn/target.csv'), 'utf8'), 'new');
  });

  test('aborting a download ends it: no local file, no temporary, the remote file stays', async (t) => {
    if (!requireSshd(t, server)) return;
    const s = sshd();
    await s.put('abort/big.bin', Buffer.alloc(64 * 1024 * 1024, 7));
    const h = await harness();
    const controller = new AbortController();
    const inbox = join(h.projectDir, 'inbox');
    const watcher = setInterval(() => {
      void readdir(inbox)
        .then((names) => {
          if (names.some((name) => name.endsWith('.tmp'))) controller.abort();
        })
        .catch(() => undefined);
    }, 2);
    try {
      await assert.rejects(
        h.runStep(
          sftpGetStep,
          { connection: 'partner', remote: `${s.root}/abort/big.bin`, move_to: 'processed' },
          { stepId: 'fetch', signal: controller.signal },
        ),
        rejectsWith('PW_CANCELLED', undefined, h),
      );
    } finally {
      clearInterval(watcher);
    }
    assert.deepEqual(await readdir(inbox), []);
    assert.deepEqual(await remoteNames('abort'), ['big.bin']);
  });
});
