import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StepRegistry } from '../../steps/registry.js';
import { parseDuration } from '../duration.js';
import {
  firstDifference,
  pipelineJsonSchema,
  projectJsonSchema,
  serializeSchema,
  type JsonObject,
} from './json-schema.js';
import { fakeRegistry } from './fake-steps.fixture.js';
import { builtinRegistry } from '../../steps/builtin.js';

/** Fails when a checked-in schema file no longer matches what the zod schemas generate. */
function assertSchemaFileMatches(relativePath: string, expected: JsonObject): void {
  // Compiled tests live in dist/src/core/spec/, four levels below the repository root.
  const file = new URL(`../../../../${relativePath}`, import.meta.url);
  const checkedIn: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const difference = firstDifference(expected, checkedIn);
  assert.equal(
    difference,
    undefined,
    `${relativePath} is out of date (${difference}); regenerate it with serializeSchema() from src/core/spec/json-schema.ts`,
  );
}

const at = (node: unknown, ...keys: (string | number)[]): unknown =>
  keys.reduce<unknown>(
    (current, key) => (current as Record<string | number, unknown> | undefined)?.[key],
    node,
  );

test('schema/project.schema.json matches projectJsonSchema()', () => {
  assertSchemaFileMatches('schema/project.schema.json', projectJsonSchema());
});

test('schema/pipeline.schema.json matches pipelineJsonSchema() of the built-in steps', () => {
  assertSchemaFileMatches('schema/pipeline.schema.json', pipelineJsonSchema(builtinRegistry()));
});

test('the project schema has an id and title and keeps defaulted fields optional', () => {
  const schema = projectJsonSchema();
  assert.equal(schema['$id'], 'urn:pipewright:schema:project.schema.json');
  assert.equal(schema['title'], 'Pipewright project (pipewright.yaml)');
  assert.equal(schema['$schema'], 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(schema['required'], undefined);
  assert.equal(at(schema, 'properties', 'timezone', 'default'), 'UTC');
});

test('each step type types its own with: block', () => {
  const schema = pipelineJsonSchema(fakeRegistry());
  const step = at(schema, 'properties', 'steps', 'items');
  assert.deepEqual(at(step, 'properties', 'uses', 'anyOf'), [
    { enum: ['./steps/custom.js', 'check', 'files.read', 'sql'] },
    {
      type: 'string',
      pattern: '^\\.\\.?/',
      description: 'A step module of your own, relative to the project folder.',
    },
  ]);
  const rules = at(step, 'allOf') as unknown[];
  assert.equal(rules.length, 4);
  assert.deepEqual(rules[2], {
    if: { properties: { uses: { const: 'files.read' } }, required: ['uses'] },
    then: { properties: { with: { $ref: '#/$defs/step.files.read' } }, required: ['with'] },
  });
  assert.deepEqual(at(schema, '$defs', 'step.files.read'), {
    type: 'object',
    properties: {
      path: { type: 'string' },
      format: { default: 'csv', type: 'string', enum: ['csv', 'json'] },
    },
    required: ['path'],
    additionalProperties: false,
    description: 'Reads a file into a dataset.',
  });
  // A path-like type is escaped in the JSON pointer.
  assert.deepEqual(at(rules[0], 'then', 'properties', 'with', '$ref'), '#/$defs/step..~1steps~1custom.js');
  assert.ok(at(schema, '$defs', 'step../steps/custom.js'));
});

test('fields with defaults are optional and durations carry a pattern that agrees with parseDuration', () => {
  const schema = pipelineJsonSchema(fakeRegistry());
  const retries = at(schema, 'properties', 'retries');
  assert.deepEqual(at(retries, 'required'), ['attempts']);
  const pattern = new RegExp(at(retries, 'properties', 'delay', 'pattern') as string);
  for (const text of [
    '500ms',
    '10s',
    '1h30m',
    '1.5h',
    '8d',
    '2w',
    '30',
    '5 minutes',
    '1h 30m',
    '10sec',
    'soon',
  ]) {
    assert.equal(pattern.test(text), parseDuration(text) !== undefined, text);
  }
  assert.equal(at(schema, 'properties', 'timeout', 'pattern'), at(retries, 'properties', 'delay', 'pattern'));
  assert.equal(
    at(schema, '$defs', 'step.check', 'properties', 'wait', 'pattern'),
    at(retries, 'properties', 'delay', 'pattern'),
  );
});

test('with no registered types, uses accepts module paths and with: stays open', () => {
  const schema = pipelineJsonSchema(new StepRegistry());
  const step = at(schema, 'properties', 'steps', 'items');
  assert.equal(at(step, 'allOf'), undefined);
  assert.equal((at(step, 'properties', 'uses', 'anyOf') as unknown[]).length, 1);
  assert.equal(schema['$id'], 'urn:pipewright:schema:pipeline.schema.json');
  assert.equal(schema['title'], 'Pipewright pipeline');
});

test('generation is deterministic and serialises with a trailing newline', () => {
  const first = serializeSchema(pipelineJsonSchema(fakeRegistry()));
  assert.equal(first, serializeSchema(pipelineJsonSchema(fakeRegistry())));
  assert.ok(first.endsWith('}\n'));
});

test('firstDifference names the first differing path', () => {
  assert.equal(firstDifference({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), undefined);
  assert.equal(firstDifference({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] }), '$.a[1].b: expected 2, found 3');
  assert.equal(firstDifference({ a: 1 }, { a: 1, extra: true }), '$.extra: expected undefined, found true');
  assert.equal(firstDifference({ a: [] }, { a: {} }), '$.a: expected an array');
});
