/**
 * The CLI against a running server, as real processes: `pipewright serve --port 0` on a temporary
 * project, tokens from `pipewright token create`, then `trigger`, `runs`, `show`, `logs --follow`,
 * `cancel`, `retry`, `pause` and `resume` with `--server` from a folder that is not the project. Their
 * output is compared with the same commands run locally on the project folder. Also: following a log
 * locally, Ctrl-C while following, the token from the environment, a flag or a file, wrong and
 * too-narrow tokens, unknown runs, commands that only work locally, and the server gone.
 *
 * The `crash` pipeline's user-written step waits (for a release file) on its first execution whenever
 * its marker file is absent, so a run can be held in the `running` state while the tests look at it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertExit,
  assertNoStackTrace,
  collect,
  copyFixtureProject,
  describeResult,
  killGroup,
  makeTempDir,
  parseJson,
  removeDir,
  runCli,
  spawnCli,
  waitFor,
  writeFiles,
  type CliResult,
  type RunJson,
  type ShowJson,
} from './cli-harness.js';
import { startService, type Service } from './service-harness.js';

/** Neither variable leaks in from the environment the tests run in. */
const NO_SERVER = { PIPEWRIGHT_SERVER: undefined, PIPEWRIGHT_TOKEN: undefined };
const RUN_ID = /^\d{8}-\d{6}-[0-9a-z]{6}$/;
const lastLine = (text: string) => text.trimEnd().split('\n').at(-1) ?? '';

