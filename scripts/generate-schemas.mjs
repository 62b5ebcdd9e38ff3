// Regenerates schema/*.schema.json from the zod schemas (run after `npm run build`).
// A test fails when the checked-in files drift from what the code would generate.
import { writeFileSync } from 'node:fs';
import { pipelineJsonSchema, projectJsonSchema, serializeSchema } from '../dist/src/core/spec/json-schema.js';
import { builtinRegistry } from '../dist/src/steps/builtin.js';

writeFileSync('schema/pipeline.schema.json', serializeSchema(pipelineJsonSchema(builtinRegistry())));
writeFileSync('schema/project.schema.json', serializeSchema(projectJsonSchema()));
console.log('schema/pipeline.schema.json and schema/project.schema.json written');
