/**
 * The published JSON Schemas (`schema/*.schema.json`), generated from the zod schemas so that editor
 * completion and validation can never disagree with Pipewright itself. Each step's `with:` block is
 * typed by its own step type through `if uses == T then with: <T's schema>`, which editors such as
 * VS Code (YAML extension) understand. Generated with io: 'input', so fields with defaults stay
 * optional, as they are for someone writing the file.
 */
import { z } from 'zod';
import type { StepRegistry } from '../../steps/registry.js';
import { durationSchema, pipelineSchema } from './pipeline-schema.js';
import { projectSchema } from './project-schema.js';

export type JsonObject = { [key: string]: unknown };

/** Where the schemas are published; `$id`s are built from it. */
export const SCHEMA_BASE_URI = 'urn:pipewright:schema:';

// Mirrors parseDuration closely enough for an editor; Pipewright itself still parses every value.
const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?(ms|s|m|h|d|w))+\\s*$';
const USER_MODULE_PATTERN = '^\\.\\.?/';

function toJson(schema: z.ZodType): JsonObject {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    override: (context) => {
      if (context.zodSchema === durationSchema) context.jsonSchema.pattern = DURATION_PATTERN;
    },
  }) as JsonObject;
  return json;
}

function objectAt(root: JsonObject, ...keys: string[]): JsonObject {
  let node: unknown = root;
  for (const key of keys) node = (node as JsonObject | undefined)?.[key];
  if (node === null || typeof node !== 'object') {
    throw new Error(`Generated schema has no object at ${keys.join('.')}; has the zod schema shape changed?`);
  }
  return node as JsonObject;
}

function withHeader(name: string, title: string, body: JsonObject): JsonObject {
  const { $schema, ...rest } = body;
  return { $schema, $id: `${SCHEMA_BASE_URI}${name}.schema.json`, title, ...rest };
}

function pointerEscape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The JSON Schema of a step type's `with:` block. */
function stepConfigSchema(type: string, registry: StepRegistry): JsonObject {
  const definition = registry.get(type)!;
  const { $schema: _ignored, ...schema } = toJson(definition.config);
  // A config with its own $defs keeps its internal references valid under a base of its own.
  if ('$defs' in schema) schema['$id'] = `${SCHEMA_BASE_URI}steps/${encodeURIComponent(type)}.schema.json`;
  schema['description'] ??= definition.description;
  return schema;
}

export function pipelineJsonSchema(registry: StepRegistry): JsonObject {
  const root = toJson(pipelineSchema);
  const step = objectAt(root, 'properties', 'steps', 'items');
  const properties = objectAt(step, 'properties');
  const types = registry.types();

  const uses = objectAt(properties, 'uses');
  const { type: _string, ...usesRest } = uses;
  const userModule = {
    type: 'string',
    pattern: USER_MODULE_PATTERN,
    description: 'A step module of your own, relative to the project folder.',
  };
  properties['uses'] = {
    ...usesRest,
    anyOf: types.length > 0 ? [{ enum: types }, userModule] : [userModule],
  };

  if (types.length > 0) {
    const defs: JsonObject = {};
    step['allOf'] = types.map((type) => {
      const config = stepConfigSchema(type, registry);
      defs[`step.${type}`] = config;
      const needsWith = Array.isArray(config['required']) && config['required'].length > 0;
      return {
        if: { properties: { uses: { const: type } }, required: ['uses'] },
        then: {
          properties: { with: { $ref: `#/$defs/${pointerEscape(`step.${type}`)}` } },
          ...(needsWith ? { required: ['with'] } : {}),
        },
      };
    });
    root['$defs'] = { ...((root['$defs'] as JsonObject | undefined) ?? {}), ...defs };
  }
  return withHeader('pipeline', 'Pipewright pipeline', root);
}

export function projectJsonSchema(): JsonObject {
  return withHeader('project', 'Pipewright project (pipewright.yaml)', toJson(projectSchema));
}

/** The text written to schema/*.schema.json. */
export function serializeSchema(schema: JsonObject): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/**
 * The first place where two JSON values differ, as `$.properties.steps…`, or undefined when equal.
 * Used by the drift tests; comparing parsed JSON keeps them indifferent to formatting.
 */
export function firstDifference(expected: unknown, actual: unknown, at = '$'): string | undefined {
  if (Object.is(expected, actual)) return undefined;
  if (typeof expected !== 'object' || typeof actual !== 'object' || expected === null || actual === null) {
    return `${at}: expected ${JSON.stringify(expected)}, found ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(expected) !== Array.isArray(actual))
    return `${at}: expected ${Array.isArray(expected) ? 'an array' : 'an object'}`;
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const key of keys) {
    const next = Array.isArray(expected) ? `${at}[${key}]` : `${at}.${key}`;
    const difference = firstDifference((expected as JsonObject)[key], (actual as JsonObject)[key], next);
    if (difference !== undefined) return difference;
  }
  return undefined;
}
