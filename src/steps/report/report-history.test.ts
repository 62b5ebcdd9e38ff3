/**
 * The report inside the engine: `previousStepOutputs` in the state store (which earlier run counts),
 * two real runs of a pipeline whose second report compares with the first, and `validate` on a
 * pipeline with an inline report template (read by the report, not rendered as a pipeline template).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipelineSchema } from '../../core/spec/pipeline-schema.js';
import { projectSchema } from '../../core/spec/project-schema.js';
import { validatePipeline } from '../../core/spec/validate.js';
import { executeRun } from '../../engine/execute-run.js';
import { openSqliteStore } from '../../store/sqlite/open-sqlite-store.js';
import type { NewRun, StateStore } from '../../store/state-store.js';
import { ADAPTERS } from '../../store/test-adapters.js';
import { StepRegistry } from '../registry.js';
import { sqlStep } from '../transform/sql.js';
import { reportStep } from './report.js';

let root: string;
let store: StateStore;
const registry = new StepRegistry([sqlStep, reportStep]);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-report-history-'));
  store = await openSqliteStore(join(root, 'state.db'));
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

const day = (date: string) => new Date(`${date}T07:00:00Z`);

for (const adapter of ADAPTERS) {
  describe(`state store (${adapter.name}): previousStepOutputs`, () => {
    it('finds the step in the latest succeeded run scheduled before, skipping failed runs and runs without it', async () => {
      const store = await adapter.open();
      try {
        await previousOutputsContract(store);
      } finally {
        await store.close();
      }
    });
  });
}

async function previousOutputsContract(store: StateStore): Promise<void> {
  {
    const saved = await store.savePipelineRevision({
      pipelineId: 'weekly',
      hash: 'h1',
      definition: { id: 'weekly' },
      sourcePath: 'pipelines/weekly.yaml',
      at: day('2026-03-01'),
    });
    const revision = saved.revision.revision;
    const add = async (
      id: string,
      scheduled: string,
      status: 'succeeded' | 'failed',
      step?: { status: 'succeeded' | 'failed'; total: number },
    ) => {
      const run: NewRun = {
        id,
        pipelineId: 'weekly',
        revision,
        status: 'running',
        trigger: 'schedule',
        params: {},
        scheduledFor: day(scheduled),
        queuedAt: day(scheduled),
        startedAt: day(scheduled),
      };
      await store.createRun(run);
      if (step !== undefined) {
        await store.startStepAttempt({
          runId: id,
          stepId: 'summary',
          attempt: 1,
          runAttempt: 1,
          startedAt: day(scheduled),
        });
        await store.finishStepAttempt(id, 'summary', 1, {
          status: step.status,
          finishedAt: day(scheduled),
          outputs: step.status === 'succeeded' ? { metrics: { total: step.total } } : undefined,
        });
      }
      await store.updateRun(id, { status, finishedAt: day(scheduled) });
    };
    await add('r1', '2026-03-02', 'succeeded', { status: 'succeeded', total: 10 });
    await add('r2', '2026-03-09', 'failed', { status: 'succeeded', total: 20 });
    await add('r3', '2026-03-16', 'succeeded'); // an older definition without the step
    await add('r5', '2026-03-30', 'succeeded', { status: 'succeeded', total: 50 }); // a later slot
    await add('r4', '2026-03-23', 'succeeded', { status: 'succeeded', total: 40 }); // this run, re-run

    const previous = await store.previousStepOutputs({
      pipelineId: 'weekly',
      stepId: 'summary',
      scheduledBefore: day('2026-03-23'),
      excludeRunId: 'r4',
    });
    assert.deepEqual(previous, {
      runId: 'r1',
      scheduledFor: day('2026-03-02'),
      finishedAt: day('2026-03-02'),
      outputs: { metrics: { total: 10 } },
    });
    const first = await store.previousStepOutputs({
      pipelineId: 'weekly',
      stepId: 'summary',
      scheduledBefore: day('2026-03-02'),
      excludeRunId: 'r1',
    });
    assert.equal(first, undefined);
    const otherStep = await store.previousStepOutputs({
      pipelineId: 'weekly',
      stepId: 'other',
      scheduledBefore: day('2026-04-01'),
      excludeRunId: 'x',
    });
    assert.equal(otherStep, undefined);
  }
}

describe('report in a real run', () => {
  const pipeline = pipelineSchema.parse({
    id: 'sums',
    timezone: 'Europe/Berlin',
    params: { factor: { type: 'number', default: 1 } },
    steps: [
      {
        id: 'nums',
        uses: 'sql',
        with: { query: "SELECT n * getvariable('factor') AS v FROM range(1, 4) t(n)" },
      },
      {
        id: 'summary',
        uses: 'report',
        with: {
          title: "Sums × {{ params.factor }} for {{ run.scheduled_for | date: 'yyyy-MM-dd' }}",
          template: '# {{ report.title }}\n\n{% metric total %}\n\n{% table nums %}\n',
          metrics: { total: { dataset: 'nums', column: 'v', better: 'higher' } },
          pdf: false,
        },
      },
    ],
  });

  it('compares the metric with the previous successful run and renders only the title as a pipeline template', async () => {
    const projectDir = join(root, 'project');
    await mkdir(projectDir, { recursive: true });
    const request = (factor: number, scheduled: string) => ({
      projectDir,
      project: projectSchema.parse({ duckdb: { memory_limit: '256MB', threads: 2 } }),
      registry,
      pipeline,
      sourcePath: 'pipelines/sums.yaml',
      store,
      params: { factor },
      trigger: 'schedule',
      scheduledFor: day(scheduled),
      env: {},
    });
    const first = await executeRun(request(1, '2026-03-16'));
    assert.equal(first.error, undefined, first.error?.message);
    const second = await executeRun(request(2, '2026-03-23'));
    assert.equal(second.error, undefined, second.error?.message);

    const attempt = (await store.listStepAttempts(second.run.id)).find((entry) => entry.stepId === 'summary');
    assert.deepEqual(attempt?.outputs?.['metrics'], { total: 12 });
    assert.equal(attempt?.outputs?.['previous_run'], first.run.id);
    const artifact = (await store.listArtifacts(second.run.id)).find((entry) => entry.name === 'report.html');
    assert.equal(artifact?.contentType, 'text/html');
    const html = await readFile(artifact?.path ?? '', 'utf8');
    assert.match(html, /<h1>Sums × 2 for 2026-03-23<\/h1>/);
    assert.match(
      html,
      /<div class="pw-metric-value">12<\/div>\n<div class="pw-change pw-good" title="previous run: 6">▲ \+6 \(\+100\.0%\)/,
    );
  });
});

describe('validate: a pipeline with a report', () => {
  const file = 'pipelines/weekly.yaml';
  const lines = (template: string[]) =>
    [
      'id: weekly',
      'steps:',
      '  - id: hourly',
      '    uses: sql',
      '    with: { query: "SELECT 1 AS x" }',
      '  - id: summary',
      '    uses: report',
      '    with:',
      `      title: "Week of {{ run.scheduled_for | date: 'yyyy-MM-dd' }}"`,
      '      metrics: { m: { dataset: hourly, column: x } }',
      '      template: |',
      ...template.map((line) => `        ${line}`),
      '',
    ].join('\n');

  it('accepts helper tags in the template and orders the report after the datasets it shows', () => {
    const result = validatePipeline(
      lines(['# {{ report.title }}', '{% table hourly, max_rows: 5 %}', '{% metric m %}']),
      file,
      registry,
    );
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    assert.deepEqual(result.plan.byId.get('summary')?.dependsOn, ['hourly']);
  });

  it('reports a template syntax error with the line inside the template, and a misspelt dataset', () => {
    const result = validatePipeline(
      lines(['# Title', '', '{% if params.x %}', 'never closed']),
      file,
      registry,
    );
    assert.equal(result.ok, false);
    const issues = result.ok ? [] : result.issues;
    assert.deepEqual(
      issues.map((issue) => [issue.location.line, issue.path]),
      [[11, 'steps[1].with.template']],
    );
    assert.match(issues[0]?.message ?? '', /Template does not parse: .*\(template line 3, column 1\)/);

    const typo = validatePipeline(lines(['{% table hourli %}']), file, registry);
    const typoIssues = typo.ok ? [] : typo.issues;
    assert.deepEqual(
      typoIssues.map((issue) => [issue.code, issue.message, issue.hint]),
      [
        [
          'PW_SPEC_UNKNOWN_STEP_REF',
          "Step 'summary' reads dataset 'hourli', but no step has that id",
          "did you mean 'hourly'?",
        ],
      ],
    );
  });
});
