/**
 * Whole runs against a real SQLite state store and a real DuckDB run database in a temporary project
 * folder: what is recorded, retries, timeouts, cancelling, workspaces, resuming, revisions and
 * artifact retention. Test step types are defined here with defineStep, beside the real `sql` step.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { z } from 'zod';
import { defineStep } from '../core/step.js';
import { PwError } from '../core/errors/pw-error.js';
import { pipelineSchema, type PipelineSpec } from '../core/spec/pipeline-schema.js';
import { projectSchema, type ProjectSpec } from '../core/spec/project-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import { StepRegistry } from '../steps/registry.js';
import { sqlStep } from '../steps/transform/sql.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { StateStore, StepAttemptRecord } from '../store/state-store.js';
import { executeRun, type RunRequest } from './execute-run.js';
import type { RunEvent } from './run-events.js';
import { runPaths } from './workspace.js';

// ---- test step types -------------------------------------------------------------------------

/** Calls per run and step, so a step can fail its first N calls and succeed after (also on resume). */
const calls = new Map<string, number>();
/** Values the echo step received, per run: what templates rendered to. */
const echoed = new Map<string, string[]>();

const flakyStep = defineStep({
  type: 'test.flaky',
  kind: 'custom',
  description: 'Fails its first `failures` calls of a run with `code`, then succeeds.',
  config: z.strictObject({
    failures: z.int().min(0),
    code: z.enum(['PW_IO', 'PW_INPUT_MALFORMED']),
    /** A dataset to count: proves earlier datasets are readable (also after a resume). */
    count: z.string().optional(),
  }),
  producesDataset: false,
  async run(ctx, config) {
    const key = `${ctx.run.id}/${ctx.stepId}`;
    const call = (calls.get(key) ?? 0) + 1;
    calls.set(key, call);
    if (call <= config.failures)
      throw new PwError(config.code, `planned failure ${call} of ${config.failures}`);
    return { rows: config.count === undefined ? 1 : await ctx.datasets.rowCount(config.count) };
  },
});

const echoStep = defineStep({
  type: 'test.echo',
  kind: 'custom',
  description: 'Records and logs its rendered value; optionally writes it to an artifact file.',
  config: z.strictObject({ value: z.string(), artifact: z.string().optional() }),
  producesDataset: false,
  async run(ctx, config) {
    echoed.set(ctx.run.id, [...(echoed.get(ctx.run.id) ?? []), config.value]);
    ctx.log.info(`value is ${config.value}`);
    if (config.artifact !== undefined) {
      const path = join(ctx.artifacts.dir, config.artifact);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, config.value);
      await ctx.artifacts.register(path, { contentType: 'text/plain' });
    }
    return { outputs: { length: config.value.length } };
  },
});

/** Set by a test to learn when a waiting step has started, and to release one that ignores its signal. */
let released: Promise<void> = Promise.resolve();

const waitStep = defineStep({
  type: 'test.wait',
  kind: 'custom',
  description: 'Waits `ms`, honouring the abort signal unless told to ignore it.',
  config: z.strictObject({ ms: z.int().min(0), ignore_signal: z.boolean().default(false) }),
  producesDataset: false,
  async run(ctx, config) {
    if (config.ignore_signal) await released;
    else await delay(config.ms, undefined, { signal: ctx.signal });
    return {};
  },
});

const execFileAsync = promisify(execFile);

const registry = new StepRegistry([sqlStep, flakyStep, echoStep, waitStep]);

// ---- fixtures --------------------------------------------------------------------------------

let root: string;
let store: StateStore;
let projectCounter = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-execute-run-'));
  store = await openSqliteStore(join(root, 'state.db'));
});

after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

const PROJECT = projectSchema.parse({ duckdb: { memory_limit: '256MB', threads: 2 } });

function pipeline(definition: Record<string, unknown>): PipelineSpec {
  return pipelineSchema.parse(definition);
}

