/**
 * Run parameters: values given on the command line or by an API caller are checked against the
 * pipeline's declared params and converted to their types. Every problem is reported at once.
 */
import { DateTime } from 'luxon';
import { PwError } from './errors/pw-error.js';
import type { ParamSpec } from './spec/pipeline-schema.js';

export type ParamValue = string | number | boolean;

function convert(name: string, spec: ParamSpec, raw: unknown): { value?: ParamValue; problem?: string } {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  switch (spec.type) {
    case 'number':
    case 'integer': {
      const value = typeof text === 'number' ? text : Number(text);
      if (typeof text === 'string' && text === '')
        return { problem: `${name}: expected a number, found an empty value` };
      if (!Number.isFinite(value)) return { problem: `${name}: expected a number, found '${String(raw)}'` };
      if (spec.type === 'integer' && !Number.isInteger(value))
        return { problem: `${name}: expected an integer, found ${value}` };
      return { value };
    }
    case 'boolean': {
      if (typeof text === 'boolean') return { value: text };
      if (text === 'true' || text === 'yes' || text === '1') return { value: true };
      if (text === 'false' || text === 'no' || text === '0') return { value: false };
      return { problem: `${name}: expected true or false, found '${String(raw)}'` };
    }
    case 'date': {
      const value = String(text);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !DateTime.fromISO(value).isValid) {
        return { problem: `${name}: expected a date as YYYY-MM-DD, found '${value}'` };
      }
      return { value };
    }
    default: {
      const value = String(text);
      // NUL never belongs in a parameter and is what template placeholders are made of.
      if (value.includes('\u0000')) return { problem: `${name}: contains a NUL character` };
      return { value };
    }
  }
}

/** PW_PARAM_INVALID with each bad parameter as a field and a message (the API lists them one by one). */
export class ParamError extends PwError {
  readonly problems: readonly { field: string; message: string }[];

  constructor(problems: readonly string[]) {
    super(
      'PW_PARAM_INVALID',
      `Invalid run parameters:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
      {
        hint: "Pass parameters as --param name=value; `pipewright validate` lists each pipeline's params.",
      },
    );
    this.name = 'ParamError';
    // Every problem reads `<name>: <what is wrong>`.
    this.problems = problems.map((problem) => {
      const at = problem.indexOf(': ');
      return at < 0
        ? { field: '', message: problem }
        : { field: problem.slice(0, at), message: problem.slice(at + 2) };
    });
  }
}

export function resolveParams(
  declared: Readonly<Record<string, ParamSpec>> | undefined,
  given: Readonly<Record<string, unknown>>,
): Record<string, ParamValue> {
  const specs = declared ?? {};
  const problems: string[] = [];
  const values: Record<string, ParamValue> = {};
  // Own keys only: `'constructor' in {}` is true, which would hide unknown names and invent values.
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(specs, name)) {
      const known = Object.keys(specs);
      problems.push(
        `${name}: not a parameter of this pipeline (${known.length > 0 ? `known: ${known.join(', ')}` : 'it declares none'})`,
      );
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const raw = Object.hasOwn(given, name) ? given[name] : spec.default;
    if (raw === undefined) {
      if (spec.required) problems.push(`${name}: required, but no value was given`);
      continue;
    }
    const { value, problem } = convert(name, spec, raw);
    if (problem !== undefined) {
      problems.push(problem);
      continue;
    }
    if (spec.enum && !spec.enum.some((allowed) => allowed === value || String(allowed) === String(value))) {
      problems.push(`${name}: expected one of ${spec.enum.join(', ')}, found '${String(value)}'`);
      continue;
    }
    values[name] = value as ParamValue;
  }
  if (problems.length > 0) throw new ParamError(problems);
  return values;
}

/** Parses `--param k=v` arguments. */
export function parseParamArguments(pairs: readonly string[]): Record<string, string> {
  const entries: [string, string][] = [];
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) {
      throw new PwError('PW_USAGE', `--param expects name=value, found '${pair}'`, {
        hint: 'Example: --param low=22.5',
      });
    }
    entries.push([pair.slice(0, at), pair.slice(at + 1)]);
  }
  // fromEntries defines own properties, so `__proto__=x` is a (rejected) name, not a prototype change.
  return Object.fromEntries(entries);
}
