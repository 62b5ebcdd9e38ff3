import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpecError, type SpecIssue } from '../errors/pw-error.js';
import { parsePipeline, validatePipeline, type ValidateOptions } from './validate.js';
import { fakeRegistry } from './fake-steps.fixture.js';
import { builtinRegistry } from '../../steps/builtin.js';

const FILE = 'pipelines/daily.yaml';

function issuesOf(lines: string[], options: ValidateOptions = {}): SpecIssue[] {
  const result = validatePipeline(lines.join('\n') + '\n', FILE, fakeRegistry(), options);
  assert.equal(result.ok, false, 'expected the pipeline to be invalid');
  return result.ok ? [] : result.issues;
}

/** `line:column code path` — compact enough to assert a whole report at once. */
function summary(issues: SpecIssue[]): string[] {
  return issues.map((issue) => `${issue.location.line}:${issue.location.column} ${issue.code} ${issue.path}`);
}

const VALID = [
  'id: daily',
  'schedule:',
  '  cron: "0 7 * * 1"',
  '  timezone: Europe/Berlin',
  'params:',
  '  day: { type: date, default: "2024-02-29" }',
  '  mode: { enum: [fast, slow], default: fast }',
  'retries: { attempts: 3 }',
  'timeout: 1h30m',
  'steps:',
  '  - id: report',
  '    uses: sql',
  '    with: { query: select * from raw }',
  '  - id: raw',
  '    uses: files.read',
  '    timeout: 10m',
  '    with:',
  '      path: data/in.csv',
  '  - id: notify',
  '    uses: ./steps/notify.js',
  '    needs: [report]',
];

test('a valid pipeline gives the spec with defaults, the plan and a locator', () => {
  const result = validatePipeline(VALID.join('\n'), FILE, fakeRegistry(), { expectedId: 'daily' });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  assert.equal(result.spec.id, 'daily');
  assert.deepEqual(result.spec.retries, { attempts: 3, backoff: 'exponential', delay: '10s' });
  assert.equal(result.spec.schedule?.catchup, 'latest');
  assert.deepEqual(
    result.plan.nodes.map((node) => [node.id, node.dependsOn]),
    [
      ['raw', []],
      ['report', ['raw']],
      ['notify', ['report']],
    ],
  );
  assert.deepEqual(result.plan.byId.get('raw')?.config, { path: 'data/in.csv', format: 'csv' });
  assert.deepEqual(result.locate(['steps', 1]), { file: FILE, line: 14, column: 5 });
  assert.ok(Object.isFrozen(result.spec) && Object.isFrozen(result.spec.steps[0]));
});

test('malformed YAML is reported at its exact line and column, and nothing else is checked', () => {
  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    "    with: { path: 'in.csv }",
  ]);
  assert.deepEqual(summary(issues), ['5:19 PW_YAML_SYNTAX ']);
  assert.equal(issues[0]?.message, "Missing closing 'quote");
});

test('unknown fields get a did-you-mean hint among the allowed keys', () => {
  const issues = issuesOf([
    'id: daily',
    'shedule: { cron: "0 7 * * *" }',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    need: [x]',
    '    with: { pth: in.csv }',
    '  - id: other',
    '    uses: files.read',
    '    with: { path: x, colour: red }',
  ]);
  assert.deepEqual(summary(issues), [
    '2:1 PW_SPEC_UNKNOWN_FIELD shedule',
    '6:5 PW_SPEC_UNKNOWN_FIELD steps[0].need',
    '7:5 PW_SPEC_TYPE steps[0].with.path',
    '7:13 PW_SPEC_UNKNOWN_FIELD steps[0].with.pth',
    '10:22 PW_SPEC_UNKNOWN_FIELD steps[1].with.colour',
  ]);
  assert.equal(issues[0]?.message, "Unknown field 'shedule' in the document");
  assert.equal(issues[0]?.hint, "did you mean 'schedule'?");
  assert.equal(issues[1]?.hint, "did you mean 'needs'?");
  assert.equal(issues[2]?.message, "Missing required field 'path' in steps[0].with");
  assert.equal(issues[3]?.hint, "did you mean 'path'?");
  assert.equal(issues[4]?.expected, "one of 'path' or 'format'");
  assert.equal(issues[4]?.hint, "Remove it; the accepted fields are 'path' and 'format'.");
});

