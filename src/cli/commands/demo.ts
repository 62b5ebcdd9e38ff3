/**
 * `pipewright demo` (what `npm start` runs): creates the demo project when it is missing and serves it
 * on loopback — scheduler, workers, the REST API and the web UI — so its weekly pipelines run once at start-up
 * through `catchup: latest` and then on its schedule. A new demo project also gets an `operate` API
 * token in `.pipewright/demo-token` (readable by its owner only), so the API can be tried at once.
 * `--once` runs the weekly pipeline a single time and exits instead (smoke tests, quick looks).
 */
import { access, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { GlobalOptions } from '../main.js';
import { createProject } from './init.js';
import { PROJECT_FILE } from '../../project/load-project.js';
import { writeAtomically } from '../../engine/atomic-file.js';
import { hashApiToken, newApiToken } from '../../api/tokens.js';
import { withProjectStore } from '../project-session.js';

export const DEMO_TOKEN_FILE = join('.pipewright', 'demo-token');

export interface DemoOptions {
  dir: string;
  once?: boolean;
  port: string;
}

export async function demoCommand(globals: GlobalOptions, options: DemoOptions): Promise<number> {
  const dir = resolve(options.dir);
  const shown = relative(process.cwd(), dir) || '.';
  const project = { ...globals, project: dir };
  const exists = await access(join(dir, PROJECT_FILE)).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await createProject(dir);
    await createDemoToken(project, join(dir, DEMO_TOKEN_FILE));
    process.stdout.write(`Created the demo project in ${shown}/\n`);
  }
  if (options.once === true) {
    const { runCommand } = await import('./run.js');
    const code = await runCommand(project, 'weekly-temperature', { param: [] });
    process.stdout.write(
      `\nThe demo project is ${shown}/: outputs in ${shown}/out/, run history in ${shown}/.pipewright/state.db.\n` +
        `Try: npx pipewright --project ${shown} runs   ·   npx pipewright --project ${shown} run sensor-documents\n`,
    );
    return code;
  }
  process.stdout.write(
    `Serving the demo project ${shown}/ on loopback: weekly-temperature and weekly-sales run once now (catchup: latest), outputs land in ${shown}/out/.\n`,
  );
  const { serveCommand } = await import('./serve.js');
  return serveCommand(project, {
    host: '127.0.0.1',
    port: options.port,
    concurrency: '2',
    notes: (url) => [
      `  open the web UI at ${url}/ and sign in with the token stored in ${shown}/${DEMO_TOKEN_FILE}`,
      `  try, in another terminal: npx pipewright --project ${shown} runs   ·   npx pipewright --project ${shown} trigger sensor-documents`,
      `  the demo's API token is in ${shown}/${DEMO_TOKEN_FILE}: curl -H "Authorization: Bearer $(cat ${shown}/${DEMO_TOKEN_FILE})" ${url}/api/runs`,
    ],
  });
}

/** An `operate` token named `demo`, written to `target` for its owner only; the store keeps its hash. */
async function createDemoToken(globals: GlobalOptions, target: string): Promise<void> {
  const token = newApiToken();
  await withProjectStore(globals, ({ store }) =>
    store.createApiToken({ name: 'demo', scope: 'operate', hash: hashApiToken(token), at: new Date() }),
  );
  await writeAtomically(target, (temp) => writeFile(temp, `${token}\n`, { mode: 0o600 }), { mode: 0o600 });
}
