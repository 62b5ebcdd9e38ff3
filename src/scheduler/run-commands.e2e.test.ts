/**
 * The real `pipewright` launcher in a fresh project (from `pipewright init`): backfill, cancel and
 * retry, their output and exit codes. The service is not started; the queue is read back with `runs`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.js';

const LAUNCHER = join(PACKAGE_ROOT, 'bin', 'pipewright.js');
let root: string;
let project: string;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.PIPEWRIGHT_PROJECT;
  delete env.PIPEWRIGHT_STATE_URL;
  const result = spawnSync(process.execPath, [LAUNCHER, ...args], {
    cwd: project ?? root,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-run-commands-'));
  project = root;
  const init = cli('init', 'demo');
  assert.equal(init.code, 0, init.stderr);
  project = join(root, 'demo');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('pipewright backfill, cancel and retry', () => {
  it('backfills the slots of a range once, prints the run ids, and refuses bad ranges', () => {
    const first = cli('backfill', 'weekly-temperature', '--from', '2026-01-01', '--to', '2026-01-31');
    assert.equal(first.code, 0, first.stderr);
    const ids = first.stdout.trim().split('\n');
    assert.equal(ids.length, 4, first.stdout);
    assert.match(first.stderr, /4 slots of weekly-temperature .*queued 4\./);

    const again = cli('backfill', 'weekly-temperature', '--from', '2026-01-01', '--to', '2026-01-31');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /queued 0, 4 already had a backfill run/);

    const runs = JSON.parse(cli('runs', '--json').stdout) as { id: string }[];
    assert.equal(runs.length, 4);

    const huge = cli('backfill', 'weekly-temperature', '--from', '2000-01-01', '--to', '2030-01-01');
    assert.equal(huge.code, 2);
    assert.match(huge.stderr, /PW_USAGE.*more than 1000 slots/);
    const reversed = cli('backfill', 'weekly-temperature', '--from', '2026-02-01', '--to', '2026-01-01');
    assert.equal(reversed.code, 2);
    const malformed = cli('backfill', 'weekly-temperature', '--from', 'last week', '--to', '2026-01-01');
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /--from expects a date or an instant/);
  });

  it('cancels a queued run, refuses to cancel it twice, retries it, and rejects unknown runs', () => {
    const queued = cli('trigger', 'weekly-temperature');
    assert.equal(queued.code, 0, queued.stderr);
    const id = queued.stdout.trim().split('\n').at(-1) as string;

    const cancel = cli('cancel', id);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout.trim().split('\n').at(-1), 'cancelled');

    const twice = cli('cancel', id);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /PW_USAGE.*already finished \(cancelled\)/);

    const retry = cli('retry', id);
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal(retry.stdout.trim().split('\n').at(-1), id);
    const shown = JSON.parse(cli('show', id, '--json').stdout) as { status: string; attempt: number };
    assert.equal(shown.status, 'queued');
    assert.equal(shown.attempt, 2);

    const retryQueued = cli('retry', id);
    assert.equal(retryQueued.code, 2);
    assert.match(retryQueued.stderr, /PW_RUN_NOT_RESUMABLE/);

    for (const command of ['cancel', 'retry']) {
      const unknown = cli(command, 'no-such-run');
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /PW_RUN_NOT_FOUND/);
    }
  });
});