test('wrong types name what was expected and what was found', () => {
  const issues = issuesOf([
    'id: daily',
    'concurrency: "4"',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: 42, format: xlsx }',
    '    needs: raw',
  ]);
  assert.deepEqual(summary(issues), [
    '2:14 PW_SPEC_TYPE concurrency',
    '6:19 PW_SPEC_TYPE steps[0].with.path',
    '6:31 PW_SPEC_TYPE steps[0].with.format',
    '7:12 PW_SPEC_TYPE steps[0].needs',
  ]);
  assert.deepEqual(
    [issues[0]?.expected, issues[0]?.found, issues[0]?.hint],
    ['a number', "the text '4'", 'Remove the quotes around "4".'],
  );
  assert.deepEqual([issues[1]?.expected, issues[1]?.found], ['a string', 'the number 42']);
  assert.deepEqual([issues[2]?.expected, issues[2]?.found], ["one of 'csv' or 'json'", "the text 'xlsx'"]);
  assert.deepEqual([issues[3]?.expected, issues[3]?.found], ['a list', "the text 'raw'"]);
});

test('a missing required field points at the object that lacks it', () => {
  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: raw',
    '  - uses: files.read',
    '    with: { path: x }',
  ]);
  assert.deepEqual(summary(issues), ['3:5 PW_SPEC_TYPE steps[0].uses', '4:5 PW_SPEC_TYPE steps[1].id']);
  assert.equal(issues[0]?.message, "Missing required field 'uses' in steps[0]");
  assert.equal(issues[0]?.hint, 'Add `uses:` with a string.');
});

test('a missing with: block validates as an empty config', () => {
  const issues = issuesOf(['id: daily', 'steps:', '  - id: raw', '    uses: files.read']);
  assert.deepEqual(summary(issues), ['3:5 PW_SPEC_TYPE steps[0].with.path']);
  assert.equal(issues[0]?.hint, 'Add a `with:` block with `path:` (a string).');
});

test('an unknown step type suggests the closest registered type', () => {
  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: raw',
    '    uses: file.read',
    '    with: { path: x }',
  ]);
  assert.deepEqual(summary(issues), ['4:11 PW_SPEC_UNKNOWN_STEP_TYPE steps[0].uses']);
  assert.equal(issues[0]?.message, "Unknown step type 'file.read'");
  assert.equal(issues[0]?.hint, "did you mean 'files.read'?");
  assert.equal(issues[0]?.found, "'file.read'");

  const far = issuesOf(['id: daily', 'steps:', '  - id: raw', '    uses: mongo.find']);
  assert.equal(far[0]?.hint, 'Available step types: ./steps/custom.js, check, files.read, sql.');
  const path = issuesOf(['id: daily', 'steps:', '  - id: raw', '    uses: steps/mine.js']);
  assert.match(path[0]?.hint ?? '', /'\.\/steps\/mine\.js'/);
});

test('user modules are accepted as they are, and validated when the loader registered them', () => {
  const unknownModule = validatePipeline(
    [
      'id: daily',
      'steps:',
      '  - id: a',
      '    uses: ./steps/other.js',
      '    with: { anything: 1 }',
      '  - id: b',
      '    uses: ../shared/x.js',
    ].join('\n'),
    FILE,
    fakeRegistry(),
  );
  assert.equal(unknownModule.ok, true);

  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: a',
    '    uses: ./steps/custom.js',
    '    with: { level: high }',
  ]);
  assert.deepEqual(summary(issues), ['5:20 PW_SPEC_TYPE steps[0].with.level']);
});

test('duplicate step ids point at the second one and name the line of the first', () => {
  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: a }',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: b }',
  ]);
  assert.deepEqual(summary(issues), ['6:9 PW_SPEC_DUPLICATE_STEP steps[1].id']);
  assert.equal(issues[0]?.message, "Step id 'raw' is already used by the step on line 3");
});

