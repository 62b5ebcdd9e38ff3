import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PwError } from '../errors/pw-error.js';
import { pipelineSchema } from './pipeline-schema.js';
import { buildPlan, dependentsOf, findCycles, graphNodes, planFromSteps, readyNodes } from './plan.js';
import { fakeRegistry } from './fake-steps.fixture.js';

const spec = (steps: unknown[]) => pipelineSchema.parse({ id: 'p', steps });

test('orders steps after what they need and after the datasets they read, otherwise in file order', () => {
  const plan = buildPlan(
    spec([
      { id: 'report', uses: 'sql', with: { query: 'select * from clean join extra using (k)' } },
      { id: 'clean', uses: 'sql', with: { query: 'select * from raw' } },
      { id: 'raw', uses: 'files.read', with: { path: 'a.csv' } },
      { id: 'extra', uses: 'files.read', with: { path: 'b.csv' } },
      { id: 'notify', uses: './steps/notify.js', needs: ['report'] },
    ]),
    fakeRegistry(),
  );
  assert.deepEqual(
    plan.nodes.map((node) => node.id),
    ['raw', 'clean', 'extra', 'report', 'notify'],
  );
  assert.deepEqual(plan.byId.get('report')?.dependsOn, ['clean', 'extra']);
  assert.deepEqual(plan.byId.get('report')?.inputs, ['clean', 'extra']);
  assert.deepEqual(plan.byId.get('notify')?.needs, ['report']);
  assert.deepEqual(plan.byId.get('raw')?.config, { path: 'a.csv', format: 'csv' });
  assert.equal(plan.byId.get('notify')?.config, undefined);
  assert.equal(plan.byId.get('clean')?.index, 1);
});

test('the same file always gives the same order', () => {
  const steps = [
    { id: 'c', uses: 'files.read', with: { path: 'c' } },
    { id: 'a', uses: 'files.read', with: { path: 'a' } },
    { id: 'b', uses: 'files.read', with: { path: 'b' } },
    { id: 'd', uses: 'sql', with: { query: 'select * from b, a' } },
  ];
  const first = buildPlan(spec(steps), fakeRegistry()).nodes.map((node) => node.id);
  const second = buildPlan(spec(steps), fakeRegistry()).nodes.map((node) => node.id);
  assert.deepEqual(first, ['c', 'a', 'b', 'd']);
  assert.deepEqual(second, first);
  assert.deepEqual(buildPlan(spec(steps), fakeRegistry()).byId.get('d')?.dependsOn, ['a', 'b']);
});

test('dependencies are deduplicated, unknown ids dropped, and a step mentioning itself is not its own input', () => {
  const nodes = graphNodes([
    { id: 'a', uses: 'sql' },
    { id: 'b', uses: 'sql', needs: ['a', 'a', 'ghost'], inputs: ['a', 'b', 'ghost'] },
  ]);
  assert.deepEqual(nodes[1], {
    id: 'b',
    uses: 'sql',
    index: 1,
    needs: ['a'],
    inputs: ['a'],
    dependsOn: ['a'],
    config: undefined,
  });
});

test('a config that does not parse contributes no inferred inputs', () => {
  const plan = buildPlan(
    spec([
      { id: 'raw', uses: 'files.read', with: { path: 'a.csv' } },
      { id: 'clean', uses: 'sql', with: { query: 'select * from raw', extra: true } },
    ]),
    fakeRegistry(),
  );
  assert.deepEqual(plan.byId.get('clean')?.dependsOn, []);
  assert.equal(plan.byId.get('clean')?.config, undefined);
});

test('finds every cycle, written from the earliest step, including self-loops', () => {
  const cycles = findCycles([
    { id: 'a', dependsOn: ['c'] },
    { id: 'b', dependsOn: ['a'] },
    { id: 'c', dependsOn: ['b'] },
    { id: 'd', dependsOn: [] },
    { id: 'e', dependsOn: ['e'] },
    { id: 'f', dependsOn: ['g', 'd'] },
    { id: 'g', dependsOn: ['f'] },
  ]);
  assert.deepEqual(cycles, [
    ['a', 'c', 'b', 'a'],
    ['e', 'e'],
    ['f', 'g', 'f'],
  ]);
});

test('shows the shortest cycle through the earliest step', () => {
  const cycles = findCycles([
    { id: 'a', dependsOn: ['b', 'd'] },
    { id: 'b', dependsOn: ['c'] },
    { id: 'c', dependsOn: ['a'] },
    { id: 'd', dependsOn: ['a'] },
  ]);
  assert.deepEqual(cycles, [['a', 'd', 'a']]);
});

test('an acyclic graph has no cycles', () => {
  assert.deepEqual(
    findCycles([
      { id: 'a', dependsOn: [] },
      { id: 'b', dependsOn: ['a'] },
      { id: 'c', dependsOn: ['a', 'b'] },
    ]),
    [],
  );
});

test('building a plan from a cyclic graph fails with PW_SPEC_CYCLE naming the cycle', () => {
  assert.throws(
    () =>
      planFromSteps([
        { id: 'a', uses: 'sql', needs: ['b'] },
        { id: 'b', uses: 'sql', needs: ['a'] },
      ]),
    (error: unknown) => {
      assert.ok(error instanceof PwError);
      assert.equal(error.code, 'PW_SPEC_CYCLE');
      assert.equal(error.message, 'Steps depend on each other in a cycle: a → b → a');
      return true;
    },
  );
});

test('readyNodes returns what may start now, in plan order', () => {
  const plan = planFromSteps([
    { id: 'a', uses: 'x' },
    { id: 'b', uses: 'x' },
    { id: 'c', uses: 'x', needs: ['a'] },
    { id: 'd', uses: 'x', needs: ['a', 'b'] },
  ]);
  const ids = (done: string[], running: string[]) =>
    readyNodes(plan, new Set(done), new Set(running)).map((node) => node.id);
  assert.deepEqual(ids([], []), ['a', 'b']);
  assert.deepEqual(ids([], ['a']), ['b']);
  assert.deepEqual(ids(['a'], ['b']), ['c']);
  assert.deepEqual(ids(['a', 'b'], []), ['c', 'd']);
  assert.deepEqual(ids(['a', 'b', 'c', 'd'], []), []);
});

test('dependentsOf finds every step downstream of a failure', () => {
  const plan = planFromSteps([
    { id: 'a', uses: 'x' },
    { id: 'b', uses: 'x', needs: ['a'] },
    { id: 'c', uses: 'x', needs: ['b'] },
    { id: 'd', uses: 'x' },
    { id: 'e', uses: 'x', needs: ['d', 'c'] },
  ]);
  assert.deepEqual([...dependentsOf(plan, ['b'])].sort(), ['c', 'e']);
  assert.deepEqual([...dependentsOf(plan, ['d'])], ['e']);
  assert.deepEqual([...dependentsOf(plan, ['e'])], []);
});
