import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validatePipeline } from './validate.js';
import { fakeRegistry } from './fake-steps.fixture.js';

const FILE = 'pipelines/daily.yaml';

function validate(lines: string[]) {
  return validatePipeline(`${lines.join('\n')}\n`, FILE, fakeRegistry(), { expectedId: 'daily' });
}

const HEAD = [
  'id: daily',
  'params:',
  '  low: { type: number, default: 25 }',
  'steps:',
  '  - id: raw',
  '    uses: files.read',
  '    with: { path: data/in.csv }',
];

test('a template syntax error is reported by validation with its field', () => {
  const result = validate([
    ...HEAD,
    '  - id: out',
    '    uses: files.read',
    '    with: { path: "out/{{ run.id " }',
  ]);
  assert.equal(result.ok, false);
  const issues = result.ok ? [] : result.issues;
  assert.deepEqual(
    issues.map((issue) => [issue.code, issue.path, issue.location.line]),
    [['PW_SPEC_TEMPLATE', 'steps[1].with.path', 10]],
  );
});

test('unknown roots, undeclared params and unknown steps in templates are reported with hints', () => {
  const result = validate([
    ...HEAD,
    '  - id: out',
    '    uses: files.read',
    '    with:',
    '      path: "out/{{ parms.low }}-{{ params.lwo }}-{{ steps.rw.rows }}.csv"',
  ]);
  const issues = result.ok ? [] : result.issues;
  const byMessage = issues.map((issue) => [issue.code, issue.hint]);
  assert.deepEqual(byMessage, [
    ['PW_TEMPLATE_UNKNOWN_VARIABLE', "did you mean 'params'?"],
    ['PW_TEMPLATE_UNKNOWN_VARIABLE', "did you mean 'low'?"],
    ['PW_SPEC_UNKNOWN_STEP_REF', "did you mean 'raw'?"],
  ]);
  assert.ok(issues.every((issue) => issue.path === 'steps[1].with.path' && issue.location.line === 11));
});

test('a template that reads steps.<id> makes the step depend on it, whatever the file order', () => {
  const result = validate([
    'id: daily',
    'steps:',
    '  - id: report',
    '    uses: files.read',
    '    with: { path: "out/{{ steps.raw.rows }}.csv" }',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: data/in.csv }',
  ]);
  assert.ok(result.ok, JSON.stringify(result.ok ? '' : result.issues));
  assert.deepEqual(
    result.plan.nodes.map((node) => [node.id, node.dependsOn]),
    [
      ['raw', []],
      ['report', ['raw']],
    ],
  );
});

test('valid templates over params, run and steps pass', () => {
  const result = validate([
    ...HEAD,
    '  - id: out',
    '    uses: files.read',
    '    with: { path: "out/{{ run.scheduled_for | date: \'yyyyMMdd\' }}-{{ params.low }}-{{ steps.raw.rows }}.csv" }',
  ]);
  assert.equal(result.ok, true, JSON.stringify(result.ok ? '' : result.issues));
});