test('needs and dataset inputs naming unknown steps are reported with a suggestion', () => {
  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: a }',
    '  - id: clean',
    '    uses: check',
    '    needs: [raw, rwa]',
    '    with:',
    '      dataset: sales',
  ]);
  assert.deepEqual(summary(issues), [
    '8:18 PW_SPEC_UNKNOWN_STEP_REF steps[1].needs[1]',
    '10:16 PW_SPEC_UNKNOWN_STEP_REF steps[1].with.dataset',
  ]);
  assert.equal(issues[0]?.message, "Step 'clean' needs 'rwa', but no step has that id");
  assert.equal(issues[0]?.hint, "did you mean 'raw'?");
  assert.equal(issues[1]?.message, "Step 'clean' reads dataset 'sales', but no step has that id");
  assert.equal(issues[1]?.expected, "one of 'raw'");
});

test('cycles name the steps in order and say why each depends on the next', () => {
  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: a',
    '    uses: sql',
    '    needs: [c]',
    '    with: { query: select 1 }',
    '  - id: b',
    '    uses: sql',
    '    with: { query: select * from a }',
    '  - id: c',
    '    uses: sql',
    '    needs: [b]',
    '    with: { query: select 2 }',
    '  - id: d',
    '    uses: sql',
    '    needs: [d]',
    '    with: { query: select 3 }',
  ]);
  assert.deepEqual(summary(issues), [
    '5:13 PW_SPEC_CYCLE steps[0].needs[0]',
    '16:13 PW_SPEC_CYCLE steps[3].needs[0]',
  ]);
  assert.equal(issues[0]?.message, 'Steps depend on each other in a cycle: a → c → b → a');
  assert.equal(
    issues[0]?.hint,
    'a needs c, c needs b, b reads a; remove one of these dependencies so that the steps can run in order.',
  );
  assert.equal(issues[1]?.message, 'Steps depend on each other in a cycle: d → d');
});

test('a cycle made only of inferred inputs points into the with: block', () => {
  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: a',
    '    uses: sql',
    '    with: { query: select * from b }',
    '  - id: b',
    '    uses: sql',
    '    with: { query: select * from a }',
  ]);
  assert.deepEqual(summary(issues), ['5:20 PW_SPEC_CYCLE steps[0].with.query']);
  assert.equal(issues[0]?.message, 'Steps depend on each other in a cycle: a → b → a');
});

test('invalid cron expressions and time zones are reported', () => {
  const issues = issuesOf([
    'id: daily',
    'timezone: Europe/Berln',
    'schedule:',
    '  cron: "0 25 * * *"',
    '  timezone: Mars/Olympus',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: a }',
  ]);
  assert.deepEqual(summary(issues), [
    '2:11 PW_SPEC_TIMEZONE timezone',
    '4:9 PW_SPEC_CRON schedule.cron',
    '5:13 PW_SPEC_TIMEZONE schedule.timezone',
  ]);
  assert.equal(issues[0]?.hint, "did you mean 'Europe/Berlin'?");
  assert.equal(issues[1]?.message, "Invalid cron expression '0 25 * * *': Invalid value for hour: 25");
  assert.equal(issues[2]?.message, "Unknown time zone 'Mars/Olympus'");

  const never = issuesOf([
    'id: daily',
    'schedule: { cron: "0 0 30 2 *" }',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: a }',
  ]);
  assert.deepEqual(summary(never), ['2:19 PW_SPEC_CRON schedule.cron']);
  assert.equal(never[0]?.message, "Cron expression '0 0 30 2 *' never matches a date");

  const fields = issuesOf([
    'id: daily',
    'schedule: { cron: "0 7 * *" }',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: a }',
  ]);
  assert.match(fields[0]?.message ?? '', /exactly five, six, or seven/);
});

