/**
 * Crontab parsing and the draft pipelines made from it; each draft is checked with the project's own
 * pipeline validator against the built-in step types.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { validatePipeline } from '../../core/spec/validate.js';
import { builtinRegistry } from '../../steps/builtin.js';
import { parseCrontab } from './parse-crontab.js';
import { commandShape, draftPipeline, idForCommand } from './crontab-pipeline.js';

const CRONTAB = `# m h dom mon dow command
SHELL=/bin/bash
MAILTO=ops@example.com
PATH=/usr/local/bin:/usr/bin:/bin
DB_URL = "postgres://reports@localhost/app"

0 9 * * * cd /srv/healthmetric && python sender/sender.py --folder /scheduled/data
*/15 8-18 * * 1-5 /opt/bin/poll.sh >> /var/log/poll.log 2>&1
@daily   /usr/bin/backup --full
@reboot /opt/bin/start-tunnel
5 0 * * * tar czf /backups/db-$(date +\\%Y\\%m\\%d).tgz /var/lib/db
5 0 * * * mail -s "hello" ops%body text
@fortnightly /bin/true
not a cron line
30 6 1 * *
`;

describe('parseCrontab', () => {
  const crontab = parseCrontab(CRONTAB);

  it('reads jobs with five fields and @-macros, with the environment lines above them', () => {
    assert.deepEqual(
      crontab.jobs.map((job) => [job.line, job.cron, job.command]),
      [
        [7, '0 9 * * *', 'cd /srv/healthmetric && python sender/sender.py --folder /scheduled/data'],
        [8, '*/15 8-18 * * 1-5', '/opt/bin/poll.sh >> /var/log/poll.log 2>&1'],
        [9, '0 0 * * *', '/usr/bin/backup --full'],
        [11, '5 0 * * *', 'tar czf /backups/db-$(date +%Y%m%d).tgz /var/lib/db'],
      ],
    );
    assert.deepEqual(crontab.jobs[0]?.env, {
      SHELL: '/bin/bash',
      MAILTO: 'ops@example.com',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      DB_URL: 'postgres://reports@localhost/app',
    });
  });

  it('reports @reboot, a bare %, unknown macros, malformed lines and jobs without a command', () => {
    assert.deepEqual(
      crontab.skipped.map((skip) => [skip.line, skip.reason.split(/[,:(]/)[0]]),
      [
        [10, '@reboot runs once at boot'],
        [12, 'the command holds an unescaped % '],
        [13, 'unknown macro @fortnightly '],
        [14, 'not a crontab line'],
        [15, 'not a crontab line'],
      ],
    );
  });

  it('expands every macro', () => {
    const macros = parseCrontab(
      ['@yearly a', '@annually a', '@monthly a', '@weekly a', '@daily a', '@midnight a', '@hourly a'].join(
        '\n',
      ),
    );
    assert.deepEqual(
      macros.jobs.map((job) => job.cron),
      ['0 0 1 1 *', '0 0 1 1 *', '0 0 1 * *', '0 0 * * 0', '0 0 * * *', '0 0 * * *', '0 * * * *'],
    );
  });
});

describe('draft pipelines', () => {
  it('splits a simple command into argv, takes cd DIR && … as cwd, and keeps shell syntax in a shell string', () => {
    assert.deepEqual(commandShape('/usr/bin/backup --full'), { argv: ['/usr/bin/backup', '--full'] });
    assert.deepEqual(commandShape('cd /srv/app && python x.py --a=1'), {
      cwd: '/srv/app',
      argv: ['python', 'x.py', '--a=1'],
    });
    for (const shell of [
      'a | b',
      'a > log',
      'a && b',
      'echo $HOME',
      'FOO=1 run',
      "echo 'x y'",
      'ls ~/x',
      'a; b',
    ])
      assert.deepEqual(commandShape(shell), { shell }, shell);
  });

  it('names a pipeline after the script or program it runs', () => {
    assert.equal(idForCommand('cd /srv && python sender/sender.py --folder x'), 'sender');
    assert.equal(idForCommand('/opt/bin/poll.sh >> /var/log/poll.log 2>&1'), 'poll');
    assert.equal(idForCommand('/usr/bin/backup --full'), 'backup');
    assert.equal(idForCommand('nice -n 10 /opt/Weekly_Report'), 'weekly-report');
  });

  it('produces drafts that the pipeline validator accepts', () => {
    const registry = builtinRegistry();
    const { jobs } = parseCrontab(CRONTAB);
    for (const job of jobs) {
      const id = idForCommand(job.command);
      const draft = draftPipeline(job, id, 'Europe/Berlin');
      const result = validatePipeline(draft.yaml, `${id}.yaml`, registry, {
        expectedId: id,
        projectTimezone: 'UTC',
      });
      assert.ok(result.ok, `${draft.yaml}\n${JSON.stringify(result.ok ? [] : result.issues, null, 2)}`);
      assert.match(draft.yaml, /^# DRAFT imported by `pipewright import crontab` from line \d+/);
    }
    const sender = draftPipeline(jobs[0] ?? assert.fail('no job'), 'sender', 'Europe/Berlin');
    assert.deepEqual(parse(sender.yaml), {
      id: 'sender',
      description:
        'Imported from crontab: cd /srv/healthmetric && python sender/sender.py --folder /scheduled/data',
      schedule: { cron: '0 9 * * *', timezone: 'Europe/Berlin', catchup: 'none' },
      steps: [
        {
          id: 'run',
          uses: 'exec',
          with: {
            command: ['python', 'sender/sender.py', '--folder', '/scheduled/data'],
            cwd: '/srv/healthmetric',
            env: { PATH: '/usr/local/bin:/usr/bin:/bin', DB_URL: 'postgres://reports@localhost/app' },
          },
        },
      ],
    });
    assert.deepEqual(sender.notes, [
      'cron ran this with SHELL=/bin/bash; the draft uses /bin/sh.',
      'MAILTO=ops@example.com was dropped: add on_failure to be told of failures.',
    ]);
    const poll = parse(draftPipeline(jobs[1] ?? assert.fail('no job'), 'poll', 'UTC').yaml) as {
      steps: { with: Record<string, unknown> }[];
    };
    assert.equal(poll.steps[0]?.with['shell'], true);
    assert.equal(poll.steps[0]?.with['command'], '/opt/bin/poll.sh >> /var/log/poll.log 2>&1');
  });
});
