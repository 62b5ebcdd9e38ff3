/**
 * Tests for the `exec` step with real child processes (node and /bin/sh scripts in a temp project):
 * dataset and artifacts, the environment, a failing command, a timeout and a cancel that stop the
 * whole process group (grandchildren too), a flood of output, a missing dataset file, and a whole run
 * whose secrets are masked in the log and the error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError as pw, rejectsWith } from '../../testing/assertions.js';
import { pipelineSchema } from '../../core/spec/pipeline-schema.js';
import { projectSchema } from '../../core/spec/project-schema.js';
import { executeRun } from '../../engine/execute-run.js';
import { openSqliteStore } from '../../store/sqlite/open-sqlite-store.js';
import { StepRegistry } from '../registry.js';
import { execConfig } from './exec-schema.js';
import { childEnvironment, execStep as exec } from './exec.js';
import type { StepContext } from '../../core/step.js';

/** Running, not a zombie: an orphan's zombie lingers until the container's init gets round to it. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // No /proc: the signal test is all there is.
  }
}

async function assertGone(pid: number, what: string): Promise<void> {
  for (let waited = 0; waited < 3000 && alive(pid); waited += 50) await delay(50);
  assert.ok(!alive(pid), `${what} (pid ${pid}) is still running`);
}

async function readPid(path: string): Promise<number> {
  for (let waited = 0; waited < 5000; waited += 20) {
    const text = existsSync(path) ? (await readFile(path, 'utf8')).trim() : '';
    if (/^\d+$/.test(text)) return Number(text);
    await delay(20);
  }
  throw new Error(`no pid in ${path}`);
}

describe('exec step', () => {
  let harness: StepHarness;
  before(async () => {
    harness = await createStepHarness();
  });
  after(async () => harness.close());

  it('runs a node script: stdout and stderr reach the log, the dataset file and the other files are kept', async () => {
    await harness.writeFile(
      'scripts/report.mjs',
      `import { writeFileSync, mkdirSync } from 'node:fs';
const out = process.env.PIPEWRIGHT_OUTPUT_DIR;
console.log('hello from ' + process.env.PIPEWRIGHT_STEP_ID + ' of ' + process.env.PIPEWRIGHT_RUN_ID);
console.error('a warning: ' + process.argv[2]);
const params = JSON.parse(process.env.PIPEWRIGHT_PARAMS);
writeFileSync(out + '/sales.csv', 'region,amount\\nnorth,' + params.n + '\\nsouth,5\\n');
mkdirSync(out + '/charts');
writeFileSync(out + '/charts/a.txt', process.env.GREETING + ' ' + process.cwd());
`,
    );
    const result = await harness.runStep(
      exec,
      {
        command: ['node', 'scripts/report.mjs', 'argument with spaces'],
        env: { GREETING: 'hi' },
        dataset: 'sales.csv',
      },
      { stepId: 'nightly', params: { n: 42 } },
    );
    assert.equal(result.rows, 2);
    assert.deepEqual(result.outputs?.files, ['charts/a.txt', 'sales.csv']);
    assert.deepEqual(await harness.query('SELECT region, amount FROM nightly ORDER BY region'), [
      { region: 'north', amount: 42 },
      { region: 'south', amount: 5 },
    ]);
    const own = harness.logs.filter((entry) => entry.stepId === 'nightly');
    assert.ok(
      own.some((entry) => entry.level === 'info' && entry.message === 'hello from nightly of test-run'),
    );
    assert.ok(
      own.some((entry) => entry.level === 'warn' && entry.message === 'a warning: argument with spaces'),
    );
    const artifacts = harness.artifacts.filter((artifact) => artifact.stepId === 'nightly');
    assert.deepEqual(artifacts.map((artifact) => artifact.name).sort(), ['charts/a.txt', 'sales.csv']);
    const chart = artifacts.find((artifact) => artifact.name === 'charts/a.txt');
    assert.ok(chart?.path.startsWith(join(harness.projectDir, '.pipewright', 'artifacts')));
    assert.equal(await readFile(chart?.path ?? '', 'utf8'), `hi ${harness.projectDir}`);
  });

  it('gives the command a minimal environment: no service secrets, the run variables, declared env', () => {
    const config = execConfig.parse({
      command: ['env'],
      env: { API_KEY: 'k-123' },
      inherit_env: ['VIRTUAL_ENV'],
    });
    const ctx = {
      run: {
        id: 'r1',
        pipelineId: 'p',
        scheduledFor: new Date('2024-06-10T06:00:00Z'),
        timezone: 'Europe/Berlin',
        params: { day: '2024-06-09' },
      },
      stepId: 's',
      attempt: 2,
      projectDir: '/project',
    } as unknown as StepContext;
    const env = childEnvironment(ctx, config, '/out', {
      PATH: '/usr/bin',
      HOME: '/home/pw',
      LC_TIME: 'de_DE.UTF-8',
      VIRTUAL_ENV: '/venv',
      PIPEWRIGHT_TOKEN: 'secret-token',
      PIPEWRIGHT_STATE_URL: 'postgres://u:p@h/db',
      PIPEWRIGHT_SERVER: 'http://x',
      AWS_SECRET_ACCESS_KEY: 'aws',
      DB_PASSWORD: 'pw',
    });
    assert.deepEqual(env, {
      PATH: '/usr/bin',
      HOME: '/home/pw',
      LC_TIME: 'de_DE.UTF-8',
      VIRTUAL_ENV: '/venv',
      PYTHONUNBUFFERED: '1',
      PIPEWRIGHT_OUTPUT_DIR: '/out',
      PIPEWRIGHT_RUN_ID: 'r1',
      PIPEWRIGHT_PIPELINE_ID: 'p',
      PIPEWRIGHT_STEP_ID: 's',
      PIPEWRIGHT_ATTEMPT: '2',
      PIPEWRIGHT_SCHEDULED_FOR: '2024-06-10T06:00:00.000Z',
      PIPEWRIGHT_TIMEZONE: 'Europe/Berlin',
      PIPEWRIGHT_PARAMS: '{"day":"2024-06-09"}',
      PIPEWRIGHT_PROJECT_DIR: '/project',
      API_KEY: 'k-123',
    });
  });

  it('refuses a command string without shell: true, and a list with it', () => {
    assert.throws(() => execConfig.parse({ command: 'python3 x.py' }), /set shell: true/);
    assert.throws(() => execConfig.parse({ command: ['a'], shell: true }), /one string for \/bin\/sh -c/);
    assert.throws(() => execConfig.parse({ command: ['a'], dataset: '../x.csv' }), /without \.\./);
  });

  it('runs a shell string with shell: true (pipes and $VARIABLES)', async () => {
    const result = await harness.runStep(
      exec,
      { command: 'printf "a\\nb\\nc\\n" | wc -l > "$PIPEWRIGHT_OUTPUT_DIR/count.txt"', shell: true },
      { stepId: 'shelled' },
    );
    assert.deepEqual(result.outputs?.files, ['count.txt']);
    const artifact = harness.artifacts.find((entry) => entry.stepId === 'shelled');
    assert.equal((await readFile(artifact?.path ?? '', 'utf8')).trim(), '3');
  });

  it('fails with PW_EXEC_FAILED, the exit code and the last stderr lines when the command exits non-zero', async () => {
    await harness.writeFile(
      'fail.sh',
      'echo "started" ; echo "out" > "$PIPEWRIGHT_OUTPUT_DIR/partial.csv"\nfor i in $(seq 1 30); do echo "problem $i" >&2; done\nexit 3\n',
    );
    await rejectsWith(
      (error) => {
        const e = pw(error);
        assert.equal(e.code, 'PW_EXEC_FAILED');
        assert.equal(e.kind, 'operational');
        assert.match(e.message, /^Step 'failing': the command exited with code 3 \(sh fail\.sh\)$/);
        assert.match(e.found ?? '', /last 20 line\(s\) of stderr:\n {2}\| problem 11\n/);
        assert.match(e.found ?? '', /\| problem 30$/);
        assert.doesNotMatch(e.found ?? '', /problem 10\n/);
      },
      harness.runStep(exec, { command: ['sh', 'fail.sh'] }, { stepId: 'failing' }),
    );
    assert.equal(harness.artifacts.filter((artifact) => artifact.stepId === 'failing').length, 0);
  });

  it('fails with PW_EXEC_SPAWN for a program that does not exist or a missing cwd', async () => {
    await rejectsWith(
      (error) => {
        assert.equal(pw(error).code, 'PW_EXEC_SPAWN');
        assert.match(pw(error).message, /the program '\.\/no-such-script' was not found/);
      },
      harness.runStep(exec, { command: ['./no-such-script'] }, { stepId: 'missing' }),
    );
    await rejectsWith(
      (error) => {
        assert.equal(pw(error).code, 'PW_EXEC_SPAWN');
        assert.equal(pw(error).path, 'with.cwd');
      },
      harness.runStep(exec, { command: ['true'], cwd: 'nowhere' }, { stepId: 'missing' }),
    );
  });

  it('stops the whole process group on timeout, grandchild too, with SIGKILL when SIGTERM is ignored', async () => {
    const pidFile = join(harness.projectDir, 'grandchild.pid');
    await harness.writeFile(
      'hang.sh',
      `trap '' TERM\nsleep 30 &\necho $! > "${pidFile}"\necho waiting\nwait\n`,
    );
    const started = Date.now();
    await rejectsWith(
      (error) => {
        const e = pw(error);
        assert.equal(e.code, 'PW_STEP_TIMEOUT');
        assert.match(e.message, /Step 'hanging': the command ran longer than its timeout of 300ms/);
        assert.match(e.hint ?? '', /SIGTERM, then SIGKILL after 300ms/);
      },
      harness.runStep(
        exec,
        { command: ['sh', 'hang.sh'], timeout: '300ms', kill_grace: '300ms' },
        { stepId: 'hanging' },
      ),
    );
    assert.ok(Date.now() - started < 5000, 'the step returned promptly');
    await assertGone(await readPid(pidFile), 'the grandchild sleep');
  });

  it('stops the process group when the run is cancelled', async () => {
    const pidFile = join(harness.projectDir, 'cancel.pid');
    await harness.writeFile('long.sh', `sleep 30 &\necho $! > "${pidFile}"\nwait\n`);
    const controller = new AbortController();
    const running = harness.runStep(
      exec,
      { command: ['sh', 'long.sh'] },
      { stepId: 'cancelled', signal: controller.signal },
    );
    const grandchild = await readPid(pidFile);
    controller.abort();
    await rejectsWith((error) => assert.equal(pw(error).code, 'PW_CANCELLED'), running);
    await assertGone(grandchild, 'the grandchild sleep');
  });

  it('stops processes a command leaves running when it exits', async () => {
    const pidFile = join(harness.projectDir, 'leftover.pid');
    await harness.writeFile('daemon.sh', `sleep 30 > /dev/null 2>&1 &\necho $! > "${pidFile}"\n`);
    await harness.runStep(exec, { command: ['sh', 'daemon.sh'], kill_grace: '1s' }, { stepId: 'leaver' });
    assert.ok(
      harness.logs.some((entry) => entry.stepId === 'leaver' && /left processes running/.test(entry.message)),
    );
    await assertGone(await readPid(pidFile), 'the background sleep');
  });

  it('drains a flood of 200k lines without blocking and logs a bounded number of them', async () => {
    await harness.writeFile(
      'flood.mjs',
      `const chunk = [];
for (let i = 1; i <= 200000; i++) chunk.push('line ' + i);
process.stdout.write(chunk.join('\\n') + '\\n');
process.stderr.write('x'.repeat(100000) + '\\nlast words\\n');
`,
    );
    const started = Date.now();
    const result = await harness.runStep(
      exec,
      { command: ['node', 'flood.mjs'], log_lines: 1000 },
      { stepId: 'flood' },
    );
    assert.ok(Date.now() - started < 20_000);
    assert.equal(result.outputs?.output_lines, 200_002);
    const own = harness.logs.filter((entry) => entry.stepId === 'flood');
    assert.ok(own.length <= 1000 + 5, `${own.length} log entries`);
    assert.ok(own.some((entry) => /output limit reached: 1000 line/.test(entry.message)));
    assert.ok(own.some((entry) => /199002 further line\(s\) of output were not logged/.test(entry.message)));
    assert.ok(own.every((entry) => entry.message.length < 4100));
  });

  it('cuts an over-long line in the log and says how much was cut', async () => {
    await harness.writeFile('long-line.mjs', `process.stderr.write('y'.repeat(10000) + '\\n');`);
    await harness.runStep(exec, { command: ['node', 'long-line.mjs'] }, { stepId: 'wide' });
    const line = harness.logs.find((entry) => entry.stepId === 'wide' && entry.message.startsWith('yyy'));
    assert.equal(line?.message, `${'y'.repeat(4000)}… [6000 more characters]`);
    assert.equal(line.level, 'warn');
  });

  it('fails clearly when the dataset file was not written', async () => {
    await rejectsWith(
      (error) => {
        const e = pw(error);
        assert.equal(e.code, 'PW_INPUT_NOT_FOUND');
        assert.equal(e.message, "The command did not write its dataset file 'result.parquet'");
        assert.equal(e.found, 'the output folder holds other.json');
      },
      harness.runStep(
        exec,
        {
          command: 'echo "[]" > "$PIPEWRIGHT_OUTPUT_DIR/other.json"',
          shell: true,
          dataset: 'result.parquet',
        },
        { stepId: 'nodata' },
      ),
    );
  });

  it('reads an NDJSON dataset file', async () => {
    const result = await harness.runStep(
      exec,
      {
        command: 'printf \'{"a":1}\\n{"a":2}\\n\' > "$PIPEWRIGHT_OUTPUT_DIR/rows.ndjson"',
        shell: true,
        dataset: 'rows.ndjson',
      },
      { stepId: 'nd' },
    );
    assert.equal(result.rows, 2);
    assert.deepEqual(await harness.query('SELECT sum(a)::INT AS s FROM nd'), [{ s: 3 }]);
  });
});

describe('exec step in a whole run', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-exec-run-'));
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('masks secret env values in the run log and in the error', async () => {
    const store = await openSqliteStore(join(root, 'state.db'));
    try {
      const pipeline = pipelineSchema.parse({
        id: 'leaky',
        steps: [
          {
            id: 'leak',
            uses: 'exec',
            with: {
              command: 'echo "key is $API_KEY"; echo "bad key $API_KEY" >&2; exit 1',
              shell: true,
              env: { API_KEY: '${env:API_KEY}' },
            },
          },
        ],
      });
      const { run, error } = await executeRun({
        projectDir: root,
        project: projectSchema.parse({ duckdb: { memory_limit: '256MB', threads: 2 } }),
        registry: new StepRegistry([exec]),
        pipeline,
        sourcePath: 'pipelines/leaky.yaml',
        store,
        params: {},
        trigger: 'manual:test',
        env: { API_KEY: 'sk-live-0123456789' },
      });
      assert.equal(run.status, 'failed');
      assert.equal(error?.code, 'PW_EXEC_FAILED');
      const logs = (await store.listLogs(run.id, { limit: 1000 })).map((entry) => entry.message);
      assert.ok(logs.includes('key is [redacted]'), logs.join(' | '));
      assert.ok(logs.includes('bad key [redacted]'), logs.join(' | '));
      const everything = JSON.stringify({
        logs,
        error: { ...error, message: error?.message },
        stored: await store.getRun(run.id),
      });
      assert.ok(!everything.includes('sk-live-0123456789'), 'the secret leaked');
      assert.match(everything, /bad key \[redacted\]/);
    } finally {
      await store.close();
    }
  });
});
