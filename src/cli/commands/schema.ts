/** `pipewright schema`: the JSON Schema of pipeline files (or pipewright.yaml) for editors. */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { pipelineJsonSchema, projectJsonSchema } from '../../core/spec/json-schema.js';
import { builtinRegistry } from '../../steps/builtin.js';

export async function schemaCommand(
  _globals: GlobalOptions,
  options: { for: 'pipeline' | 'project' },
): Promise<number> {
  const schema = options.for === 'project' ? projectJsonSchema() : pipelineJsonSchema(builtinRegistry());
  process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
  return Promise.resolve(EXIT.ok);
}
