/**
 * The service end to end, as real processes: `pipewright serve` on the demo project runs the weekly
 * pipeline once at start-up (catchup: latest), executes a run queued with `pipewright trigger`, answers
 * /health and /ready, and exits 0 on SIGTERM. Then a `pipewright worker` is killed with SIGKILL in the
 * middle of a step, and a second worker finishes the run from its checkpoint once the lease expires
 * (PIPEWRIGHT_LEASE_MS keeps that short).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertExit,
  assertNoStackTrace,
  copyFixtureProject,
  describeResult,
  duckQuery,
  killGroup,
  listFiles,
  listRuns,
  makeTempDir,
  removeDir,
  runCli,
  showRun,
  sqlString,
  waitFor,
  writeFiles,
} from './cli-harness.js';
import { freePort, getJson, startService, waitForRun, type Service } from './service-harness.js';

describe('pipewright serve on the demo project', { timeout: 180_000 }, () => {
  let project: string;
  let port: number;
  let serve: Service | undefined;

  before(async () => {
    project = await makeTempDir('serve');
    assertExit(await runCli(['init', project], { cwd: project }), 0, 'init');
    port = await freePort();
  });
  after(async () => {
    if (serve) killGroup(serve.child, 'SIGKILL');
    await removeDir(project);
  });

  it('starts, prints each pipeline with its schedule, and answers /health and /ready', async () => {
    serve = startService(['serve', '--port', String(port)], project);
    const base = `http://127.0.0.1:${port}`;
    const healthy = await waitFor(
      async () => (await getJson(`${base}/health`).catch(() => undefined))?.status === 200,
      20_000,
      100,
    );
    assert.ok(healthy, `serve answered /health within 20 s\n${serve.output()}`);
    const ready = await waitFor(
      async () => (await getJson(`${base}/ready`).catch(() => undefined))?.status === 200,
      20_000,
      100,
    );
    assert.ok(ready, `serve answered /ready within 20 s\n${serve.output()}`);
    const health = await getJson(`${base}/health`);
    assert.equal(health.body.status, 'ok');
    assert.equal((await getJson(`${base}/api/nothing`)).status, 404);
    // Any other path is the web UI's (its router shows its own "not found").
    const shell = await fetch(`${base}/pipelines/nothing`);
    assert.equal(shell.status, 200);
    assert.match(shell.headers.get('content-type') ?? '', /^text\/html/);

    const banner = serve.output();
    assert.match(
      banner,
      /weekly-temperature\s+Mondays at 08:00, Europe\/Berlin; next \d{4}-\d\d-\d\dT\d\d:00:00\.000Z \(catchup: latest\)/,
    );
    assert.match(
      banner,
      /sensor-documents\s+no schedule; start it with: pipewright trigger sensor-documents/,
    );
    assert.match(banner, new RegExp(`http://127\\.0\\.0\\.1:${port}/health`));
  });

  it('runs the weekly pipeline once at start-up, through catchup: latest', async () => {
    assert.ok(serve, 'serve started');
    const run = await waitForRun(
      project,
      'the scheduled weekly-temperature run succeeded',
      (runs) =>
        runs.find(
          (candidate) => candidate.pipeline === 'weekly-temperature' && candidate.status === 'succeeded',
        ),
      60_000,
      serve,
    );
    assert.equal(run.trigger, 'schedule');
    assert.equal(run.attempt, 1);
    // The slot is a Monday 08:00 in Berlin, in the past.
    assert.ok(Date.parse(run.scheduled_for) <= Date.now());
    assert.equal(
      new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        weekday: 'long',
        hour: '2-digit',
        minute: '2-digit',
      }).format(new Date(run.scheduled_for)),
      'Monday 08:00',
    );
    const outputs = await listFiles(join(project, 'out'));
    assert.ok(
      outputs.some((file) => /^hourly_\d{8}\.parquet$/.test(file)),
      outputs.join(', '),
    );
    // Once: however many ticks pass, the slot is not queued again.
    await new Promise((done) => setTimeout(done, 1_000));
    assert.equal(
      (await listRuns(project)).filter((candidate) => candidate.pipeline === 'weekly-temperature').length,
      1,
    );
  });

  it('executes a run queued with `pipewright trigger`, whose last line is the run id', async () => {
    assert.ok(serve, 'serve started');
    const triggered = await runCli(['trigger', 'sensor-documents', '--param', 'site=north'], {
      cwd: project,
    });
    assertExit(triggered, 0, 'trigger');
    assertNoStackTrace(triggered, 'trigger');
    const id = triggered.stdout.trim().split('\n').at(-1) ?? '';
    assert.match(id, /^\d{8}-\d{6}-[0-9a-z]{6}$/, triggered.stdout);
    const run = await waitForRun(
      project,
      'the triggered run succeeded',
      (runs) => runs.find((candidate) => candidate.id === id && candidate.status === 'succeeded'),
      60_000,
      serve,
    );
    assert.equal(run.trigger, 'manual:cli');
    assert.deepEqual(run.params, { site: 'north' });
    const details = await showRun(project, id);
    assert.deepEqual(
      details.steps.map((step) => [step.step, step.status]),
      [
        ['documents', 'succeeded'],
        ['flat', 'succeeded'],
        ['enrich', 'succeeded'],
        ['export', 'succeeded'],
      ],
    );

    const badParam = await runCli(['trigger', 'sensor-documents', '--param', 'nope=1'], { cwd: project });
    assertExit(badParam, 2, 'trigger with an unknown parameter');
    assert.match(badParam.stderr, /PW_PARAM_INVALID/);
    const unknown = await runCli(['trigger', 'no-such-pipeline'], { cwd: project });
    assertExit(unknown, 2, 'trigger of an unknown pipeline');
    assert.match(unknown.stderr, /PW_PIPELINE_NOT_FOUND/);
  });

  it('pause and resume a pipeline', async () => {
    const paused = await runCli(['pause', 'weekly-temperature'], { cwd: project });
    assertExit(paused, 0, 'pause');
    assert.match(paused.stdout, /Paused weekly-temperature/);
    const resumed = await runCli(['resume', 'weekly-temperature'], { cwd: project });
    assertExit(resumed, 0, 'resume');
    assert.match(
      resumed.stdout,
      /Resumed weekly-temperature\.\nSchedule: Mondays at 08:00, Europe\/Berlin; next /,
    );
    assertExit(await runCli(['pause', 'nope'], { cwd: project }), 2, 'pause of an unknown pipeline');
  });

  it('stops on SIGTERM with exit code 0', async () => {
    assert.ok(serve, 'serve started');
    killGroup(serve.child, 'SIGTERM');
    const result = await serve.done;
    serve = undefined;
    assertExit(result, 0, 'serve after SIGTERM');
    assert.match(result.stdout, /SIGTERM: shutting down/);
    assert.match(result.stdout, /serve: stopped/);
    assertNoStackTrace(result, 'serve');
  });
});

describe('a worker killed with SIGKILL mid-run', { timeout: 180_000 }, () => {
  const ROWS = 2000;
  const env = { PIPEWRIGHT_LEASE_MS: '1500', PIPEWRIGHT_POLL_MS: '100' };
  let project: string;
  const services: Service[] = [];

  before(async () => {
    project = await copyFixtureProject('crash-resume', 'worker-kill');
    const lines = ['id,name,amount'];
    for (let id = 1; id <= ROWS; id += 1) lines.push(`${id},item-${id},${(id * 1.25).toFixed(2)}`);
    await writeFiles(project, { 'data/items.csv': `${lines.join('\n')}\n` });
  });
  after(async () => {
    for (const service of services) killGroup(service.child, 'SIGKILL');
    await removeDir(project);
  });

  it('has its run finished by another worker after the lease expires, from the checkpoint', async () => {
    const triggered = await runCli(['trigger', 'crash'], { cwd: project, env });
    assertExit(triggered, 0, 'trigger crash');
    const id = triggered.stdout.trim().split('\n').at(-1) ?? '';

    const first = startService(['worker'], project, env);
    services.push(first);
    const started = await waitFor(() => existsSync(join(project, 'slow.started')), 60_000);
    assert.ok(started, `the slow step started within 60 s\n${first.output()}`);
    const [running] = await listRuns(project);
    assert.equal(running?.id, id);
    assert.equal(running?.status, 'running');
    killGroup(first.child, 'SIGKILL');
    const killed = await first.done;
    assert.equal(killed.signal, 'SIGKILL', describeResult(killed));

    const second = startService(['worker'], project, env);
    services.push(second);
    const run = await waitForRun(
      project,
      'the second worker finished the run',
      (runs) => runs.find((candidate) => candidate.id === id && candidate.status === 'succeeded'),
      60_000,
      second,
    );
    assert.equal(run.attempt, 2, 'requeued once');
    assert.match(second.output(), /requeued as attempt 2/);

    const details = await showRun(project, id);
    const attempts = (step: string) =>
      details.steps
        .filter((attempt) => attempt.step === step)
        .map((attempt) => [
          attempt.attempt,
          attempt.run_attempt,
          attempt.status,
          attempt.error?.code ?? null,
        ]);
    assert.deepEqual(attempts('source'), [[1, 1, 'succeeded', null]], 'the finished step was not run again');
    assert.deepEqual(attempts('slow'), [
      [1, 1, 'failed', 'PW_PROCESS_LOST'],
      [2, 2, 'succeeded', null],
    ]);
    assert.deepEqual(attempts('export'), [[1, 2, 'succeeded', null]]);
    assert.deepEqual((await readFile(join(project, 'slow.executions'), 'utf8')).trim().split('\n'), [
      '1',
      '2',
    ]);
    const [counts] = await duckQuery(
      `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM read_parquet(${sqlString(join(project, 'out', 'items.parquet'))})`,
    );
    assert.deepEqual(counts, { n: ROWS, ids: ROWS });

    killGroup(second.child, 'SIGTERM');
    const stopped = await second.done;
    assertExit(stopped, 0, 'worker after SIGTERM');
  });
});
