/**
 * Turns one crontab job into a draft pipeline: the same schedule in a stated time zone, and one
 * `exec` step running the command. A simple command becomes an argv list (and `cd DIR && cmd` a
 * `cwd`); anything using shell syntax runs with `shell: true`, as cron ran it.
 */
import { stringify } from 'yaml';
import type { CrontabJob } from './parse-crontab.js';

export interface DraftPipeline {
  id: string;
  yaml: string;
  /** What the reviewer should know: environment lines dropped or changed, and why. */
  notes: string[];
}

const WORD = /^[A-Za-z0-9_@%+:,./-][A-Za-z0-9_@%+=:,./-]*$/;
const SCRIPT = /\.(py|sh|bash|js|mjs|cjs|ts|rb|pl|php|r)$/i;
const NOT_A_NAME = new Set(['cd', 'sh', 'bash', 'env', 'nice', 'ionice', 'timeout', 'flock', 'sudo', 'exec']);

export interface CommandShape {
  argv?: string[];
  cwd?: string;
  shell?: string;
}

/** An argv list when the command is plain words, optionally after `cd DIR &&`; else a shell string. */
export function commandShape(command: string): CommandShape {
  const words = command.trim().split(/\s+/);
  // A leading NAME=value is an assignment for the shell, not a program name.
  const simple = (list: readonly string[]) =>
    list.length > 0 && !/^[A-Za-z_]\w*=/.test(list[0] ?? '') && list.every((word) => WORD.test(word));
  if (simple(words) && !words.includes('~')) return { argv: words };
  const cd = /^cd\s+(\S+)\s*&&\s*(.+)$/.exec(command.trim());
  if (cd && WORD.test(cd[1] ?? '')) {
    const rest = (cd[2] ?? '').split(/\s+/);
    if (simple(rest)) return { cwd: cd[1] ?? '', argv: rest };
  }
  return { shell: command };
}

/** A pipeline id from the script or program the command runs: `backup.sh --full` → `backup`. */
export function idForCommand(command: string): string {
  const words = command.split(/[\s|&;<>()`"']+/).filter((word) => word !== '' && !word.includes('='));
  const script = words.find((word) => SCRIPT.test(word));
  const program = words.find(
    (word) => !NOT_A_NAME.has(word) && !word.startsWith('-') && /[A-Za-z]/.test(word),
  );
  const chosen = script ?? program ?? 'job';
  const base = (chosen.split('/').pop() ?? chosen).replace(SCRIPT, '');
  const slug = base
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50);
  return slug === '' ? 'cron-job' : slug;
}

export function draftPipeline(job: CrontabJob, id: string, timezone: string): DraftPipeline {
  const notes: string[] = [];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(job.env)) {
    if (name === 'MAILTO') notes.push(`MAILTO=${value} was dropped: add on_failure to be told of failures.`);
    else if (name === 'SHELL') {
      if (value !== '/bin/sh') notes.push(`cron ran this with SHELL=${value}; the draft uses /bin/sh.`);
    } else if (name === 'CRON_TZ')
      notes.push(`CRON_TZ=${value} was dropped: the schedule's timezone says when it runs.`);
    else env[name] = value;
  }
  const shape = commandShape(job.command);
  const run: Record<string, unknown> =
    shape.shell !== undefined ? { command: shape.shell, shell: true } : { command: shape.argv };
  if (shape.cwd !== undefined) run['cwd'] = shape.cwd;
  if (Object.keys(env).length > 0) run['env'] = env;
  const description = job.command.length > 120 ? `${job.command.slice(0, 117)}...` : job.command;
  const pipeline = {
    id,
    description: `Imported from crontab: ${description}`,
    // Cron never runs a job it missed while the machine was down; catchup: none keeps that.
    schedule: { cron: job.cron, timezone, catchup: 'none' },
    steps: [{ id: 'run', uses: 'exec', with: run }],
  };
  const header = [
    `# DRAFT imported by \`pipewright import crontab\` from line ${job.line}: review before relying on it.`,
    `#   ${job.text}`,
    '# Check the command, its working folder (cron started jobs in the home folder) and its environment;',
    '# files the script writes to $PIPEWRIGHT_OUTPUT_DIR become artifacts of the run.',
    ...notes.map((note) => `# Note: ${note}`),
  ];
  return { id, yaml: `${header.join('\n')}\n${stringify(pipeline, { lineWidth: 0 })}`, notes };
}
