/** Run parameters: conversion per declared type, defaults, required, enums and error reporting. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PwError } from './errors/pw-error.js';
import type { ParamSpec } from './spec/pipeline-schema.js';
import { parseParamArguments, resolveParams } from './params.js';

const spec = (type: ParamSpec['type'], extra: Omit<ParamSpec, 'type'> = {}): ParamSpec => ({
  type,
  ...extra,
});

/** Runs `action`, expecting PW_PARAM_INVALID, and returns the listed problems (one per line). */
function problemsOf(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, 'PW_PARAM_INVALID');
    assert.equal(error.kind, 'user');
    assert.match(error.hint ?? '', /--param name=value/);
    const [heading, ...lines] = error.message.split('\n');
    assert.equal(heading, 'Invalid run parameters:');
    return lines.map((line) => line.replace(/^ {2}- /, ''));
  }
  assert.fail('expected PW_PARAM_INVALID, but the parameters were accepted');
}

describe('resolveParams', () => {
  it('converts each type from command-line text', () => {
    const declared = {
      name: spec('string'),
      low: spec('number'),
      count: spec('integer'),
      full: spec('boolean'),
      day: spec('date'),
    };
    assert.deepEqual(
      resolveParams(declared, { name: 'north', low: '22.5', count: ' 42 ', full: 'yes', day: '2026-02-28' }),
      {
        name: 'north',
        low: 22.5,
        count: 42,
        full: true,
        day: '2026-02-28',
      },
    );
    assert.deepEqual(resolveParams(declared, { low: '-1e3', count: '0', full: '0' }), {
      low: -1000,
      count: 0,
      full: false,
    });
  });

  it('accepts values that already have the right type, as an API caller sends them', () => {
    const declared = {
      low: spec('number'),
      count: spec('integer'),
      full: spec('boolean'),
      name: spec('string'),
    };
    assert.deepEqual(resolveParams(declared, { low: 2.5, count: 7, full: false, name: 'x' }), {
      low: 2.5,
      count: 7,
      full: false,
      name: 'x',
    });
  });

  it('reads every spelling of true and false it documents', () => {
    const declared = { flag: spec('boolean') };
    for (const text of ['true', 'yes', '1'])
      assert.deepEqual(resolveParams(declared, { flag: text }), { flag: true }, text);
    for (const text of ['false', 'no', '0'])
      assert.deepEqual(resolveParams(declared, { flag: text }), { flag: false }, text);
  });

  it('names the parameter and the bad value when a conversion fails', () => {
    assert.deepEqual(
      problemsOf(() => resolveParams({ low: spec('number') }, { low: 'abc' })),
      ["low: expected a number, found 'abc'"],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams({ low: spec('number') }, { low: '  ' })),
      ['low: expected a number, found an empty value'],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams({ n: spec('integer') }, { n: '3.5' })),
      ['n: expected an integer, found 3.5'],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams({ flag: spec('boolean') }, { flag: 'maybe' })),
      ["flag: expected true or false, found 'maybe'"],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams({ day: spec('date') }, { day: '2026-02-30' })),
      ["day: expected a date as YYYY-MM-DD, found '2026-02-30'"],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams({ day: spec('date') }, { day: '2026-2-3' })),
      ["day: expected a date as YYYY-MM-DD, found '2026-2-3'"],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams({ name: spec('string') }, { name: 'a\u0000b' })),
      ['name: contains a NUL character'],
    );
  });

  it('applies defaults, converted to the declared type, and lets a given value win', () => {
    const declared = {
      low: spec('number', { default: '10' }),
      region: spec('string', { default: 'north' }),
      full: spec('boolean', { default: false }),
    };
    assert.deepEqual(resolveParams(declared, {}), { low: 10, region: 'north', full: false });
    assert.deepEqual(resolveParams(declared, { region: 'south' }), { low: 10, region: 'south', full: false });
  });

  it('leaves out an optional parameter with no value, and refuses a required one', () => {
    assert.deepEqual(resolveParams({ note: spec('string') }, {}), {});
    assert.deepEqual(
      problemsOf(() => resolveParams({ day: spec('date', { required: true }) }, {})),
      ['day: required, but no value was given'],
    );
    assert.deepEqual(resolveParams({ day: spec('date', { required: true, default: '2026-01-01' }) }, {}), {
      day: '2026-01-01',
    });
  });

  it('accepts only the values listed in enum, comparing numbers by value', () => {
    const declared = {
      region: spec('string', { enum: ['north', 'south'] }),
      level: spec('integer', { enum: [1, 2, 3] }),
    };
    assert.deepEqual(resolveParams(declared, { region: 'south', level: '2' }), { region: 'south', level: 2 });
    assert.deepEqual(
      problemsOf(() => resolveParams(declared, { region: 'east' })),
      ["region: expected one of north, south, found 'east'"],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams(declared, { level: '4' })),
      ["level: expected one of 1, 2, 3, found '4'"],
    );
  });

  it('names an unknown parameter and the known ones', () => {
    assert.deepEqual(
      problemsOf(() => resolveParams({ low: spec('number'), high: spec('number') }, { lwo: '1' })),
      ['lwo: not a parameter of this pipeline (known: low, high)'],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams(undefined, { low: '1' })),
      ['low: not a parameter of this pipeline (it declares none)'],
    );
  });

  it('treats names of Object.prototype members like any other name', () => {
    assert.deepEqual(
      problemsOf(() => resolveParams({}, { toString: 'x' })),
      ['toString: not a parameter of this pipeline (it declares none)'],
    );
    assert.deepEqual(
      problemsOf(() => resolveParams({ constructor: spec('string', { required: true }) }, {})),
      ['constructor: required, but no value was given'],
    );
    assert.deepEqual(resolveParams({ valueOf: spec('string', { default: 'v' }) }, {}), { valueOf: 'v' });
  });

  it('reports every problem at once', () => {
    const declared = {
      low: spec('number'),
      day: spec('date', { required: true }),
      region: spec('string', { enum: ['north'] }),
      flag: spec('boolean'),
    };
    const problems = problemsOf(() =>
      resolveParams(declared, { low: 'x', region: 'west', flag: 'perhaps', extra: '1' }),
    );
    assert.deepEqual(problems, [
      'extra: not a parameter of this pipeline (known: low, day, region, flag)',
      "low: expected a number, found 'x'",
      'day: required, but no value was given',
      "region: expected one of north, found 'west'",
      "flag: expected true or false, found 'perhaps'",
    ]);
  });
});

