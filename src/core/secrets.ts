/**
 * Secret references in pipeline definitions: `${env:NAME}` (an environment variable) and
 * `${file:path}` (a file's content minus one trailing newline; relative paths start at the project
 * folder). `$${env:NAME}` stands for the literal text `${env:NAME}`.
 *
 * Trust boundary: references are recognised only in the raw definition text, never in what a template
 * produces, so a run parameter such as `${env:AWS_SECRET_ACCESS_KEY}` stays literal text. `renderConfig`
 * therefore (1) swaps each reference for a placeholder carrying a random per-call nonce, (2) renders
 * the template, (3) swaps the placeholders for the values. Secret values never enter the template
 * engine, and text from parameters cannot forge a placeholder without the nonce. A reference inside
 * `{{ }}`/`{% %}` is refused: filters there would mangle the placeholder, not the secret.
 *
 * Every resolved value is registered with the run's Redactor, which loggers and error formatters use.
 * No error or problem text here contains a value, only names, paths and field paths.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PwError } from './errors/pw-error.js';
import { forEachString, mapStrings } from './template/field-path.js';
import { hasTemplate, markupRanges, renderTemplate, type Scope } from './template/render.js';

export type SecretKind = 'env' | 'file';

export interface SecretRef {
  kind: SecretKind;
  /** Variable name or file path as written. */
  name: string;
  /** The reference as written, e.g. `${env:DB_PASSWORD}`. */
  text: string;
  /** Field path of the string holding it, e.g. `steps[1].with.password`. */
  path: string;
  /** True when it sits inside `{{ }}` or `{% %}`, where it is not allowed. */
  insideMarkup: boolean;
}

export interface SecretProblem {
  ref: SecretRef;
  reason: 'missing' | 'empty' | 'unreadable' | 'invalid';
  /** Says what is wrong without any value, e.g. "environment variable DB_PASSWORD is not set". */
  message: string;
}

export interface SecretSources {
  env: Readonly<Record<string, string | undefined>>;
  /** Folder relative `${file:…}` paths start from. */
  projectDir: string;
}

export interface RenderConfigOptions extends SecretSources {
  timezone: string;
  redactor: Redactor;
  /** Field path of `raw` inside the definition, for error messages. */
  path?: string | undefined;
}

