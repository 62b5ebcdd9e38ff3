import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpecError } from '../errors/pw-error.js';
import { parseYaml, readYaml } from './parse-yaml.js';

const SAMPLE = [
  'id: daily', // 1
  'schedule:', // 2
  '  cron: "0 7 * * *"', // 3
  'steps:', // 4
  '  - id: raw', // 5
  '    uses: files.read', // 6
  '    with:', // 7
  '      path: data/in.csv', // 8
  '  - id: clean', // 9
  '    uses: sql', // 10
  '    with: { query: select 1 }', // 11
  '',
].join('\n');

test('returns the plain value', () => {
  const { value } = parseYaml(SAMPLE, 'p.yaml');
  assert.deepEqual(value, {
    id: 'daily',
    schedule: { cron: '0 7 * * *' },
    steps: [
      { id: 'raw', uses: 'files.read', with: { path: 'data/in.csv' } },
      { id: 'clean', uses: 'sql', with: { query: 'select 1' } },
    ],
  });
});

test('locates scalar values at the value, block collections at their key', () => {
  const { locate } = parseYaml(SAMPLE, 'p.yaml');
  assert.deepEqual(locate(['id']), { line: 1, column: 5 });
  assert.deepEqual(locate(['schedule', 'cron']), { line: 3, column: 9 });
  assert.deepEqual(locate(['schedule']), { line: 2, column: 1 });
  assert.deepEqual(locate(['steps', 1]), { line: 9, column: 5 });
  assert.deepEqual(locate(['steps', 0, 'with', 'path']), { line: 8, column: 13 });
  assert.deepEqual(locate(['steps', 0, 'with']), { line: 7, column: 5 });
  // A flow mapping on the key's line is pointed at directly.
  assert.deepEqual(locate(['steps', 1, 'with']), { line: 11, column: 11 });
  assert.deepEqual(locate(['steps', 1, 'with', 'query']), { line: 11, column: 20 });
});

test('locates keys when asked', () => {
  const { locate } = parseYaml(SAMPLE, 'p.yaml');
  assert.deepEqual(locate(['steps', 0, 'with', 'path'], 'key'), { line: 8, column: 7 });
  assert.deepEqual(locate(['steps', 1, 'with', 'query'], 'key'), { line: 11, column: 13 });
});

test('falls back to the nearest existing parent for a missing path', () => {
  const { locate } = parseYaml(SAMPLE, 'p.yaml');
  assert.deepEqual(locate(['steps', 1, 'needs', 0]), { line: 9, column: 5 });
  assert.deepEqual(locate(['schedule', 'timezone']), { line: 2, column: 1 });
  assert.deepEqual(locate(['steps', 7, 'id']), { line: 4, column: 1 });
  assert.deepEqual(locate(['nothing']), { line: 1, column: 1 });
  assert.deepEqual(locate([]), { line: 1, column: 1 });
});

test('follows merge keys to the merged mapping', () => {
  const text = 'base: &base\n  path: a.csv\nuse:\n  <<: *base\n  format: csv\n';
  const { value, locate } = parseYaml(text, 'p.yaml');
  assert.deepEqual(value, { base: { path: 'a.csv' }, use: { path: 'a.csv', format: 'csv' } });
  assert.deepEqual(locate(['use', 'path']), { line: 2, column: 9 });
  assert.deepEqual(locate(['use', 'format']), { line: 5, column: 11 });
});

test('an unclosed quote is reported at the opening quote', () => {
  const text = 'id: daily\nsteps:\n  - id: a\n    uses: "files.read\n  - id: b\n';
  const result = readYaml(text, 'pipelines/daily.yaml');
  assert.equal(result.fatal, true);
  assert.equal(result.issues.length, 1);
  const [issue] = result.issues;
  assert.equal(issue?.code, 'PW_YAML_SYNTAX');
  assert.deepEqual(issue?.location, { file: 'pipelines/daily.yaml', line: 4, column: 11 });
  assert.equal(issue?.message, 'Missing closing "quote');
  assert.match(issue?.hint ?? '', /closing quote/);
});

test('bad indentation is reported where the parser sees it, with an indentation hint', () => {
  // The over-indented `uses` turns `a` into a key with nested content; the parser flags the `a`.
  const text = 'id: daily\nsteps:\n  - id: a\n     uses: sql\n';
  const [issue, ...rest] = readYaml(text, 'p.yaml').issues;
  assert.equal(rest.length, 0);
  assert.equal(issue?.code, 'PW_YAML_SYNTAX');
  assert.deepEqual(issue?.location, { file: 'p.yaml', line: 3, column: 9 });
  assert.match(issue?.hint ?? '', /indentation/);

  const flow = readYaml('id: daily\nsteps: [a, b\nschedule: x\n', 'p.yaml').issues[0];
  assert.deepEqual([flow?.location.line, flow?.location.column], [3, 1]);
  assert.match(flow?.message ?? '', /end with a \]/);
});

test('duplicate keys are errors that name the first occurrence, and keep the value usable', () => {
  const text = 'id: a\nsteps:\n  - id: x\n    uses: sql\n    uses: files.read\nid: b\n';
  const result = readYaml(text, 'p.yaml');
  assert.equal(result.fatal, false);
  assert.deepEqual(
    result.issues.map((issue) => [issue.location.line, issue.location.column, issue.message]),
    [
      [5, 5, "Duplicate key 'uses' (first defined on line 4)"],
      [6, 1, "Duplicate key 'id' (first defined on line 1)"],
    ],
  );
  assert.ok(result.issues.every((issue) => issue.code === 'PW_YAML_SYNTAX'));
});

test('an unquoted cron starting with * gets a quoting hint', () => {
  const text = 'id: a\nschedule:\n  cron: */5 * * * *\n';
  const result = readYaml(text, 'p.yaml');
  assert.equal(result.fatal, true);
  assert.equal(result.issues.length, 1);
  assert.deepEqual(result.issues[0]?.location, { file: 'p.yaml', line: 3, column: 9 });
  assert.equal(result.issues[0]?.message, "Unknown YAML alias '*/5'");
  assert.match(result.issues[0]?.hint ?? '', /quotes/);
});

test('tabs, several documents and custom tags are reported', () => {
  const tabs = readYaml('a:\n\t- x\n', 'p.yaml').issues[0];
  assert.deepEqual([tabs?.location.line, tabs?.location.column], [2, 1]);
  assert.match(tabs?.hint ?? '', /spaces/);

  const docs = readYaml('a: 1\n---\nb: 2\n', 'p.yaml').issues[0];
  assert.equal(docs?.location.line, 2);
  assert.match(docs?.hint ?? '', /---/);

  const tag = readYaml('password: !vault abc\n', 'p.yaml').issues[0];
  assert.equal(tag?.location.line, 1);
  assert.match(tag?.hint ?? '', /env:NAME/);
});

test('parseYaml throws a SpecError carrying the syntax issues', () => {
  assert.throws(
    () => parseYaml('a: [1, 2\n', 'bad.yaml'),
    (error: unknown) => {
      assert.ok(error instanceof SpecError);
      assert.equal(error.issues.length, 1);
      assert.equal(error.issues[0]?.code, 'PW_YAML_SYNTAX');
      assert.equal(error.issues[0]?.location.file, 'bad.yaml');
      assert.equal(error.location?.file, 'bad.yaml');
      return true;
    },
  );
});

test('an empty file parses to null', () => {
  const { value, locate } = parseYaml('# nothing here\n', 'p.yaml');
  assert.equal(value, null);
  assert.deepEqual(locate(['id']), { line: 1, column: 1 });
});
