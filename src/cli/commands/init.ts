/**
 * `pipewright init <dir>`: a new project with the demo pipelines, realistic sample data, a
 * user-written step example and the JSON Schemas for editor completion.
 */
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { EXIT } from '../exit-codes.js';
import { PwError } from '../../core/errors/pw-error.js';
import { PACKAGE_ROOT } from '../../package-root.js';
import { pipelineJsonSchema, projectJsonSchema } from '../../core/spec/json-schema.js';
import { builtinRegistry } from '../../steps/builtin.js';

export async function createProject(dir: string): Promise<string> {
  const target = resolve(dir);
  const existing = await readdir(target).catch(() => []);
  if (existing.length > 0) {
    throw new PwError('PW_USAGE', `${target} is not empty`, {
      hint: 'Choose a new folder name; init never overwrites files.',
    });
  }
  await cp(join(PACKAGE_ROOT, 'templates', 'demo'), target, {
    recursive: true,
    errorOnExist: true,
    force: false,
  });
  await mkdir(join(target, '.pipewright'), { recursive: true });
  await writeFile(
    join(target, '.pipewright', 'pipeline.schema.json'),
    `${JSON.stringify(pipelineJsonSchema(builtinRegistry()), null, 2)}\n`,
  );
  await writeFile(
    join(target, '.pipewright', 'project.schema.json'),
    `${JSON.stringify(projectJsonSchema(), null, 2)}\n`,
  );
  return target;
}

export async function initCommand(dir: string): Promise<number> {
  const target = await createProject(dir);
  const shown = relative(process.cwd(), target) || '.';
  process.stdout.write(
    [
      `Created a Pipewright project in ${shown}`,
      '',
      'Next:',
      `  cd ${shown}`,
      '  pipewright validate',
      '  pipewright run weekly-temperature',
      '  pipewright runs',
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}