const REFERENCE = /\$(\$?)\{(env|file):([^}\n]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Match {
  kind: SecretKind;
  name: string;
  text: string;
  start: number;
  end: number;
  escaped: boolean;
}

function scan(text: string): Match[] {
  if (!text.includes('{env:') && !text.includes('{file:')) return [];
  return [...text.matchAll(REFERENCE)].map((m) => ({
    kind: m[2] as SecretKind,
    name: (m[3] ?? '').trim(),
    text: m[0].slice(m[1] === '$' ? 1 : 0),
    start: m.index,
    end: m.index + m[0].length,
    escaped: m[1] === '$',
  }));
}

function insideMarkup(text: string, matches: readonly Match[]): Set<Match> {
  const inside = new Set<Match>();
  if (!hasTemplate(text)) return inside;
  let ranges: Array<{ begin: number; end: number }>;
  try {
    ranges = markupRanges(text);
  } catch {
    return inside; // A template that does not parse is reported by spec validation.
  }
  for (const match of matches) {
    if (ranges.some((range) => match.start >= range.begin && match.start < range.end)) inside.add(match);
  }
  return inside;
}

function refsIn(text: string, path: string): Array<{ match: Match; ref: SecretRef }> {
  const matches = scan(text).filter((match) => !match.escaped);
  const inside = insideMarkup(text, matches);
  return matches.map((match) => ({
    match,
    ref: { kind: match.kind, name: match.name, text: match.text, path, insideMarkup: inside.has(match) },
  }));
}

/** Every secret reference in a raw definition value (nested objects/arrays), with its field path. */
export function findSecretRefs(value: unknown, basePath = ''): SecretRef[] {
  const found: SecretRef[] = [];
  forEachString(value, (text, path) => found.push(...refsIn(text, path).map((entry) => entry.ref)), basePath);
  return found;
}

type Lookup = { value: string } | { problem: Omit<SecretProblem, 'ref'> };

function lookup(ref: SecretRef, sources: SecretSources, files: Map<string, Lookup>): Lookup {
  if (ref.kind === 'env') {
    if (!ENV_NAME.test(ref.name)) {
      return {
        problem: { reason: 'invalid', message: `'${ref.name}' is not a valid environment variable name` },
      };
    }
    // Own properties only: `${env:constructor}` must not find Object.prototype.constructor.
    const value = Object.prototype.hasOwnProperty.call(sources.env, ref.name)
      ? sources.env[ref.name]
      : undefined;
    if (typeof value !== 'string')
      return { problem: { reason: 'missing', message: `environment variable ${ref.name} is not set` } };
    if (value === '')
      return { problem: { reason: 'empty', message: `environment variable ${ref.name} is set but empty` } };
    return { value };
  }
  if (ref.name === '') return { problem: { reason: 'invalid', message: 'the file reference has no path' } };
  const file = resolve(sources.projectDir, ref.name);
  const cached = files.get(file);
  if (cached) return cached;
  let result: Lookup;
  try {
    const content = readFileSync(file, 'utf8');
    result = {
      value: content.endsWith('\r\n')
        ? content.slice(0, -2)
        : content.endsWith('\n')
          ? content.slice(0, -1)
          : content,
    };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    result =
      code === 'ENOENT'
        ? { problem: { reason: 'missing', message: `file ${file} does not exist` } }
        : { problem: { reason: 'unreadable', message: `file ${file} cannot be read (${code})` } };
  }
  files.set(file, result);
  return result;
}

/** Everything that keeps the references in `value` from resolving; empty when all is well. */
export function checkSecrets(value: unknown, sources: SecretSources, basePath = ''): SecretProblem[] {
  return collectProblems(value, sources, basePath, new Map());
}

function collectProblems(
  value: unknown,
  sources: SecretSources,
  basePath: string,
  files: Map<string, Lookup>,
): SecretProblem[] {
  const problems: SecretProblem[] = [];
  for (const ref of findSecretRefs(value, basePath)) {
    const result = lookup(ref, sources, files);
    if ('problem' in result) problems.push({ ref, ...result.problem });
  }
  return problems;
}

/** One PW_SECRET_MISSING error listing every problem, so all can be fixed in one go. */
export function secretsError(problems: readonly SecretProblem[]): PwError {
  const lines = problems.map((p) => `  ${p.ref.path || '(value)'}: ${p.ref.text} — ${p.message}`);
  const count = problems.length;
  const hints: string[] = [];
  if (problems.some((p) => p.ref.kind === 'env'))
    hints.push(
      'Set the variables in the environment of the process that runs the pipeline (serve, worker or run).',
    );
  if (problems.some((p) => p.ref.kind === 'file'))
    hints.push('Relative ${file:…} paths start at the project folder.');
  return new PwError(
    'PW_SECRET_MISSING',
    `${count} secret reference${count === 1 ? '' : 's'} cannot be resolved:\n${lines.join('\n')}`,
    {
      path: problems[0]?.ref.path,
      expected: 'every ${env:NAME} set and non-empty, every ${file:path} readable',
      found: problems.map((p) => p.ref.text).join(', '),
      hint: hints.join(' '),
    },
  );
}

/** Throws `secretsError` when any reference cannot be resolved; call before a run starts. */
export function assertSecrets(value: unknown, sources: SecretSources, basePath = ''): void {
  const problems = checkSecrets(value, sources, basePath);
  if (problems.length > 0) throw secretsError(problems);
}

// Private-use characters around a random nonce: never typed by people, and unguessable per call.
const OPEN = '\uE000';
const CLOSE = '\uE001';

/**
 * Renders the templates in a raw definition value and resolves its secret references, in the order
 * described in the header. Returns the same shape; non-strings are untouched.
 */
export function renderConfig<T>(raw: T, scope: Scope, options: RenderConfigOptions): T {
  const files = new Map<string, Lookup>();
  // All secrets first: a missing one fails the step before any template runs, listing every problem.
  const problems = collectProblems(raw, options, options.path ?? '', files);
  if (problems.length > 0) throw secretsError(problems);
  const nonce = randomBytes(12).toString('hex');
  const placeholder = new RegExp(`${OPEN}${nonce}:(\\d+)${CLOSE}`, 'g');

  return mapStrings(
    raw,
    (text, path) => {
      const templated = hasTemplate(text);
      if (!templated && !text.includes('${')) return text;
      const values: string[] = [];
      let prepared = '';
      let cursor = 0;
      for (const { match, ref } of refsIn(text, path)) {
        if (ref.insideMarkup) throw markupError(ref);
        const result = lookup(ref, options, files);
        if ('problem' in result) throw secretsError([{ ref, ...result.problem }]); // changed since the check
        options.redactor.add(result.value);
        values.push(result.value);
        const replacement = templated ? `${OPEN}${nonce}:${values.length - 1}${CLOSE}` : result.value;
        prepared += unescape(text.slice(cursor, match.start)) + replacement;
        cursor = match.end;
      }
      prepared += unescape(text.slice(cursor));
      if (!templated) return prepared;

      const output = renderTemplate(prepared, scope, { timezone: options.timezone, path });
      if (values.length > 0) {
        // Marker characters or the nonce left over once intact placeholders are gone: a template cut or
        // transformed a placeholder, or a parameter carries look-alike text. Refuse either way.
        const rest = output.replace(placeholder, '');
        if (rest.includes(OPEN) || rest.includes(CLOSE) || rest.toLowerCase().includes(nonce))
          throw alteredError(path);
      }
      return output.replace(placeholder, (_, index: string) => values[Number(index)] ?? '');
    },
    options.path ?? '',
  );
}

/** `$${env:X}` → `${env:X}`: only escapes of real reference syntax are touched. */
function unescape(text: string): string {
  return text.includes('$${')
    ? text.replace(REFERENCE, (whole, dollar: string) => (dollar === '$' ? whole.slice(1) : whole))
    : text;
}

function markupError(ref: SecretRef): PwError {
  return new PwError('PW_SPEC_TEMPLATE', `Secret reference ${ref.text} is inside template markup`, {
    path: ref.path,
    expected: 'the reference in the literal text of the field',
    found: `${ref.text} inside {{ }} or {% %}`,
    hint: `Write it outside the braces, e.g. "postgres://app:${ref.kind === 'env' ? '${env:DB_PASSWORD}' : '${file:secrets/db}'}@db/{{ params.database }}".`,
  });
}

function alteredError(path: string): PwError {
  return new PwError(
    'PW_TEMPLATE_RENDER',
    'A template changed a secret reference, or a value contains placeholder characters (U+E000/U+E001)',
    {
      path,
      expected: 'secret references copied to the output unchanged',
      found: 'a partial or transformed reference',
      hint: 'Keep ${env:…}/${file:…} in literal text; do not capture them or pass them through filters.',
    },
  );
}

/**
 * Masks registered secret values in text bound for logs, the store, the UI and error messages.
 * Also masks the URL-encoded, form-encoded and JSON-escaped forms and, for multi-line values such as
 * PEM keys, each line. Values (and forms, lines) shorter than MIN_LENGTH are not masked: replacing
 * every "1" or "abc" in a log would destroy it while protecting nothing; `add` returns false for them
 * so the caller can warn.
 */
export class Redactor {
  static readonly MIN_LENGTH = 4;
  static readonly MASK = '[redacted]';
  private readonly forms = new Set<string>();
  private pattern: RegExp | undefined;

  add(secret: string): boolean {
    if (secret.length < Redactor.MIN_LENGTH) return false;
    const candidates = [
      secret,
      encodeURIComponent(secret),
      encodeURIComponent(secret).replaceAll('%20', '+'),
      JSON.stringify(secret).slice(1, -1),
      ...secret.split(/\r?\n/).map((line) => line.trim()),
    ];
    const before = this.forms.size;
    for (const form of candidates) if (form.length >= Redactor.MIN_LENGTH) this.forms.add(form);
    if (this.forms.size !== before) this.pattern = undefined;
    return true;
  }

  redact(text: string): string {
    if (this.forms.size === 0) return text;
    if (this.pattern === undefined) {
      // Longest first, so a value's escaped form wins over the raw value it contains.
      const sorted = [...this.forms].sort((a, b) => b.length - a.length);
      this.pattern = new RegExp(
        sorted.map((form) => form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
        'g',
      );
    }
    return text.replace(this.pattern, Redactor.MASK);
  }
}