test('bad durations are reported in every duration field with a rewrite hint', () => {
  const issues = issuesOf([
    'id: daily',
    'timeout: 30',
    'retries: { attempts: 2, delay: 5 minutes, max_delay: 1h 30m }',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    timeout: "30"',
    '    retries: { attempts: 2, delay: soon }',
    '    with: { path: a }',
    '  - id: check_raw',
    '    uses: check',
    '    with: { dataset: raw, wait: 2 hours }',
  ]);
  assert.deepEqual(summary(issues), [
    '2:10 PW_SPEC_DURATION timeout',
    '3:32 PW_SPEC_DURATION retries.delay',
    '3:54 PW_SPEC_DURATION retries.max_delay',
    '7:14 PW_SPEC_DURATION steps[0].timeout',
    '8:36 PW_SPEC_DURATION steps[0].retries.delay',
    '12:33 PW_SPEC_DURATION steps[1].with.wait',
  ]);
  assert.deepEqual(
    issues.map((issue) => issue.hint),
    [
      'A bare number is ambiguous; write 30s for seconds or 30m for minutes.',
      'Write 5m.',
      'Write 1h30m.',
      'A bare number is ambiguous; write 30s for seconds or 30m for minutes.',
      'Write a number followed by a unit (ms, s, m, h, d or w), e.g. 30s, 10m or 1h30m.',
      'Write 2h.',
    ],
  );
  assert.equal(issues[0]?.found, 'the number 30');
  assert.equal(issues[1]?.found, "the text '5 minutes'");
});

test('parameter defaults must match the parameter type and enum', () => {
  const issues = issuesOf([
    'id: daily',
    'params:',
    '  day: { type: date, default: 2023-02-29 }',
    '  limit: { type: integer, default: "10" }',
    '  ratio: { type: number, default: true }',
    '  mode: { enum: [fast, slow], default: fsat }',
    '  level: { type: integer, enum: [1, two] }',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: a }',
  ]);
  assert.deepEqual(summary(issues), [
    '3:31 PW_SPEC_TYPE params.day.default',
    '4:36 PW_SPEC_TYPE params.limit.default',
    '5:35 PW_SPEC_TYPE params.ratio.default',
    '6:40 PW_SPEC_TYPE params.mode.default',
    '7:37 PW_SPEC_TYPE params.level.enum[1]',
  ]);
  assert.equal(issues[0]?.message, "Default of parameter 'day' does not match its type date");
  assert.equal(issues[1]?.hint, 'Remove the quotes around "10" so that YAML reads it as a whole number.');
  assert.equal(issues[3]?.message, "Default of parameter 'mode' is not one of its allowed values");
  assert.equal(issues[3]?.hint, "did you mean 'fast'?");
});

test('the pipeline id must match the file name', () => {
  const issues = issuesOf(
    ['id: weekly', 'steps:', '  - id: raw', '    uses: files.read', '    with: { path: a }'],
    { expectedId: 'daily' },
  );
  assert.deepEqual(summary(issues), ['1:5 PW_SPEC_ID_MISMATCH id']);
  assert.equal(issues[0]?.hint, "Change the id to 'daily', or rename the file to weekly.yaml.");
});

test('an empty file and a file that is not a mapping get one clear issue', () => {
  assert.deepEqual(summary(issuesOf(['# nothing yet'])), ['1:1 PW_SPEC_TYPE ']);
  const list = issuesOf(['- id: a', '- id: b']);
  assert.deepEqual(summary(list), ['1:1 PW_SPEC_TYPE ']);
  assert.equal(list[0]?.expected, 'a mapping (key: value pairs)');
});