describe('the CLI against a running pipewright serve', { timeout: 240_000 }, () => {
  let project: string;
  /** Where remote commands run: not a project, so nothing can be read locally. */
  let elsewhere: string;
  let serve: Service | undefined;
  let url = '';
  let readToken = '';
  let operateToken = '';

  const local = (args: string[]) => runCli(args, { cwd: project, env: NO_SERVER });
  const remote = (args: string[], token = operateToken) =>
    runCli(['--server', url, ...args], { cwd: elsewhere, env: { ...NO_SERVER, PIPEWRIGHT_TOKEN: token } });
  const spawnFollow = (id: string, where: 'remote' | 'local') =>
    where === 'remote'
      ? spawnCli(['logs', '--follow', id, '--server', url], {
          cwd: elsewhere,
          env: { ...NO_SERVER, PIPEWRIGHT_TOKEN: readToken },
        })
      : spawnCli(['logs', '--follow', id], { cwd: project, env: NO_SERVER });

  /** Output of `--json` commands, parsed, after checking they exited 0. */
  const jsonOf = async <T>(result: Promise<CliResult>, what: string): Promise<T> => {
    const done = await result;
    assertExit(done, 0, what);
    return parseJson<T>(done, what);
  };
  const status = async (id: string) => (await jsonOf<ShowJson>(local(['show', id, '--json']), 'show')).status;
  const waitForStatus = async (id: string, wanted: string, timeoutMs = 60_000) => {
    let seen = '';
    const reached = await waitFor(
      async () => {
        seen = await status(id);
        return seen === wanted;
      },
      timeoutMs,
      250,
    );
    assert.ok(
      reached,
      `run ${id} reached ${wanted} within ${timeoutMs} ms (it is ${seen})\n${serve?.output() ?? ''}`,
    );
  };

  /** Makes the next run of `crash` wait in its slow step until release(). */
  const hold = async () => {
    await rm(join(project, 'slow.started'), { force: true });
    await rm(join(project, 'slow.release'), { force: true });
  };
  const release = () => writeFile(join(project, 'slow.release'), 'go\n');
  const waitUntilHeld = async () =>
    assert.ok(
      await waitFor(() => existsSync(join(project, 'slow.started')), 60_000),
      `the slow step started\n${serve?.output() ?? ''}`,
    );

  before(async () => {
    project = await copyFixtureProject('crash-resume', 'remote-cli');
    elsewhere = await makeTempDir('remote-cli-cwd');
    const lines = ['id,name,amount'];
    for (let id = 1; id <= 200; id += 1) lines.push(`${id},item-${id},${id}.5`);
    await writeFiles(project, {
      'data/items.csv': `${lines.join('\n')}\n`,
      'pipelines/nightly.yaml': [
        'id: nightly',
        'schedule: { cron: "0 3 * * *", timezone: UTC, catchup: none }',
        'steps:',
        '  - id: items',
        '    uses: files.read',
        '    with: { path: data/items.csv }',
        '',
      ].join('\n'),
    });
    for (const [name, scope] of [
      ['viewer', 'read'],
      ['ops', 'operate'],
    ] as const) {
      const created = await local(['token', 'create', '--name', name, '--scope', scope]);
      assertExit(created, 0, `token create ${name}`);
      const token = lastLine(created.stdout);
      assert.match(token, /^pw_[A-Za-z0-9_-]{43}$/);
      if (scope === 'read') readToken = token;
      else operateToken = token;
    }

    serve = startService(['serve', '--port', '0'], project, { PIPEWRIGHT_POLL_MS: '100' });
    const service = serve;
    const announced = await waitFor(
      () => /http: (http:\/\/127\.0\.0\.1:\d+)\/health/.test(service.output()),
      30_000,
    );
    assert.ok(announced, `serve printed its address\n${service.output()}`);
    url = /http: (http:\/\/127\.0\.0\.1:\d+)\/health/.exec(service.output())?.[1] ?? '';
    const ready = await waitFor(
      async () => (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200,
      30_000,
    );
    assert.ok(ready, `serve became ready\n${service.output()}`);
  });

  after(async () => {
    if (serve) killGroup(serve.child, 'SIGKILL');
    await removeDir(project);
    await removeDir(elsewhere);
  });

  let runId = '';

  it('trigger queues a run over the API and prints its id last; runs and show print it as locally', async () => {
    await hold();
    const triggered = await remote(['trigger', 'crash']);
    assertExit(triggered, 0, 'remote trigger');
    assertNoStackTrace(triggered, 'remote trigger');
    runId = lastLine(triggered.stdout);
    assert.match(runId, RUN_ID, triggered.stdout);
    assert.match(
      triggered.stdout,
      /^Queued run of crash \(revision 1\); `pipewright serve` or a `pipewright worker` executes it\.\n/,
    );
    assert.match(triggered.stdout, new RegExp(`Follow it with: pipewright show ${runId}\n`));
    await waitUntilHeld();

    const listed = await remote(['runs']);
    assertExit(listed, 0, 'remote runs');
    assert.match(
      listed.stdout,
      new RegExp(
        `^${runId}\\s+crash\\s+running\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+-\\s+api:ops`,
        'm',
      ),
    );
    assert.equal(listed.stdout, (await local(['runs'])).stdout, 'the same table as locally');
    const remoteRuns = await jsonOf<RunJson[]>(remote(['runs', '--json']), 'remote runs --json');
    assert.deepEqual(remoteRuns, await jsonOf<RunJson[]>(local(['runs', '--json']), 'runs --json'));
    assert.equal(remoteRuns[0]?.trigger, 'api:ops');

    const shown = await remote(['show', runId]);
    assertExit(shown, 0, 'remote show');
    assert.match(
      shown.stdout,
      new RegExp(`^Run ${runId}  crash  running\n  trigger: api:ops   revision: 1   attempt: 1\n`),
    );
    assert.match(shown.stdout, /^source\s+1\s+succeeded\s+200\s+\S+$/m);
    assert.match(shown.stdout, /^slow\s+1\s+running\s+-$/m);
    assert.equal(shown.stdout, (await local(['show', runId])).stdout, 'the same detail as locally');
    const detail = await jsonOf<ShowJson>(
      remote(['show', runId.slice(0, 17), '--json']),
      'remote show <prefix>',
    );
    assert.deepEqual(detail, await jsonOf<ShowJson>(local(['show', runId, '--json']), 'show --json'));
    assert.deepEqual(
      detail.steps.map((step) => [step.step, step.status]),
      [
        ['source', 'succeeded'],
        ['slow', 'running'],
      ],
    );
  });

  it('logs --follow, remote and local, prints lines as they come and exits 0 when the run ends', async () => {
    const children = [spawnFollow(runId, 'remote'), spawnFollow(runId, 'local')];
    const outputs = children.map(() => '');
    children.forEach((child, index) =>
      child.stdout?.on('data', (chunk: Buffer) => (outputs[index] += chunk.toString('utf8'))),
    );
    const results = children.map((child, index) => collect(child, 60_000, `logs --follow #${index}`));
    const waiting = await waitFor(
      () => outputs.every((text) => /first half copied; waiting for the release file/.test(text)),
      30_000,
    );
    assert.ok(waiting, `both printed the lines so far:\n${outputs.join('\n---\n')}`);
    assert.ok(
      children.every((child) => child.exitCode === null),
      'both keep following while the run waits',
    );
    assert.doesNotMatch(outputs[0] ?? '', /copied 200 rows/, 'nothing from the future yet');

    await release();
    const [remoteFollow, localFollow] = await Promise.all(results);
    assert.ok(remoteFollow && localFollow);
    assertExit(remoteFollow, 0, 'remote logs --follow');
    assertExit(localFollow, 0, 'local logs --follow');
    assertNoStackTrace(remoteFollow, 'remote logs --follow');
    assert.match(lastLine(remoteFollow.stdout), /^\d\d:\d\d:\d\d\.\d{3} INFO {2}run succeeded$/);
    assert.match(remoteFollow.stdout, /INFO {2}\[slow\] copied 200 rows\n/);
    const whole = await local(['logs', runId]);
    assert.equal(remoteFollow.stdout, whole.stdout, 'remote follow printed the whole log once, in order');
    assert.equal(localFollow.stdout, whole.stdout, 'local follow printed the whole log once, in order');
    assert.equal(await status(runId), 'succeeded');

    const again = await remote(['logs', runId, '--json', '--step', 'slow'], readToken);
    assertExit(again, 0, 'remote logs --json --step');
    assert.equal(again.stdout, (await local(['logs', runId, '--json', '--step', 'slow'])).stdout);
    assert.match(again.stdout, /^\{"id":\d+,"at":"[^"]+","level":"info","step":"slow","message":"started/);
  });

  it('Ctrl-C stops following cleanly (exit 0) and leaves the run running', async () => {
    await hold();
    const triggered = await remote(['trigger', 'crash']);
    assertExit(triggered, 0, 'remote trigger');
    runId = lastLine(triggered.stdout);
    await waitUntilHeld();
    for (const where of ['remote', 'local'] as const) {
      const child = spawnFollow(runId, where);
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      const done = collect(child, 30_000, `${where} logs --follow`);
      assert.ok(await waitFor(() => /waiting for the release file/.test(output), 30_000), `${where} follows`);
      killGroup(child, 'SIGINT');
      const result = await done;
      assert.equal(result.signal, null, describeResult(result));
      assertExit(result, 0, `${where} logs --follow after Ctrl-C`);
      assertNoStackTrace(result, `${where} logs --follow after Ctrl-C`);
    }
    assert.equal(await status(runId), 'running');
  });

  it('cancel stops the running run; a second cancel is refused; retry queues it again', async () => {
    const cancelled = await remote(['cancel', runId]);
    assertExit(cancelled, 0, 'remote cancel');
    assert.match(cancelled.stdout, new RegExp(`^Asked the worker of run ${runId} \\(crash\\) to stop it`));
    assert.equal(lastLine(cancelled.stdout), 'running (cancel requested)');
    await waitForStatus(runId, 'cancelled');

    const twice = await remote(['cancel', runId]);
    assertExit(twice, 2, 'remote cancel of a cancelled run');
    const locally = await local(['cancel', runId]);
    assertExit(locally, 2, 'local cancel of a cancelled run');
    assert.equal(twice.stderr, locally.stderr, 'the same error as locally');
    assert.match(
      twice.stderr,
      /^error\[PW_USAGE\]: Run \S+ already finished \(cancelled\); there is nothing to cancel\n {2}hint: Queue it again with `pipewright retry/,
    );

    const retried = await remote(['retry', runId.slice(0, 17)]);
    assertExit(retried, 0, 'remote retry <prefix>');
    assert.equal(lastLine(retried.stdout), runId);
    assert.match(retried.stdout, new RegExp(`^Queued run ${runId} \\(crash\\) again as attempt 2;`));
    await waitForStatus(runId, 'succeeded');
    const detail = await jsonOf<ShowJson>(remote(['show', runId, '--json'], readToken), 'remote show --json');
    assert.equal(detail.attempt, 2);
    assert.deepEqual(
      detail.steps.filter((step) => step.step === 'slow').map((step) => [step.run_attempt, step.status]),
      [
        [1, 'cancelled'],
        [2, 'succeeded'],
      ],
    );

    const notAgain = await remote(['retry', runId]);
    assertExit(notAgain, 2, 'remote retry of a succeeded run');
    assert.match(
      notAgain.stderr,
      /^error\[PW_RUN_NOT_RESUMABLE\]: Run \S+ is succeeded; only a failed or cancelled run can be retried/,
    );
  });

  it('pause and resume print what they print locally', async () => {
    const paused = await remote(['pause', 'nightly']);
    assertExit(paused, 0, 'remote pause');
    assert.equal(
      paused.stdout,
      'Paused nightly: its schedule queues no runs until `pipewright resume nightly`.\n' +
        'Runs already queued or running go on; `pipewright trigger` still works.\n',
    );
    const pausedAgain = await remote(['pause', 'nightly']);
    assert.match(pausedAgain.stdout, /^nightly was already paused: /);
    const resumedLocally = await local(['resume', 'nightly']);
    assertExit(resumedLocally, 0, 'local resume');
    assertExit(await local(['pause', 'nightly']), 0, 'local pause');
    const resumed = await remote(['resume', 'nightly']);
    assertExit(resumed, 0, 'remote resume');
    assert.match(
      resumed.stdout,
      /^Resumed nightly\.\nSchedule: .+; next \d{4}-\d\d-\d\dT03:00:00\.000Z\nSlots missed while paused follow its catchup policy \(none\)\.\n$/,
    );
    assert.equal(resumed.stdout, resumedLocally.stdout, 'the same text as locally');
    assert.equal((await remote(['resume', 'nightly'])).stdout.split('\n')[0], 'nightly was not paused.');

    const unknown = await remote(['pause', 'no-such-pipeline']);
    assertExit(unknown, 2, 'remote pause of an unknown pipeline');
    assert.match(unknown.stderr, /error\[PW_PIPELINE_NOT_FOUND\]/);
  });

  it('takes the server and token from PIPEWRIGHT_SERVER and PIPEWRIGHT_TOKEN, --token or --token-file', async () => {
    const fromEnv = await runCli(['runs', '--limit', '1', '--json'], {
      cwd: elsewhere,
      env: { PIPEWRIGHT_SERVER: url, PIPEWRIGHT_TOKEN: readToken },
    });
    assertExit(fromEnv, 0, 'runs with PIPEWRIGHT_SERVER and PIPEWRIGHT_TOKEN');
    assert.equal(parseJson<RunJson[]>(fromEnv, 'runs --json')[0]?.id, runId);

    const withFlag = await runCli(['runs', '--limit', '1', '--server', url, '--token', readToken], {
      cwd: elsewhere,
      env: NO_SERVER,
    });
    assertExit(withFlag, 0, 'runs --token');
    assert.match(withFlag.stdout, new RegExp(`^${runId}\\s+crash\\s+succeeded`, 'm'));

    const tokenFile = join(elsewhere, 'token');
    await writeFile(tokenFile, `${readToken}\n`, { mode: 0o600 });
    const withFile = await runCli(['show', runId, '--token-file', tokenFile], {
      cwd: elsewhere,
      env: { PIPEWRIGHT_SERVER: url, PIPEWRIGHT_TOKEN: 'pw_this-one-loses' },
    });
    assertExit(withFile, 0, 'show --token-file');
    assert.match(withFile.stdout, new RegExp(`^Run ${runId}  crash  succeeded`));

    // Without a server, the variables are not needed and the project folder is read.
    const localOnly = await runCli(['runs', '--limit', '1', '--json'], { cwd: project, env: NO_SERVER });
    assert.deepEqual(
      parseJson<RunJson[]>(localOnly, 'runs --json'),
      parseJson<RunJson[]>(fromEnv, 'runs --json'),
    );
  });

  it('a wrong or missing token is PW_AUTH_REQUIRED (exit 2), and the token is never echoed', async () => {
    const wrong = `pw_${'x'.repeat(43)}`;
    const denied = await runCli(['runs', '--verbose'], {
      cwd: elsewhere,
      env: { PIPEWRIGHT_SERVER: url, PIPEWRIGHT_TOKEN: wrong },
    });
    assertExit(denied, 2, 'runs with a wrong token');
    assert.match(
      denied.stderr,
      /^error\[PW_AUTH_REQUIRED\]: The bearer token is unknown or revoked\n {2}hint: Check the token in PIPEWRIGHT_TOKEN, --token-file or --token/,
    );
    assert.ok(!denied.stderr.includes(wrong) && !denied.stdout.includes(wrong), 'the token is not printed');

    const missing = await runCli(['show', runId], {
      cwd: elsewhere,
      env: { PIPEWRIGHT_SERVER: url, PIPEWRIGHT_TOKEN: undefined },
    });
    assertExit(missing, 2, 'show without a token');
    assert.match(
      missing.stderr,
      new RegExp(`^error\\[PW_AUTH_REQUIRED\\]: No API token for the server at ${url}\n`),
    );
  });

  it('a read token may read, but trigger, retry and pause need operate: PW_AUTH_FORBIDDEN (exit 2)', async () => {
    assertExit(await remote(['runs'], readToken), 0, 'runs with a read token');
    for (const args of [
      ['trigger', 'crash'],
      ['retry', runId],
      ['pause', 'nightly'],
    ]) {
      const refused = await remote(args, readToken);
      assertExit(refused, 2, `${args[0] ?? ''} with a read token`);
      assert.match(
        refused.stderr,
        /^error\[PW_AUTH_FORBIDDEN\]: Token 'viewer' has scope read; POST \S+ needs operate\n {2}hint: Use a token with scope operate or wider/,
      );
      assert.ok(!refused.stderr.includes(readToken));
    }
    assert.equal(
      (await jsonOf<RunJson[]>(local(['runs', '--json']), 'runs --json')).length,
      2,
      'nothing was queued',
    );
  });

  it('an unknown run is PW_RUN_NOT_FOUND with exit 2, as locally', async () => {
    for (const command of ['show', 'logs', 'cancel', 'retry']) {
      const remoteResult = await remote([command, '20200101-000000-nope00']);
      const localResult = await local([command, '20200101-000000-nope00']);
      assertExit(remoteResult, 2, `remote ${command} of an unknown run`);
      assertExit(localResult, 2, `local ${command} of an unknown run`);
      assert.equal(remoteResult.stderr, localResult.stderr, `${command}: the same error block`);
      assert.match(
        remoteResult.stderr,
        /^error\[PW_RUN_NOT_FOUND\]: No run has an id starting with '20200101-000000-nope00'/,
      );
    }
    const prefix = await remote(['show', '1999']);
    assertExit(prefix, 2, 'remote show of an unknown prefix');
    assert.match(prefix.stderr, /PW_RUN_NOT_FOUND[\s\S]*most recent runs/);
  });

  it('commands that only work locally refuse --server with PW_USAGE naming those that accept it', async () => {
    for (const [command, args] of [
      ['run', ['run', 'crash']],
      ['validate', ['validate']],
      ['token list', ['token', 'list']],
    ] as const) {
      const refused = await remote([...args]);
      assertExit(refused, 2, `${command} --server`);
      assert.ok(
        refused.stderr.startsWith(
          `error[PW_USAGE]: \`pipewright ${command}\` does not work against a server (--server)\n`,
        ),
        refused.stderr,
      );
      assert.match(
        refused.stderr,
        /--server works with runs, show, logs, trigger, cancel, retry, pause, resume and send/,
      );
    }
    // PIPEWRIGHT_SERVER alone does not stop them: it only applies to the commands that can use it.
    const validated = await runCli(['validate'], {
      cwd: project,
      env: { PIPEWRIGHT_SERVER: url, PIPEWRIGHT_TOKEN: undefined },
    });
    assertExit(validated, 0, 'validate with PIPEWRIGHT_SERVER set');
  });

  it('with the server gone, a command says it cannot reach it (exit 3), naming the URL and not the token', async () => {
    assert.ok(serve);
    killGroup(serve.child, 'SIGTERM');
    const stopped = await serve.done;
    serve = undefined;
    assertExit(stopped, 0, 'serve after SIGTERM');
    const down = await remote(['runs', '--verbose']);
    assertExit(down, 3, 'runs with the server gone');
    assert.match(
      down.stderr,
      new RegExp(
        `^error\\[PW_SERVER_UNREACHABLE\\]: Cannot reach the Pipewright server at ${url}: connection refused \\(ECONNREFUSED\\)\n  hint: Check that \`pipewright serve\` runs there`,
      ),
    );
    assert.ok(!down.stderr.includes(operateToken), 'the token is not printed');
  });
});
