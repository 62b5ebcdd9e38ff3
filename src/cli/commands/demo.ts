/**
 * `pipewright demo` (what `npm start` runs): creates the demo project when it is missing, runs its
 * weekly-temperature pipeline on embedded defaults and says where the outputs are.
 */
import { access } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { GlobalOptions } from '../main.js';
import { createProject } from './init.js';
import { runCommand } from './run.js';
import { PROJECT_FILE } from '../../project/load-project.js';

export async function demoCommand(globals: GlobalOptions, options: { dir: string }): Promise<number> {
  const dir = resolve(options.dir);
  const exists = await access(join(dir, PROJECT_FILE)).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await createProject(dir);
    process.stdout.write(`Created the demo project in ${relative(process.cwd(), dir) || '.'}\n`);
  }
  const code = await runCommand({ ...globals, project: dir }, 'weekly-temperature', { param: [] });
  const shown = relative(process.cwd(), dir) || '.';
  process.stdout.write(
    `\nThe demo project is ${shown}/: outputs in ${shown}/out/, run history in ${shown}/.pipewright/state.db.\n` +
      `Try: npx pipewright --project ${shown} runs   ·   npx pipewright --project ${shown} run sensor-documents\n`,
  );
  return code;
}