test('many problems in one file are all reported at once, in line order', () => {
  const issues = issuesOf(
    [
      'id: weekly', // 1
      'schedule:', // 2
      '  cron: "61 * * * *"', // 3
      '  timezone: Europe/Paris', // 4
      'timeout: 5 minutes', // 5
      'steps:', // 6
      '  - id: raw', // 7
      '    uses: file.read', // 8
      '    with: { path: a }', // 9
      '  - id: clean', // 10
      '    uses: sql', // 11
      '    needs: [raw, missing]', // 12
      '    with: { query: select * from raw, limit: 3 }', // 13
      '  - id: raw', // 14
      '    uses: files.read', // 15
      '    with: { path: b }', // 16
      '    color: blue', // 17
    ],
    { expectedId: 'daily' },
  );
  assert.deepEqual(summary(issues), [
    '1:5 PW_SPEC_ID_MISMATCH id',
    '3:9 PW_SPEC_CRON schedule.cron',
    '5:10 PW_SPEC_DURATION timeout',
    '8:11 PW_SPEC_UNKNOWN_STEP_TYPE steps[0].uses',
    '12:18 PW_SPEC_UNKNOWN_STEP_REF steps[1].needs[1]',
    '13:39 PW_SPEC_UNKNOWN_FIELD steps[1].with.limit',
    '14:9 PW_SPEC_DUPLICATE_STEP steps[2].id',
    '17:5 PW_SPEC_UNKNOWN_FIELD steps[2].color',
  ]);
  for (const issue of issues) {
    assert.equal(issue.location.file, FILE);
    assert.ok(issue.message.length > 0 && issue.hint !== undefined, `${issue.code} has a message and a hint`);
  }
});

test('parsePipeline returns the valid pipeline or throws a SpecError with every issue', () => {
  const valid = parsePipeline(VALID.join('\n'), FILE, fakeRegistry());
  assert.equal(valid.spec.id, 'daily');
  assert.equal(valid.plan.nodes.length, 3);
  assert.throws(
    () =>
      parsePipeline(
        'id: daily\nsteps:\n  - id: a\n    uses: nope\n  - id: a\n    uses: sql\n',
        FILE,
        fakeRegistry(),
      ),
    (error: unknown) => {
      assert.ok(error instanceof SpecError);
      assert.equal(error.code, 'PW_SPEC_INVALID');
      assert.deepEqual(summary([...error.issues]), [
        '4:11 PW_SPEC_UNKNOWN_STEP_TYPE steps[0].uses',
        // The missing `with:` block is reported at the step itself.
        '5:5 PW_SPEC_TYPE steps[1].with.query',
        '5:9 PW_SPEC_DUPLICATE_STEP steps[1].id',
      ]);
      return true;
    },
  );
});

test('values of secret-looking fields are not echoed back', () => {
  const issues = issuesOf([
    'id: daily',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    with: { path: a, password: hunter2 }',
  ]);
  assert.deepEqual(summary(issues), ['5:22 PW_SPEC_UNKNOWN_FIELD steps[0].with.password']);
  assert.ok(!JSON.stringify(issues).includes('hunter2'));
});

test('duplicate YAML keys are reported together with the schema problems of the rest of the file', () => {
  const issues = issuesOf([
    'id: daily',
    'timeout: 30',
    'steps:',
    '  - id: raw',
    '    uses: files.read',
    '    uses: files.read',
    '    with: { path: a }',
  ]);
  assert.deepEqual(summary(issues), ['2:10 PW_SPEC_DURATION timeout', '6:5 PW_YAML_SYNTAX ']);
  assert.equal(issues[1]?.message, "Duplicate key 'uses' (first defined on line 5)");
});

test('a list entry that may be a name or a mapping: the mapping branch reports its own problem', () => {
  // `datasets` of the report step takes ids or { id, totals, … }; the problem is inside the mapping,
  // so "expected a string" would send the author the wrong way.
  const result = validatePipeline(
    [
      'id: daily',
      'steps:',
      '  - id: hourly',
      '    uses: sql',
      '    with: { query: select 1 AS n }',
      '  - id: report',
      '    uses: report',
      '    with:',
      '      datasets:',
      '        - { id: hourly, totals: "n:sum" }',
    ].join('\n'),
    FILE,
    builtinRegistry(),
  );
  assert.equal(result.ok, false);
  const issues = result.ok ? [] : result.issues;
  assert.deepEqual(summary(issues), ['10:33 PW_SPEC_TYPE steps[1].with.datasets[0].totals']);
  assert.equal(issues[0]?.expected, 'a mapping (key: value pairs)');
});