describe('parseParamArguments', () => {
  it('splits name=value at the first equals sign and keeps empty values', () => {
    assert.deepEqual(parseParamArguments(['low=22.5', 'filter=a=b', 'note=']), {
      low: '22.5',
      filter: 'a=b',
      note: '',
    });
    assert.deepEqual(parseParamArguments([]), {});
  });

  it('lets a repeated name take its last value', () => {
    assert.deepEqual(parseParamArguments(['low=1', 'low=2']), { low: '2' });
  });

  it('refuses a pair without a name or without an equals sign, quoting it', () => {
    for (const pair of ['low', '=22.5', '']) {
      assert.throws(
        () => parseParamArguments(['ok=1', pair]),
        (error: unknown) =>
          error instanceof PwError &&
          error.code === 'PW_USAGE' &&
          error.message === `--param expects name=value, found '${pair}'` &&
          error.hint === 'Example: --param low=22.5',
      );
    }
  });

  it('keeps __proto__ as an ordinary name, which resolveParams then refuses', () => {
    const parsed = parseParamArguments(['__proto__=x']);
    assert.deepEqual(Object.keys(parsed), ['__proto__']);
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
    assert.deepEqual(
      problemsOf(() => resolveParams({ low: spec('number') }, parsed)),
      ['__proto__: not a parameter of this pipeline (known: low)'],
    );
  });
});
