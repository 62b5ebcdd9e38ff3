/**
 * `pipewright import crontab` through the real CLI: drafts land in the project's pipelines folder,
 * `pipewright validate` accepts them, a second import overwrites nothing, and standard input works.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LAUNCHER, assertExit, assertNoStackTrace, makeProject, removeDir, runCli } from './cli-harness.js';

const CRONTAB = `MAILTO=ops@example.com
0 9 * * * cd /srv/app && python sender/sender.py --folder /data
*/10 * * * * /opt/bin/poll.sh >> /var/log/poll.log 2>&1
@weekly /usr/bin/backup --full
@reboot /opt/bin/tunnel
`;

describe('pipewright import crontab', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject('import-crontab', { 'jobs.cron': CRONTAB });
  });
  after(async () => removeDir(dir));

  it('writes one draft per job, reports @reboot, and the drafts validate', async () => {
    const imported = await runCli(['import', 'crontab', 'jobs.cron', '--timezone', 'Europe/Berlin'], {
      cwd: dir,
    });
    assertNoStackTrace(imported, 'import');
    assertExit(imported, 2, 'import with a skipped @reboot line');
    assert.match(
      imported.stdout,
      /created {2}pipelines\/sender\.yaml {2}0 9 \* \* \* Europe\/Berlin, line 2/,
    );
    assert.match(imported.stdout, /skipped {2}line 5: @reboot runs once at boot/);
    assert.match(
      imported.stdout,
      /3 draft pipeline\(s\) written to pipelines\/, 0 already existed, 1 line\(s\) skipped/,
    );
    assert.deepEqual((await readdir(join(dir, 'pipelines'))).sort(), [
      'backup.yaml',
      'poll.yaml',
      'sender.yaml',
    ]);
    const backup = await readFile(join(dir, 'pipelines', 'backup.yaml'), 'utf8');
    assert.match(backup, /^# DRAFT imported by `pipewright import crontab` from line 4/);
    assert.match(backup, /cron: 0 0 \* \* 0\n {2}timezone: Europe\/Berlin/);

    const validated = await runCli(['validate'], { cwd: dir });
    assertExit(validated, 0, 'validate the drafts');
    assert.match(validated.stdout, /ok {4}sender \(1 steps\)/);
  });

  it('never overwrites an existing file, and reads standard input with -', async () => {
    await writeFile(join(dir, 'pipelines', 'sender.yaml'), '# my edits\n');
    const child = spawn(
      process.execPath,
      [LAUNCHER, 'import', 'crontab', '-', '--out', 'drafts', '--timezone', 'UTC'],
      {
        cwd: dir,
        env: { ...process.env, NO_COLOR: '1', NODE_TEST_CONTEXT: undefined },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child.stdin.end('0 1 * * * /usr/bin/backup --full\n');
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stdout);
    assert.match(
      await readFile(join(dir, 'drafts', 'backup.yaml'), 'utf8'),
      /cron: 0 1 \* \* \*\n {2}timezone: UTC/,
    );

    const again = await runCli(['import', 'crontab', 'jobs.cron', '--timezone', 'UTC'], { cwd: dir });
    assertExit(again, 2, 'second import');
    assert.match(again.stdout, /exists {3}pipelines\/sender\.yaml {2}line 2: not overwritten/);
    assert.equal(await readFile(join(dir, 'pipelines', 'sender.yaml'), 'utf8'), '# my edits\n');
  });

  it('refuses an unknown time zone', async () => {
    const result = await runCli(['import', 'crontab', 'jobs.cron', '--timezone', 'Mars/Olympus'], {
      cwd: dir,
    });
    assertExit(result, 2, 'bad zone');
    assertNoStackTrace(result, 'bad zone');
    assert.match(result.stderr, /PW_SPEC_TIMEZONE/);
  });
});
