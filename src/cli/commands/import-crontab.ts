/**
 * `pipewright import crontab [file]`: turns each job of a crontab (a file, or `-` for standard input)
 * into a draft pipeline with the same schedule and an `exec` step, written to the project's pipelines
 * folder or `--out`. An existing file is never overwritten; every line that was not imported is
 * listed with the reason.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { PwError } from '../../core/errors/pw-error.js';
import { checkTimeZone } from '../../core/spec/checks.js';
import { temporaryPathFor } from '../../engine/atomic-file.js';
import { loadProject } from '../../project/load-project.js';
import { styleFor } from '../style.js';
import { parseCrontab } from '../crontab/parse-crontab.js';
import { draftPipeline, idForCommand } from '../crontab/crontab-pipeline.js';

export interface ImportCrontabOptions {
  out?: string;
  timezone?: string;
}

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new PwError('PW_INPUT_NOT_FOUND', `Cannot read the crontab '${file}'`, {
      hint: 'Give a file, or - to read standard input (crontab -l | pipewright import crontab -).',
      cause: error,
    });
  }
}

/** Creates `target` with `text` unless it exists: written under a temporary name, then linked. */
async function createExclusive(target: string, text: string): Promise<boolean> {
  const temp = temporaryPathFor(target);
  await writeFile(temp, text);
  try {
    await link(temp, target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

/** Ids per job; jobs whose ids collide get a short hash of their command, which stays stable. */
function assignIds(commands: readonly string[]): string[] {
  const base = commands.map(idForCommand);
  return base.map((id, index) => {
    if (base.filter((other) => other === id).length === 1) return id;
    const hash = createHash('sha256')
      .update(commands[index] ?? '')
      .digest('hex')
      .slice(0, 6);
    return `${id}-${hash}`;
  });
}

export async function importCrontabCommand(
  globals: GlobalOptions,
  file: string,
  options: ImportCrontabOptions,
): Promise<number> {
  const timezone = options.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zoneProblem = checkTimeZone(timezone);
  if (zoneProblem) {
    throw new PwError('PW_SPEC_TIMEZONE', zoneProblem.message, {
      path: '--timezone',
      expected: zoneProblem.expected,
      hint: zoneProblem.hint,
    });
  }
  const outDir =
    options.out !== undefined
      ? resolve(options.out)
      : await loadProject(globals.project).then((project) =>
          resolve(project.dir, project.spec.pipelines_dir),
        );
  const crontab = parseCrontab(await readInput(file));
  await mkdir(outDir, { recursive: true });

  const out = styleFor(process.stdout);
  const near = relative(process.cwd(), outDir);
  const shown = near.startsWith('..') ? outDir : near || '.';
  const ids = assignIds(crontab.jobs.map((job) => job.command));
  let created = 0;
  let existing = 0;
  const lines: string[] = [];
  for (const [index, job] of crontab.jobs.entries()) {
    const draft = draftPipeline(job, ids[index] ?? 'cron-job', timezone);
    const target = join(outDir, `${draft.id}.yaml`);
    const path = join(shown, `${draft.id}.yaml`);
    if (await createExclusive(target, draft.yaml)) {
      created += 1;
      lines.push(`${out.green('created')}  ${path}  ${out.dim(`${job.cron} ${timezone}, line ${job.line}`)}`);
      for (const note of draft.notes) lines.push(`         ${out.dim(`note: ${note}`)}`);
    } else {
      existing += 1;
      lines.push(`${out.yellow('exists')}   ${path}  ${out.dim(`line ${job.line}: not overwritten`)}`);
    }
  }
  for (const skip of crontab.skipped) {
    lines.push(`${out.red('skipped')}  line ${skip.line}: ${skip.reason}`);
    lines.push(`         ${out.dim(skip.text)}`);
  }
  if (lines.length === 0) lines.push('No jobs found in the crontab.');
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(
    `\n${created} draft pipeline(s) written to ${shown}/, ${existing} already existed, ${crontab.skipped.length} line(s) skipped.\n`,
  );
  if (created > 0)
    process.stdout.write('Review each draft (command, cwd, env), then run `pipewright validate`.\n');
  return existing > 0 || crontab.skipped.length > 0 ? EXIT.invalid : EXIT.ok;
}
