/**
 * Batch payloads end to end: `pipewright send --folder` against a real `pipewright serve` child. The
 * files of the folder arrive byte for byte in the inbox's storage (others skipped), the batch id is the
 * last line, the inbox's pipeline runs and reads the batch's files through `{{ trigger.batch.folder }}`;
 * a wrong token exits 2 without printing it, and a disallowed type is refused with exit 2. A payload a
 * crash left half-received in `.incoming/` is moved to `.rejected/` and recorded when serve starts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertExit,
  collect,
  killGroup,
  makeProject,
  makeTempDir,
  removeDir,
  runCli,
  spawnCli,
  waitFor,
  writeFiles,
  type CliResult,
} from './cli-harness.js';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(3000, 5),
]);

describe('pipewright send → serve inbox', { timeout: 120_000 }, () => {
  let project: string;
  let source: string;
  let token: string;
  let child: ReturnType<typeof spawnCli>;
  let done: Promise<CliResult>;
  let base: string;
  let out = '';

  before(async () => {
    project = await makeProject('batch-send', {
      'pipewright.yaml': [
        'name: e2e',
        'timezone: UTC',
        'inboxes:',
        '  health:',
        '    storage: _storage',
        '    pipeline: on-batch',
        '',
      ].join('\n'),
      'pipelines/on-batch.yaml': [
        'id: on-batch',
        'steps:',
        '  - id: readings',
        '    uses: files.read',
        '    with: { path: "{{ trigger.batch.folder }}/*_readings.csv" }',
        '',
      ].join('\n'),
    });
    source = await makeTempDir('batch-source');
    await writeFiles(source, {
      'readings.csv': 'probe,t\na,21.5\nb,19.0\n',
      'meta.json': JSON.stringify({ site: 'x', values: [1, 2, 3] }),
      'plot.png': PNG,
      'big.txt': Buffer.alloc(2 * 1024 * 1024, 'abc'),
      'script.sh': '#!/bin/sh\n',
    });
    const created = await runCli(['token', 'create', '--name', 'sender', '--scope', 'operate'], {
      cwd: project,
    });
    assertExit(created, 0, 'token create');
    token = created.stdout.trimEnd().split('\n').at(-1) ?? '';
    // What a crash while a body was arriving leaves behind.
    await writeFiles(project, { '_storage/.incoming/20261123-100000-crash1.json.part': '{"batch_meta' });
    child = spawnCli(['serve', '--port', '0'], { cwd: project });
    done = collect(child, 110_000, 'serve');
    done.catch(() => undefined);
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    assert.ok(await waitFor(() => Promise.resolve(/http:\/\/127\.0\.0\.1:\d+/.test(out)), 20_000, 100), out);
    base = /http:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0] ?? '';
    assert.ok(
      await waitFor(
        async () => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200,
        20_000,
        200,
      ),
    );
  });

  after(async () => {
    killGroup(child, 'SIGTERM');
    await done.catch(() => undefined);
    await removeDir(project);
    await removeDir(source);
  });

  it('sends a folder; the files arrive byte for byte and the pipeline reads them', async () => {
    const sent = await runCli(
      ['send', '--folder', source, '--batch-name', 'daily', '--to', `${base}/api/inboxes/health/batches`],
      { cwd: source, env: { PIPEWRIGHT_TOKEN: token } },
    );
    assertExit(sent, 0, 'send');
    assert.match(sent.stderr, /Skipping 1 file\(s\) of other types: script\.sh/);
    assert.match(sent.stderr, /packed 4\/4 files/);
    assert.ok(!sent.stdout.includes(token) && !sent.stderr.includes(token), 'token never printed');
    const batchId = sent.stdout.trimEnd().split('\n').at(-1) ?? '';
    assert.match(batchId, /^\d{8}-\d{6}-[a-z0-9]{6}$/);
    const runId = /Queued run ([0-9a-z-]+)/.exec(sent.stdout)?.[1];
    assert.ok(runId, sent.stdout);

    const storage = join(project, '_storage');
    const stored = readdirSync(storage).filter((name) => !name.startsWith('.'));
    for (const name of ['readings.csv', 'meta.json', 'plot.png', 'big.txt']) {
      const match = stored.find((entry) => entry.endsWith(`_${name}`));
      assert.ok(match, `${name} stored (${stored.join(', ')})`);
      assert.deepEqual(readFileSync(join(storage, match)), readFileSync(join(source, name)), name);
    }
    assert.ok(!stored.some((name) => name.endsWith('script.sh')));
    const summary = stored.find((name) => name.endsWith(`_batch-${batchId}_summary.json`));
    assert.ok(summary);
    const parsed = JSON.parse(readFileSync(join(storage, summary), 'utf8')) as {
      batch_metadata: { batch_name: string };
      total_files: number;
    };
    assert.equal(parsed.batch_metadata.batch_name, 'daily');
    assert.equal(parsed.total_files, 4);

    const headers = { authorization: `Bearer ${token}` };
    let run: { status: string; error: unknown } | undefined;
    await waitFor(
      async () => {
        run = (await (await fetch(`${base}/api/runs/${runId}`, { headers })).json()) as typeof run;
        return run?.status === 'succeeded' || run?.status === 'failed';
      },
      60_000,
      250,
    );
    assert.equal(run?.status, 'succeeded', JSON.stringify(run));
    const detail = (await (await fetch(`${base}/api/runs/${runId}`, { headers })).json()) as {
      steps: { step: string; rows: number }[];
    };
    assert.equal(detail.steps.find((step) => step.step === 'readings')?.rows, 2);
  });

  it('serve moved the payload a crash left half-received to .rejected/ before listening', () => {
    const storage = join(project, '_storage');
    assert.deepEqual(readdirSync(join(storage, '.incoming')), []);
    assert.equal(
      readFileSync(join(storage, '.rejected', '20261123-100000-crash1.json.part'), 'utf8'),
      '{"batch_meta',
    );
    assert.match(
      out,
      /inbox health: payload 20261123-100000-crash1: the request body never finished arriving/,
    );
  });

  it('a wrong token exits 2 and is not printed; a disallowed type is refused', async () => {
    const wrong = await runCli(['send', '--data', '{"a":1}', '--to', base, '--inbox', 'health'], {
      cwd: source,
      env: { PIPEWRIGHT_TOKEN: 'pw_not_a_real_token_value' },
    });
    assertExit(wrong, 2, 'send with a wrong token');
    assert.match(wrong.stderr, /PW_AUTH_REQUIRED/);
    assert.ok(!wrong.stderr.includes('pw_not_a_real_token_value'));

    const refused = await runCli(
      ['send', '--file', join(source, 'script.sh'), '--to', `${base}/api/inboxes/health/batches`],
      { cwd: source, env: { PIPEWRIGHT_TOKEN: token } },
    );
    assertExit(refused, 2, 'send of a .sh file');
    assert.match(refused.stderr, /PW_BATCH_INVALID/);
    assert.match(refused.stderr, /extension '\.sh' is not allowed/);
  });
});
