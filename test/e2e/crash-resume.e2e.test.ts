/**
 * The crash test: a `pipewright run` is killed with SIGKILL in the middle of a step (a user-written
 * step that pauses halfway through building its dataset), then `run --resume` continues the run from
 * that step without re-running the finished one, and the output holds every input row exactly once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertExit,
  assertNoStackTrace,
  collect,
  copyFixtureProject,
  describeResult,
  duckQuery,
  killGroup,
  listFiles,
  listRuns,
  removeDir,
  runCli,
  showRun,
  spawnCli,
  sqlString,
  waitFor,
  writeFiles,
  type CliResult,
  type RunJson,
} from './cli-harness.js';

const ROWS = 5000;

function itemsCsv(): string {
  const lines = ['id,name,amount'];
  // Written out of order, so the output's order comes from the pipeline, not from the file.
  for (let i = 0; i < ROWS; i += 1) {
    const id = ((i * 7919) % ROWS) + 1;
    lines.push(`${id},item-${id},${(id * 1.25).toFixed(2)}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('crash and resume', { timeout: 180_000 }, () => {
  let project: string;
  let runId: string;
  let killed: CliResult;

  before(async () => {
    project = await copyFixtureProject('crash-resume');
    await writeFiles(project, { 'data/items.csv': itemsCsv() });
  });
  after(async () => {
    await removeDir(project);
  });

  it('a run killed with SIGKILL in the middle of a step stays recorded as running', async () => {
    const validate = await runCli(['validate'], { cwd: project });
    assertExit(validate, 0, 'validate');

    const child = spawnCli(['run', 'crash'], { cwd: project });
    const done = collect(child, 120_000, 'run crash');
    try {
      const started = await waitFor(() => existsSync(join(project, 'slow.started')), 60_000);
      assert.ok(started, 'the slow step started and dropped its marker within 60 s');

      // While that process lives, the run cannot be resumed by another.
      const [running] = await listRuns(project);
      assert.ok(running, 'the run is recorded while it runs');
      assert.equal(running.status, 'running');
      const concurrent = await runCli(['run', '--resume', running.id], { cwd: project });
      assertExit(concurrent, 2, 'resume of a run whose process is alive');
      assert.match(concurrent.stderr, /PW_RUN_NOT_RESUMABLE/);
      assert.match(concurrent.stderr, /still running/);
    } finally {
      killGroup(child, 'SIGKILL');
    }
    killed = await done;
    assert.equal(killed.signal, 'SIGKILL', describeResult(killed));

    const runs = await listRuns(project);
    assert.equal(runs.length, 1, JSON.stringify(runs));
    const run = runs[0] as RunJson;
    runId = run.id;
    // Nobody was left to record the end: the run still says running, though its process is gone.
    assert.equal(run.status, 'running');
    assert.equal(run.finished_at, null);
    const details = await showRun(project, run.id);
    const byStep = Object.fromEntries(
      details.steps.map((step) => [`${step.step}#${step.attempt}`, step.status]),
    );
    assert.deepEqual(byStep, { 'source#1': 'succeeded', 'slow#1': 'running' });
    assert.deepEqual(await listFiles(join(project, 'out')), [], 'nothing was written before the crash');
    assert.ok(
      run.workspace && existsSync(join(run.workspace, 'run.duckdb')),
      'the run database survives the crash',
    );
  });

  it('run --resume continues from the unfinished step and completes the run', async () => {
    assert.ok(runId, 'the crash test ran first');
    const result = await runCli(['run', '--resume', runId.slice(0, 20)], { cwd: project });
    assertExit(result, 0, 'run --resume');
    assert.match(result.stdout, new RegExp(`Run ${runId} succeeded`));
    assert.match(result.stderr, /resuming run \(attempt 2\); 1 steps already done/);
    assertNoStackTrace(result, 'run --resume');

    const runs = await listRuns(project);
    assert.equal(runs.length, 1, 'resume continues the same run instead of starting a new one');
    assert.equal(runs[0]?.status, 'succeeded');
    assert.equal(runs[0]?.attempt, 2);

    const details = await showRun(project, runId);
    const attempts = (id: string) => details.steps.filter((step) => step.step === id);
    // The finished first step was not executed again.
    assert.deepEqual(
      attempts('source').map((step) => [step.attempt, step.run_attempt, step.status, step.rows]),
      [[1, 1, 'succeeded', ROWS]],
    );
    // The step that was cut off is recorded as lost, then done again in the resumed run.
    const slow = attempts('slow');
    assert.deepEqual(
      slow.map((step) => [step.attempt, step.run_attempt, step.status, step.error?.code ?? null]),
      [
        [1, 1, 'failed', 'PW_PROCESS_LOST'],
        [2, 2, 'succeeded', null],
      ],
    );
    assert.equal(slow[1]?.rows, ROWS);
    assert.equal(slow[1]?.outputs.first_execution, false);
    for (const id of ['tidy', 'export']) {
      assert.deepEqual(
        attempts(id).map((step) => [step.attempt, step.run_attempt, step.status, step.rows]),
        [[1, 2, 'succeeded', ROWS]],
        `${id} ran once, in the resumed run`,
      );
    }
    // The slow step's own record: its first execution (killed) and the resumed one.
    assert.deepEqual((await readFile(join(project, 'slow.executions'), 'utf8')).trim().split('\n'), [
      '1',
      '2',
    ]);
  });

  it('the output holds each input row exactly once', async () => {
    const path = join(project, 'out', 'items.parquet');
    assert.deepEqual(
      await listFiles(join(project, 'out')),
      ['items.parquet'],
      'one output file and no temporary leftovers',
    );
    const [stats] = await duckQuery(
      `SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS lo, max(id) AS hi, sum(id) AS total,
              count(*) FILTER (WHERE name <> 'item-' || id OR abs(amount - id * 1.25) > 1e-9 OR abs(doubled - id * 2.5) > 1e-9) AS wrong
       FROM read_parquet(${sqlString(path)})`,
    );
    assert.deepEqual(stats, {
      n: ROWS,
      ids: ROWS,
      lo: 1,
      hi: ROWS,
      total: (ROWS * (ROWS + 1)) / 2,
      wrong: 0,
    });
    const ordered = await duckQuery(
      `SELECT count(*) AS out_of_order FROM (SELECT id, lag(id) OVER () AS previous FROM read_parquet(${sqlString(path)})) WHERE id <= previous`,
    );
    assert.equal(ordered[0]?.out_of_order, 0, 'rows keep the ORDER BY of the sql step');
    const leftovers = (await listFiles(project)).filter((file) => file.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });

  it('run --resume of a succeeded run exits 2 with PW_RUN_NOT_RESUMABLE', async () => {
    const result = await runCli(['run', '--resume', runId], { cwd: project });
    assertExit(result, 2, 'resume of a succeeded run');
    assert.match(result.stderr, /PW_RUN_NOT_RESUMABLE/);
    assert.match(result.stderr, /already succeeded/);
    assertNoStackTrace(result, 'resume of a succeeded run');
    const unknown = await runCli(['run', '--resume', 'no-such-run'], { cwd: project });
    assertExit(unknown, 2, 'resume of an unknown run');
    assert.match(unknown.stderr, /PW_RUN_NOT_FOUND/);
    const runs = await listRuns(project);
    assert.deepEqual(
      runs.map((run) => [run.id, run.status, run.attempt]),
      [[runId, 'succeeded', 2]],
      'refused resumes change nothing',
    );
  });

  it('SIGTERM cancels the run gracefully; the cancelled run resumes to completion', async () => {
    const dir = await copyFixtureProject('crash-resume', 'sigterm');
    try {
      await writeFiles(dir, { 'data/items.csv': itemsCsv() });
      const child = spawnCli(['run', 'crash'], { cwd: dir });
      const done = collect(child, 120_000, 'run crash (SIGTERM)');
      // Bounded: a graceful stop that hangs is killed after 30 s (and then fails the exit-code check).
      let guard: NodeJS.Timeout | undefined;
      try {
        assert.ok(
          await waitFor(() => existsSync(join(dir, 'slow.started')), 60_000),
          'the slow step started',
        );
        child.kill('SIGTERM');
        guard = setTimeout(() => killGroup(child, 'SIGKILL'), 30_000);
      } catch (error) {
        killGroup(child, 'SIGKILL');
        throw error;
      }
      const result = await done;
      clearTimeout(guard);
      assertExit(result, 1, 'a run cancelled with SIGTERM');
      assert.match(result.stderr, /SIGTERM: cancelling the run/);
      assert.match(result.stderr, /error\[PW_CANCELLED\]/);
      assert.match(result.stdout, /^Run \S+ cancelled in/m);
      assertNoStackTrace(result, 'SIGTERM');

      const [run] = await listRuns(dir);
      assert.ok(run);
      assert.equal(run.status, 'cancelled');
      assert.equal(run.error?.code, 'PW_CANCELLED');
      assert.deepEqual(await listFiles(join(dir, 'out')), [], 'a cancelled run writes no output');

      const resumed = await runCli(['run', '--resume', run.id], { cwd: dir });
      assertExit(resumed, 0, 'resume of the cancelled run');
      const details = await showRun(dir, run.id);
      assert.deepEqual(
        details.steps.map((step) => [step.step, step.attempt, step.status]),
        [
          ['source', 1, 'succeeded'],
          ['slow', 1, 'cancelled'],
          ['slow', 2, 'succeeded'],
          ['tidy', 1, 'succeeded'],
          ['export', 1, 'succeeded'],
        ],
      );
      const [stats] = await duckQuery(
        `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM read_parquet(${sqlString(join(dir, 'out', 'items.parquet'))})`,
      );
      assert.deepEqual(stats, { n: ROWS, ids: ROWS });
    } finally {
      await removeDir(dir);
    }
  });

  it('a step past its timeout really stops, and its retry rebuilds the dataset from scratch', async () => {
    const dir = await copyFixtureProject('crash-resume', 'timeout');
    try {
      await writeFiles(dir, { 'data/items.csv': itemsCsv() });
      const pipeline = await readFile(join(dir, 'pipelines', 'crash.yaml'), 'utf8');
      const withTimeout = pipeline.replace(
        '    uses: ./steps/slow.js\n',
        '    uses: ./steps/slow.js\n    timeout: 2s\n    retries: { attempts: 2, backoff: fixed, delay: 1s }\n',
      );
      assert.notEqual(withTimeout, pipeline);
      await writeFiles(dir, { 'pipelines/crash.yaml': withTimeout });
      const started = Date.now();
      const result = await runCli(['run', 'crash'], { cwd: dir });
      assertExit(result, 0, 'run with a timed-out first attempt');
      // The first attempt would wait 60 s for a release file; the timeout cut it off after 2 s.
      assert.ok(Date.now() - started < 45_000, `the run took ${Date.now() - started} ms`);
      const [run] = await listRuns(dir);
      const details = await showRun(dir, (run as RunJson).id);
      assert.deepEqual(
        details.steps
          .filter((step) => step.step === 'slow')
          .map((step) => [step.attempt, step.status, step.error?.code ?? null]),
        [
          [1, 'failed', 'PW_STEP_TIMEOUT'],
          [2, 'succeeded', null],
        ],
      );
      const [stats] = await duckQuery(
        `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM read_parquet(${sqlString(join(dir, 'out', 'items.parquet'))})`,
      );
      assert.deepEqual(stats, { n: ROWS, ids: ROWS });
    } finally {
      await removeDir(dir);
    }
  });
});