/** A fresh project folder, so workspaces and artifacts of different tests never mix. */
async function projectDir(): Promise<string> {
  projectCounter += 1;
  const dir = join(root, `project-${projectCounter}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function request(dir: string, spec: PipelineSpec, overrides: Partial<RunRequest> = {}): RunRequest {
  return {
    projectDir: dir,
    project: PROJECT,
    registry,
    pipeline: spec,
    sourcePath: `pipelines/${spec.id}.yaml`,
    store,
    params: {},
    trigger: 'manual:test',
    env: {},
    ...overrides,
  };
}

/** Attempts of one step, as [attempt, runAttempt, status, error code] — the shape most tests compare. */
function summary(attempts: readonly StepAttemptRecord[], stepId: string) {
  return attempts
    .filter((record) => record.stepId === stepId)
    .map((record) => [record.attempt, record.runAttempt, record.status, record.error?.code]);
}

async function messages(runId: string): Promise<string[]> {
  return (await store.listLogs(runId, { limit: 10_000 })).map(
    (entry) => `${entry.stepId ?? '-'}: ${entry.message}`,
  );
}

/** The step-timeout scenario, run by a child process with the compiled engine next to this file. */
const STEP_TIMEOUT_SCENARIO = `
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
const load = (path) => import(${JSON.stringify(new URL('./', import.meta.url).href)} + path);
const { executeRun } = await load('execute-run.js');
const { openSqliteStore } = await load('../store/sqlite/open-sqlite-store.js');
const { StepRegistry } = await load('../steps/registry.js');
const { sqlStep } = await load('../steps/transform/sql.js');
const { pipelineSchema } = await load('../core/spec/pipeline-schema.js');
const { projectSchema } = await load('../core/spec/project-schema.js');

const dir = process.argv[2];
const store = await openSqliteStore(join(dir, 'state.db'));
const pipeline = pipelineSchema.parse({
  id: 'slow-sql',
  steps: [{ id: 'slow', uses: 'sql', timeout: '200ms', with: { query: 'SELECT count(*) AS n FROM range(100000000000)' } }],
});
const started = performance.now();
const { run, error } = await executeRun({
  projectDir: dir,
  project: projectSchema.parse({ duckdb: { memory_limit: '256MB', threads: 2 } }),
  registry: new StepRegistry([sqlStep]),
  pipeline,
  sourcePath: 'pipelines/slow-sql.yaml',
  store,
  params: {},
  trigger: 'manual:test',
  env: {},
});
const elapsed = performance.now() - started;
const attempts = (await store.listStepAttempts(run.id)).map((a) => [a.attempt, a.runAttempt, a.status, a.error?.code]);
await store.close();
const cpu = process.cpuUsage();
await delay(300);
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({ code: error?.code, message: error?.message, status: run.status, elapsed, attempts, idleCpuMs: (used.user + used.system) / 1000 }));
// No process.exit(): the process must end by itself.
`;

// ---- tests -----------------------------------------------------------------------------------

describe('executeRun', () => {
  it('runs a three-step pipeline and records the revision, the run, each attempt with its rows, and the log', async () => {
    const dir = await projectDir();
    const spec = pipeline({
      id: 'three',
      steps: [
        { id: 'a', uses: 'sql', with: { query: 'SELECT * FROM range(5) t(n)' } },
        { id: 'b', uses: 'sql', with: { query: 'SELECT n * 2 AS m FROM a WHERE n % 2 = 0' } },
        {
          id: 'c',
          uses: 'test.echo',
          needs: ['b'],
          with: { value: '{{ steps.a.rows }}/{{ steps.b.rows }}' },
        },
      ],
    });
    const events: RunEvent['type'][] = [];
    const outcome = await executeRun(
      request(dir, spec, { listener: (event) => event.type !== 'log' && events.push(event.type) }),
    );

    assert.equal(outcome.error, undefined, outcome.error?.message);
    const { run } = outcome;
    assert.equal(run.status, 'succeeded');
    assert.equal(run.attempt, 1);

    const revision = await store.latestPipelineRevision('three');
    assert.equal(revision?.revision, 1);
    assert.equal(revision?.hash, definitionHash(spec));
    assert.equal(revision?.sourcePath, 'pipelines/three.yaml');

    const stored = await store.getRun(run.id);
    assert.equal(stored?.status, 'succeeded');
    assert.equal(stored?.revision, 1);
    assert.equal(stored?.trigger, 'manual:test');
    assert.equal(stored?.attempt, 1);
    assert.equal(stored?.error, undefined);
    assert.equal(stored?.workspace, runPaths(dir, PROJECT, run.id).workspaceDir);
    assert.ok(stored?.finishedAt && stored.startedAt && stored.finishedAt >= stored.startedAt);

    const attempts = await store.listStepAttempts(run.id);
    assert.deepEqual(
      attempts.map((record) => [
        record.stepId,
        record.attempt,
        record.runAttempt,
        record.status,
        record.rows ?? null,
        record.outputs ?? null,
      ]),
      [
        ['a', 1, 1, 'succeeded', 5, null],
        ['b', 1, 1, 'succeeded', 3, null],
        ['c', 1, 1, 'succeeded', null, { length: 3 }],
      ],
    );
    for (const record of attempts) assert.ok(record.finishedAt && record.finishedAt >= record.startedAt);
    assert.deepEqual(echoed.get(run.id), ['5/3']);

    const log = await messages(run.id);
    assert.equal(log[0], '-: run started by manual:test');
    assert.equal(log.at(-1), '-: run succeeded');
    for (const expected of ['a: started (sql)', 'a: 5 rows', 'b: 3 rows', 'c: value is 5/3'])
      assert.ok(log.includes(expected), `${expected} not in ${log.join(' | ')}`);
    assert.ok(
      log.some((line) => /^b: succeeded in \d+ms, 3 rows$|^b: succeeded in [\d.]+s, 3 rows$/.test(line)),
      log.join(' | '),
    );

    assert.deepEqual(events, [
      'run-started',
      'step-started',
      'step-succeeded',
      'step-started',
      'step-succeeded',
      'step-started',
      'step-succeeded',
      'run-finished',
    ]);
    // keep: on_failure, and the run succeeded: its workspace is gone.
    assert.equal(existsSync(runPaths(dir, PROJECT, run.id).workspaceDir), false);
  });

  it('retries an operational error per the retry policy and records every attempt', async () => {
    const dir = await projectDir();
    const spec = pipeline({
      id: 'retry-io',
      steps: [
        {
          id: 'fetch',
          uses: 'test.flaky',
          with: { failures: 2, code: 'PW_IO' },
          retries: { attempts: 3, delay: '10ms', backoff: 'fixed' },
        },
      ],
    });
    const { run, error } = await executeRun(request(dir, spec));
    assert.equal(error, undefined, error?.message);
    assert.equal(run.status, 'succeeded');
    const attempts = await store.listStepAttempts(run.id);
    assert.deepEqual(summary(attempts, 'fetch'), [
      [1, 1, 'failed', 'PW_IO'],
      [2, 1, 'failed', 'PW_IO'],
      [3, 1, 'succeeded', undefined],
    ]);
    assert.equal(attempts[0]?.error?.message, 'planned failure 1 of 2');
    // The 10 ms backoff was waited between attempts (timers may fire a hair early, never 5 ms early).
    for (let i = 1; i < attempts.length; i += 1) {
      const gap = attempts[i]!.startedAt.getTime() - attempts[i - 1]!.finishedAt!.getTime();
      assert.ok(gap >= 5, `attempt ${i + 1} started ${gap} ms after the previous one ended`);
    }
    const log = await messages(run.id);
    assert.ok(log.includes('fetch: retrying in 10ms (attempt 2 of 3)'), log.join(' | '));
    assert.ok(log.includes('fetch: retrying in 10ms (attempt 3 of 3)'), log.join(' | '));
  });

  it('does not retry a user error, fails the run, skips dependents and keeps the workspace', async () => {
    const dir = await projectDir();
    const spec = pipeline({
      id: 'retry-user',
      retries: { attempts: 3, delay: '10ms', backoff: 'fixed' },
      steps: [
        { id: 'parse', uses: 'test.flaky', with: { failures: 2, code: 'PW_INPUT_MALFORMED' } },
        { id: 'after', uses: 'test.echo', needs: ['parse'], with: { value: 'never' } },
      ],
    });
    const { run, error } = await executeRun(request(dir, spec));
    assert.equal(error?.code, 'PW_INPUT_MALFORMED');
    assert.equal(run.status, 'failed');
    const stored = await store.getRun(run.id);
    assert.equal(stored?.status, 'failed');
    assert.deepEqual(
      { code: stored?.error?.code, stepId: stored?.error?.stepId, message: stored?.error?.message },
      { code: 'PW_INPUT_MALFORMED', stepId: 'parse', message: 'planned failure 1 of 2' },
    );
    const attempts = await store.listStepAttempts(run.id);
    assert.deepEqual(summary(attempts, 'parse'), [[1, 1, 'failed', 'PW_INPUT_MALFORMED']]);
    assert.deepEqual(summary(attempts, 'after'), []);
    assert.ok(
      existsSync(runPaths(dir, PROJECT, run.id).databaseFile),
      'a failed run keeps its workspace to be resumed',
    );
  });

  it('stops a step running a long DuckDB query at its timeout; the query really stops and the process can exit', async () => {
    // In a child process, because what is at stake is whether that process ends on its own: a query
    // left pending in DuckDB keeps a process alive for ever after its run has "finished".
    const dir = await projectDir();
    const script = join(dir, 'step-timeout.mjs');
    await writeFile(script, STEP_TIMEOUT_SCENARIO);
    const started = performance.now();
    const child = await execFileAsync(process.execPath, [script, dir], { timeout: 30_000 }).catch(
      (error: { killed?: boolean; stderr?: string }) => {
        assert.fail(
          error.killed
            ? 'the process was still alive 30 s after starting: DuckDB work was left pending'
            : `the scenario failed: ${error.stderr}`,
        );
      },
    );
    const result = JSON.parse(child.stdout) as {
      code: string;
      message: string;
      status: string;
      elapsed: number;
      attempts: unknown[];
      idleCpuMs: number;
    };
    assert.equal(result.code, 'PW_STEP_TIMEOUT', result.message);
    assert.equal(result.message, "Step 'slow' ran longer than its timeout of 200ms");
    assert.equal(result.status, 'failed');
    assert.deepEqual(result.attempts, [[1, 1, 'failed', 'PW_STEP_TIMEOUT']]);
    // The query needs minutes at two threads; the run ended within seconds of the timeout.
    assert.ok(result.elapsed < 5000, `the run took ${Math.round(result.elapsed)} ms`);
    // A query still running would keep DuckDB's two threads busy: ~600 ms of CPU in 300 ms.
    assert.ok(result.idleCpuMs < 150, `${result.idleCpuMs} ms of CPU used in 300 ms after the run`);
    assert.ok(performance.now() - started < 30_000);
  });

  it('stops waiting for a step that ignores its signal once its timeout passes', async () => {
    const dir = await projectDir();
    let release!: () => void;
    released = new Promise((resolve) => (release = resolve));
    const spec = pipeline({
      id: 'stubborn',
      steps: [
        { id: 'stuck', uses: 'test.wait', timeout: '100ms', with: { ms: 30_000, ignore_signal: true } },
      ],
    });
    const started = performance.now();
    const { error } = await executeRun(request(dir, spec));
    release();
    assert.equal(error?.code, 'PW_STEP_TIMEOUT');
    assert.ok(performance.now() - started < 10_000, 'the run waited for the stuck step');
  });

  it('fails the run with PW_RUN_TIMEOUT when it outlasts the pipeline timeout, or the project default', async () => {
    for (const [id, spec, project] of [
      ['run-timeout', { timeout: '300ms' }, PROJECT],
      [
        'default-timeout',
        {},
        projectSchema.parse({
          duckdb: { memory_limit: '256MB', threads: 2 },
          defaults: { timeout: '300ms' },
        }),
      ],
    ] as const) {
      const dir = await projectDir();
      const spec2 = pipeline({
        id,
        ...spec,
        steps: [
          { id: 'wait', uses: 'test.wait', with: { ms: 30_000 } },
          { id: 'next', uses: 'test.echo', needs: ['wait'], with: { value: 'never' } },
        ],
      });
      const started = performance.now();
      const { run, error } = await executeRun(request(dir, spec2, { project }));
      assert.equal(error?.code, 'PW_RUN_TIMEOUT', `${id}: ${error?.message}`);
      assert.ok(performance.now() - started < 10_000, `${id}: the run outlived its 300 ms timeout by far`);
      assert.equal(run.status, 'failed');
      const stored = await store.getRun(run.id);
      assert.equal(stored?.error?.code, 'PW_RUN_TIMEOUT');
      const attempts = await store.listStepAttempts(run.id);
      assert.deepEqual(summary(attempts, 'wait'), [[1, 1, 'failed', 'PW_RUN_TIMEOUT']]);
      assert.deepEqual(summary(attempts, 'next'), []);
    }
  });

  it('cancels the run through the signal: status cancelled, nothing further started', async () => {
    const dir = await projectDir();
    const controller = new AbortController();
    const spec = pipeline({
      id: 'cancel-me',
      steps: [
        { id: 'wait', uses: 'test.wait', with: { ms: 30_000 } },
        { id: 'next', uses: 'test.echo', needs: ['wait'], with: { value: 'never' } },
      ],
    });
    const started = performance.now();
    const { run, error } = await executeRun(
      request(dir, spec, {
        signal: controller.signal,
        listener: (event) => {
          if (event.type === 'step-started') setTimeout(() => controller.abort(), 20);
        },
      }),
    );
    assert.equal(error?.code, 'PW_CANCELLED');
    assert.equal(run.status, 'cancelled');
    assert.ok(performance.now() - started < 10_000, 'the cancelled run kept going');
    assert.equal((await store.getRun(run.id))?.status, 'cancelled');
    const attempts = await store.listStepAttempts(run.id);
    assert.deepEqual(summary(attempts, 'wait'), [[1, 1, 'cancelled', 'PW_CANCELLED']]);
    assert.deepEqual(summary(attempts, 'next'), []);
    assert.ok(existsSync(runPaths(dir, PROJECT, run.id).databaseFile), 'a cancelled run stays resumable');
  });

  it('resumes a failed run: skips succeeded steps, retries the failed one and feeds earlier results to templates', async () => {
    const dir = await projectDir();
    const spec = pipeline({
      id: 'resumable',
      steps: [
        { id: 'a', uses: 'sql', with: { query: 'SELECT * FROM range(4) t(n)' } },
        {
          id: 'b',
          uses: 'test.flaky',
          needs: ['a'],
          with: { failures: 1, code: 'PW_INPUT_MALFORMED', count: 'a' },
        },
        {
          id: 'c',
          uses: 'test.echo',
          needs: ['b'],
          with: { value: 'a={{ steps.a.rows }} b={{ steps.b.rows }} attempt={{ run.attempt }}' },
        },
      ],
    });
    const first = await executeRun(request(dir, spec));
    assert.equal(first.error?.code, 'PW_INPUT_MALFORMED');
    const failed = await store.getRun(first.run.id);
    assert.ok(failed);

    let alreadyDone: string[] = [];
    const resumed = await executeRun(
      request(dir, spec, {
        resume: failed,
        trigger: 'manual:test',
        listener: (event) => {
          if (event.type === 'run-started') alreadyDone = event.alreadyDone;
        },
      }),
    );
    assert.equal(resumed.error, undefined, resumed.error?.message);
    assert.equal(resumed.run.id, first.run.id);
    assert.equal(resumed.run.status, 'succeeded');
    assert.equal(resumed.run.attempt, 2);
    assert.deepEqual(alreadyDone, ['a']);
    const stored = await store.getRun(first.run.id);
    assert.deepEqual([stored?.status, stored?.attempt, stored?.error], ['succeeded', 2, undefined]);

    const attempts = await store.listStepAttempts(first.run.id);
    assert.deepEqual(summary(attempts, 'a'), [[1, 1, 'succeeded', undefined]]);
    assert.deepEqual(summary(attempts, 'b'), [
      [1, 1, 'failed', 'PW_INPUT_MALFORMED'],
      [2, 2, 'succeeded', undefined],
    ]);
    assert.deepEqual(summary(attempts, 'c'), [[1, 2, 'succeeded', undefined]]);
    // b counted a's table from the kept run database; c got a's row count from the first attempt.
    assert.equal(attempts.find((record) => record.stepId === 'b' && record.status === 'succeeded')?.rows, 4);
    assert.deepEqual(echoed.get(first.run.id), ['a=4 b=4 attempt=2']);
    assert.ok((await messages(first.run.id)).includes('-: resuming run (attempt 2); 1 steps already done'));
    assert.equal(existsSync(runPaths(dir, PROJECT, first.run.id).workspaceDir), false);
  });

  it('marks a step attempt left running by a crashed process as failed with PW_PROCESS_LOST on resume', async () => {
    const dir = await projectDir();
    const spec = pipeline({
      id: 'crashed',
      steps: [
        { id: 'a', uses: 'sql', with: { query: 'SELECT 1 AS one' } },
        { id: 'b', uses: 'test.flaky', needs: ['a'], with: { failures: 1, code: 'PW_INPUT_MALFORMED' } },
      ],
    });
    const first = await executeRun(request(dir, spec));
    assert.equal(first.run.status, 'failed');
    // A second run attempt that died while b was running: its attempt record stayed open.
    await store.updateRun(first.run.id, {
      status: 'running',
      attempt: 2,
      finishedAt: undefined,
      error: undefined,
    });
    await store.startStepAttempt({
      runId: first.run.id,
      stepId: 'b',
      attempt: 2,
      runAttempt: 2,
      startedAt: new Date(),
      status: 'running',
    });
    const crashed = await store.getRun(first.run.id);
    assert.ok(crashed);

    const resumed = await executeRun(request(dir, spec, { resume: crashed }));
    assert.equal(resumed.error, undefined, resumed.error?.message);
    assert.equal(resumed.run.attempt, 3);
    const attempts = await store.listStepAttempts(first.run.id);
    assert.deepEqual(summary(attempts, 'a'), [[1, 1, 'succeeded', undefined]]);
    assert.deepEqual(summary(attempts, 'b'), [
      [1, 1, 'failed', 'PW_INPUT_MALFORMED'],
      [2, 2, 'failed', 'PW_PROCESS_LOST'],
      [3, 3, 'succeeded', undefined],
    ]);
    const lost = attempts.find((record) => record.attempt === 2);
    assert.ok(lost?.finishedAt, 'the lost attempt got an end time');
  });

  it('refuses to resume a run whose workspace is gone', async () => {
    const dir = await projectDir();
    const spec = pipeline({
      id: 'no-workspace',
      steps: [{ id: 'a', uses: 'test.flaky', with: { failures: 1, code: 'PW_INPUT_MALFORMED' } }],
    });
    const first = await executeRun(request(dir, spec));
    await rm(runPaths(dir, PROJECT, first.run.id).workspaceDir, { recursive: true, force: true });
    const resumed = await executeRun(request(dir, spec, { resume: (await store.getRun(first.run.id))! }));
    assert.equal(resumed.error?.code, 'PW_RUN_NOT_RESUMABLE');
    assert.equal(resumed.run.status, 'failed');
    assert.deepEqual(summary(await store.listStepAttempts(first.run.id), 'a'), [
      [1, 1, 'failed', 'PW_INPUT_MALFORMED'],
    ]);
  });

  it('keeps the revision for the same definition and makes a new one when it changes', async () => {
    const dir = await projectDir();
    const definition = { id: 'versioned', steps: [{ id: 'a', uses: 'test.echo', with: { value: 'one' } }] };
    const first = await executeRun(request(dir, pipeline(definition)));
    // The same meaning written with keys in another order is the same revision.
    const again = await executeRun(
      request(
        dir,
        pipeline({ steps: [{ with: { value: 'one' }, uses: 'test.echo', id: 'a' }], id: 'versioned' }),
      ),
    );
    const changed = await executeRun(
      request(
        dir,
        pipeline({ ...definition, steps: [{ id: 'a', uses: 'test.echo', with: { value: 'two' } }] }),
      ),
    );
    const changedAgain = await executeRun(
      request(
        dir,
        pipeline({ ...definition, steps: [{ id: 'a', uses: 'test.echo', with: { value: 'two' } }] }),
      ),
    );
    assert.deepEqual(
      [first, again, changed, changedAgain].map((outcome) => outcome.run.revision),
      [1, 1, 2, 2],
    );
    const revision = await store.getPipelineRevision('versioned', 2);
    assert.deepEqual((revision?.definition as PipelineSpec).steps[0]?.with, { value: 'two' });
  });

  it('masks secret values from the environment in the stored log', async () => {
    const dir = await projectDir();
    const spec = pipeline({
      id: 'secretive',
      steps: [{ id: 'login', uses: 'test.echo', with: { value: 'token=${env:PW_TEST_TOKEN}' } }],
    });
    const { run, error } = await executeRun(request(dir, spec, { env: { PW_TEST_TOKEN: 'tok-9f8e7d6c5b' } }));
    assert.equal(error, undefined, error?.message);
    assert.deepEqual(echoed.get(run.id), ['token=tok-9f8e7d6c5b']);
    const log = await messages(run.id);
    assert.ok(log.includes('login: value is token=[redacted]'), log.join(' | '));
    assert.ok(!log.join('\n').includes('tok-9f8e7d6c5b'));
  });

  it('deletes artifact files of runs older than keep_days, but never files outside the artifacts folder', async () => {
    const dir = await projectDir();
    const project: ProjectSpec = projectSchema.parse({
      duckdb: { memory_limit: '256MB', threads: 2 },
      artifacts: { keep_days: 7 },
    });
    const artifactsRoot = join(dir, '.pipewright', 'artifacts');
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);
    await store.savePipelineRevision({
      pipelineId: 'history',
      hash: 'old',
      definition: {},
      sourcePath: 'pipelines/history.yaml',
      at: daysAgo(40),
    });

    const files = {
      old: join(artifactsRoot, 'old-run', 'report', 'report.csv'),
      outside: join(dir, 'exports', 'report.csv'),
      lookalike: join(dir, '.pipewright', 'artifacts-copy', 'report.csv'),
      escaping: join(dir, 'kept.csv'),
      recent: join(artifactsRoot, 'recent-run', 'report', 'report.csv'),
    };
    for (const path of Object.values(files)) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, 'id\n1\n');
    }
    const seed = async (runId: string, days: number, paths: string[]) => {
      await store.createRun({
        id: runId,
        pipelineId: 'history',
        revision: 1,
        status: 'succeeded',
        trigger: 'schedule',
        params: {},
        scheduledFor: daysAgo(days),
        queuedAt: daysAgo(days),
      });
      for (const path of paths)
        await store.addArtifact({
          runId,
          stepId: 'report',
          name: 'report.csv',
          path,
          bytes: 5,
          createdAt: daysAgo(days),
        });
    };
    // The escaping path is written un-normalised, as a step could have recorded it.
    await seed('old-run', 30, [
      files.old,
      files.outside,
      files.lookalike,
      `${artifactsRoot}/old-run/../../../kept.csv`,
    ]);
    await seed('recent-run', 1, [files.recent]);

    const spec = pipeline({
      id: 'retention',
      steps: [{ id: 'write', uses: 'test.echo', with: { value: 'fresh', artifact: 'fresh.txt' } }],
    });
    const { run, error } = await executeRun(request(dir, spec, { project }));
    assert.equal(error, undefined, error?.message);

    assert.equal(existsSync(files.old), false, 'the old artifact inside the folder was kept');
    for (const key of ['outside', 'lookalike', 'escaping', 'recent'] as const)
      assert.ok(existsSync(files[key]), `${key} was deleted`);

    const old = await store.listArtifacts('old-run');
    assert.equal(old.length, 4);
    for (const record of old) assert.ok(record.deletedAt, `${record.path} not marked deleted`);
    assert.equal((await store.listArtifacts('recent-run'))[0]?.deletedAt, undefined);

    const fresh = await store.listArtifacts(run.id);
    assert.deepEqual(
      fresh.map((record) => [record.stepId, record.name, record.bytes, record.contentType, record.deletedAt]),
      [['write', 'fresh.txt', 5, 'text/plain', undefined]],
    );
    assert.equal(fresh[0]?.path, join(artifactsRoot, run.id, 'write', 'fresh.txt'));
    assert.match(fresh[0]?.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.ok(existsSync(fresh[0]!.path));
  });
});
