/**
 * Reads a user crontab (the format `crontab -l` prints): comments, `NAME=value` environment lines,
 * jobs with five time fields or an @-macro, and the command. What a schedule cannot express is
 * reported, not guessed: `@reboot`, and a `%` in the command (cron turns it into standard input).
 * The system crontab format (/etc/crontab, with a user field) is not read.
 */

export interface CrontabJob {
  line: number;
  /** The line as written, for the draft's header comment. */
  text: string;
  /** Five cron fields (an @-macro expanded). */
  cron: string;
  /** The command with `\%` turned into `%`. */
  command: string;
  /** Environment lines above the job (cron applies each to the jobs after it). */
  env: Record<string, string>;
}

export interface CrontabSkip {
  line: number;
  text: string;
  reason: string;
}

export interface Crontab {
  jobs: CrontabJob[];
  skipped: CrontabSkip[];
}

export const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const ENV_LINE = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
const FIELD = /^[A-Za-z0-9*,/-]+$/;

function unquote(value: string): string {
  const trimmed = value.trim();
  const quote = trimmed[0];
  if ((quote === '"' || quote === "'") && trimmed.length >= 2 && trimmed.endsWith(quote))
    return trimmed.slice(1, -1);
  return trimmed;
}

/** The command with `\%` unescaped, or undefined when it holds a bare `%` (stdin text in cron). */
function percentFree(command: string): string | undefined {
  let result = '';
  for (let at = 0; at < command.length; at += 1) {
    const char = command[at];
    if (char === '\\' && command[at + 1] === '%') {
      result += '%';
      at += 1;
    } else if (char === '%') return undefined;
    else result += char;
  }
  return result;
}

export function parseCrontab(text: string): Crontab {
  const jobs: CrontabJob[] = [];
  const skipped: CrontabSkip[] = [];
  const env: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const assignment = ENV_LINE.exec(trimmed);
    if (assignment) {
      env[assignment[1] ?? ''] = unquote(assignment[2] ?? '');
      return;
    }
    let cron: string;
    let command: string;
    if (trimmed.startsWith('@')) {
      const [macro = '', ...rest] = trimmed.split(/\s+/);
      const name = macro.toLowerCase();
      if (name === '@reboot') {
        skipped.push({
          line,
          text: trimmed,
          reason: '@reboot runs once at boot, which a schedule cannot express',
        });
        return;
      }
      const expanded = MACROS[name];
      if (expanded === undefined) {
        skipped.push({
          line,
          text: trimmed,
          reason: `unknown macro ${macro} (known: @reboot, ${Object.keys(MACROS).join(', ')})`,
        });
        return;
      }
      cron = expanded;
      command = trimmed.slice(macro.length).trim();
      if (rest.length === 0) command = '';
    } else {
      const parts = trimmed.split(/\s+/);
      const fields = parts.slice(0, 5);
      if (parts.length < 6 || !fields.every((field) => FIELD.test(field))) {
        skipped.push({
          line,
          text: trimmed,
          reason: 'not a crontab line: expected five time fields and a command, an @-macro, or NAME=value',
        });
        return;
      }
      cron = fields.join(' ');
      // Keep the command's own spacing: cut after the fifth field, wherever it ends.
      let rest = trimmed;
      for (let field = 0; field < 5; field += 1) rest = rest.replace(/^\S+\s+/, '');
      command = rest;
    }
    if (command === '') {
      skipped.push({ line, text: trimmed, reason: 'the job has no command' });
      return;
    }
    const cleaned = percentFree(command);
    if (cleaned === undefined) {
      skipped.push({
        line,
        text: trimmed,
        reason:
          'the command holds an unescaped % (cron turns it into a newline and standard input); rewrite it, or write \\% for a literal %',
      });
      return;
    }
    if (/\{\{|\{%/.test(cleaned)) {
      skipped.push({
        line,
        text: trimmed,
        reason: 'the command holds {{ or {%, which pipeline templates would interpret',
      });
      return;
    }
    jobs.push({ line, text: trimmed, cron, command: cleaned, env: { ...env } });
  });
  return { jobs, skipped };
}
