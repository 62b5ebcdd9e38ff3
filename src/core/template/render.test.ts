import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PwError } from '../errors/pw-error.js';
import {
  checkTemplateSyntax,
  hasTemplate,
  renderDeep,
  renderTemplate,
  templateVariables,
  type TemplateScope,
} from './render.js';
import { TemplateError } from './template-error.js';

const BERLIN = { timezone: 'Europe/Berlin' };

function scope(scheduledFor: string, params: Record<string, unknown> = {}): TemplateScope {
  return {
    params: { low: 10, high: 90, region: "O'Hare", ...params },
    run: {
      id: 'run-1',
      pipeline: 'daily',
      scheduled_for: new Date(scheduledFor),
      started_at: new Date(scheduledFor),
      trigger: 'schedule',
      timezone: 'Europe/Berlin',
    },
    steps: { load: { rows: 42, bytes: 1024, outputs: { file: 'out/a.csv' } } },
    trigger: {},
  };
}

const render = (
  text: string,
  s: TemplateScope = scope('2026-03-10T07:00:00Z'),
  timezone = 'Europe/Berlin',
): string => renderTemplate(text, s, { timezone });

function rejects(fn: () => unknown, code: string): PwError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code} to be thrown`);
}

describe('dates in the pipeline zone', () => {
  it('formats a Date with luxon tokens in the given zone, not UTC', () => {
    const late = scope('2026-03-09T23:30:00Z'); // already 10 March in Berlin
    assert.equal(render("{{ run.scheduled_for | date: 'yyyyMMdd' }}", late), '20260310');
    assert.equal(render("{{ run.scheduled_for | date: 'yyyyMMdd' }}", late, 'UTC'), '20260309');
    assert.equal(render(`{{ run.scheduled_for | date: "yyyy-MM-dd'T'HH:mm" }}`, late), '2026-03-10T00:30');
    assert.equal(render("{{ run.scheduled_for | date: 'd. MMMM yyyy', 'de' }}", late), '10. März 2026');
  });

  it('accepts ISO text (wall time in the zone when it has no offset) and epoch milliseconds', () => {
    assert.equal(render("{{ '2026-07-01T08:00' | iso }}"), '2026-07-01T08:00:00+02:00');
    assert.equal(render("{{ '2026-07-01T08:00:00Z' | date: 'HH:mm' }}"), '10:00');
    assert.equal(render("{{ 0 | date: 'yyyy-MM-dd HH:mm' }}"), '1970-01-01 01:00');
  });

  it('prints a bare Date as ISO-8601 with the zone offset', () => {
    assert.equal(render('{{ run.scheduled_for }}'), '2026-03-10T08:00:00+01:00');
    assert.equal(
      render('{{ run.scheduled_for | iso }}', scope('2026-07-10T07:00:00Z')),
      '2026-07-10T09:00:00+02:00',
    );
  });

  it('handles the spring-forward day (2026-03-29, 02:00 → 03:00 in Berlin)', () => {
    const s = scope('2026-03-29T00:30:00Z'); // 01:30 CET
    assert.equal(render("{{ run.scheduled_for | date: 'HH:mm ZZ' }}", s), '01:30 +01:00');
    assert.equal(render("{{ run.scheduled_for | date_add: '1h' | iso }}", s), '2026-03-29T03:30:00+02:00');
    // A calendar day keeps the wall time: 28 March 12:00 + 1d = 29 March 12:00, only 23 hours later.
    assert.equal(render("{{ '2026-03-28T12:00' | date_add: '1d' | iso }}", s), '2026-03-29T12:00:00+02:00');
    assert.equal(render("{{ '2026-03-28T12:00' | date_add: '24h' | iso }}", s), '2026-03-29T13:00:00+02:00');
    assert.equal(render("{{ '2026-03-29T12:00' | start_of: 'day' | iso }}", s), '2026-03-29T00:00:00+01:00');
    assert.equal(
      render("{{ '2026-03-29T12:00' | date_add: '-1d' | date: 'yyyy-MM-dd HH:mm ZZ' }}", s),
      '2026-03-28 12:00 +01:00',
    );
  });

  it('handles the fall-back day (2026-10-25, 03:00 → 02:00 in Berlin)', () => {
    assert.equal(
      render("{{ run.scheduled_for | date: 'HH:mm ZZ' }}", scope('2026-10-25T00:30:00Z')),
      '02:30 +02:00',
    );
    assert.equal(
      render("{{ run.scheduled_for | date: 'HH:mm ZZ' }}", scope('2026-10-25T01:30:00Z')),
      '02:30 +01:00',
    );
    assert.equal(render("{{ '2026-10-24T12:00' | date_add: '1d' | iso }}"), '2026-10-25T12:00:00+01:00');
    assert.equal(render("{{ '2026-10-25T23:00' | start_of: 'day' | iso }}"), '2026-10-25T00:00:00+02:00');
    assert.equal(
      render(
        "{{ run.scheduled_for | start_of: 'hour' | date_add: '1h' | iso }}",
        scope('2026-10-25T00:30:00Z'),
      ),
      '2026-10-25T02:00:00+01:00',
    );
  });

  it('shifts by weeks, minutes, seconds and combined durations; start_of week is Monday', () => {
    assert.equal(render("{{ run.scheduled_for | date_add: '-7d' | date: 'yyyy-MM-dd' }}"), '2026-03-03');
    assert.equal(render("{{ run.scheduled_for | date_add: '1w2d' | date: 'yyyy-MM-dd' }}"), '2026-03-19');
    assert.equal(render("{{ run.scheduled_for | date_add: '-90m' | date: 'HH:mm' }}"), '06:30');
    assert.equal(render("{{ run.scheduled_for | date_add: '30s' | date: 'HH:mm:ss' }}"), '08:00:30');
    assert.equal(
      render("{{ run.scheduled_for | start_of: 'week' | date: 'EEE yyyy-MM-dd' }}"),
      'Mon 2026-03-09',
    );
    assert.equal(render("{{ run.scheduled_for | start_of: 'month' | iso }}"), '2026-03-01T00:00:00+01:00');
  });

  it('explains bad date input, strftime formats and bad durations', () => {
    const clock = rejects(() => render("{{ 'now' | date: 'yyyy' }}"), 'PW_TEMPLATE_RENDER');
    assert.match(clock.hint ?? '', /run\.scheduled_for/);
    const strftime = rejects(
      () => render("{{ run.scheduled_for | date: '%Y-%m-%d' }}"),
      'PW_TEMPLATE_RENDER',
    );
    assert.match(strftime.hint ?? '', /%Y → yyyy/);
    const duration = rejects(
      () => render("{{ run.scheduled_for | date_add: '7 days' }}"),
      'PW_TEMPLATE_RENDER',
    );
    assert.match(duration.message, /date_add/);
    assert.equal(duration.found, "text '7 days'");
  });

  it('rejects an unknown time zone', () => {
    rejects(
      () => render('{{ params.low }}', scope('2026-03-10T07:00:00Z'), 'Mars/Olympus'),
      'PW_SPEC_TIMEZONE',
    );
  });
});

describe('other filters', () => {
  it('quotes SQL string literals by doubling quotes', () => {
    assert.equal(render('{{ params.region | sql_string }}'), "'O''Hare'");
    assert.equal(render('{{ "x\'; DROP TABLE t; --" | sql_string }}'), "'x''; DROP TABLE t; --'");
    assert.equal(render('{{ params.low | sql_string }}'), "'10'");
    assert.equal(
      render('{{ params.none | sql_string }}', scope('2026-03-10T07:00:00Z', { none: null })),
      'NULL',
    );
  });

  it('writes JSON with dates in the zone, and prints objects as JSON', () => {
    assert.equal(
      render('{{ steps.load | json }}'),
      '{"rows":42,"bytes":1024,"outputs":{"file":"out/a.csv"}}',
    );
    assert.equal(render('{{ run | json }}').includes('"scheduled_for":"2026-03-10T08:00:00+01:00"'), true);
    assert.equal(render('{{ steps.load.outputs }}'), '{"file":"out/a.csv"}');
  });

  it('keeps the standard Liquid filters and tags', () => {
    assert.equal(render("{{ 'abc' | upcase }}-{% if params.low < params.high %}ok{% endif %}"), 'ABC-ok');
    assert.equal(render('{% for s in steps %}{{ s[0] }}={{ s[1].rows }}{% endfor %}'), 'load=42');
  });
});

describe('strictness and sandbox', () => {
  it('names an unknown variable and suggests close names from the scope', () => {
    const error = rejects(
      () => render('rows between {{ params.low }} and {{ params.hihg }}'),
      'PW_TEMPLATE_UNKNOWN_VARIABLE',
    );
    assert.ok(error instanceof TemplateError);
    assert.equal(error.message, 'Unknown variable `params.hihg` (template line 1, column 38)');
    assert.equal(error.hint, 'Did you mean `params.high`?');
    assert.equal(error.templateLine, 1);
    assert.equal(error.templateColumn, 38);

    assert.equal(
      rejects(() => render('{{ params.lwo }}'), 'PW_TEMPLATE_UNKNOWN_VARIABLE').hint,
      'Did you mean `params.low`?',
    );
    assert.equal(
      rejects(() => render('{{ parms.low }}'), 'PW_TEMPLATE_UNKNOWN_VARIABLE').hint,
      'Did you mean `params`?',
    );
    assert.equal(
      rejects(() => render('{{ steps.lod.rows }}'), 'PW_TEMPLATE_UNKNOWN_VARIABLE').hint,
      'Did you mean `steps.load`?',
    );
  });

  it('lists what exists when nothing is close, and explains env and dates', () => {
    const far = rejects(() => render('{{ params.zzzzzz }}'), 'PW_TEMPLATE_UNKNOWN_VARIABLE');
    assert.equal(far.hint, 'Available: `params.low`, `params.high`, `params.region`.');
    const env = rejects(() => render('{{ env.HOME }}'), 'PW_TEMPLATE_UNKNOWN_VARIABLE');
    assert.match(env.hint ?? '', /\$\{env:NAME\}/);
    const date = rejects(() => render('{{ run.scheduled_for.year }}'), 'PW_TEMPLATE_UNKNOWN_VARIABLE');
    assert.match(date.hint ?? '', /is a date and has no fields/);
  });

  it('lets if/default treat a single missing variable as nil (optional trigger fields)', () => {
    assert.equal(render("{{ trigger.file | default: 'none' }}"), 'none');
    assert.equal(render('{% if trigger.file %}file{% else %}no file{% endif %}'), 'no file');
  });

  it('fails on an unknown filter with a suggestion', () => {
    const error = rejects(() => render('{{ params.region | upcas }}'), 'PW_SPEC_TEMPLATE');
    assert.equal(error.message, 'Unknown filter `upcas` (template line 1, column 1)');
    assert.equal(error.hint, 'Did you mean `upcase`?');
    assert.equal(
      rejects(() => checkTemplateSyntax('{{ x | sql_strin }}'), 'PW_SPEC_TEMPLATE').hint,
      'Did you mean `sql_string`?',
    );
  });

  it('reports a syntax error with its line and column inside the template', () => {
    const error = rejects(
      () => checkTemplateSyntax('SELECT *\nFROM t\nWHERE d = {{ run.scheduled_for | date: "yyyy" '),
      'PW_SPEC_TEMPLATE',
    );
    assert.ok(error instanceof TemplateError);
    assert.equal(error.templateLine, 3);
    assert.equal(error.templateColumn, 11);
    assert.match(error.message, /not closed/);
    const block = rejects(() => checkTemplateSyntax('a\n{% if params.low %}\nb'), 'PW_SPEC_TEMPLATE');
    assert.ok(block instanceof TemplateError);
    assert.equal(block.templateLine, 2);
    assert.doesNotThrow(() => checkTemplateSyntax("{{ run.scheduled_for | date: 'yyyy' }}"));
  });

  it('refuses include, render and layout when the template is parsed', () => {
    for (const tag of ['include', 'render', 'layout']) {
      const error = rejects(() => checkTemplateSyntax(`x\n{% ${tag} '/etc/passwd' %}`), 'PW_SPEC_TEMPLATE');
      assert.equal(
        error.message,
        `The \`${tag}\` tag is not allowed in Pipewright templates (template line 2, column 1)`,
      );
    }
  });

  it('exposes no prototype properties', () => {
    for (const text of [
      '{{ params.constructor }}',
      '{{ params.constructor.name }}',
      '{{ params.__proto__ }}',
      '{{ params.toString }}',
      '{{ run.scheduled_for.getTime }}',
    ]) {
      const error = rejects(() => render(text), 'PW_TEMPLATE_UNKNOWN_VARIABLE');
      assert.doesNotMatch(error.message, /function|Object\(\)/);
    }
    assert.equal(
      rejects(() => render('{{ params.constructor }}'), 'PW_TEMPLATE_UNKNOWN_VARIABLE').hint,
      'Templates see only the data itself, not JavaScript object internals.',
    );
  });

  it('does not let one template change the scope seen by the next', () => {
    const s = scope('2026-03-10T07:00:00Z');
    render('{% increment params %}{% assign run = 1 %}', s);
    assert.equal(render('{{ params.low }} {{ run.id }}', s), '10 run-1');
    assert.equal(s.params['low'], 10);
  });
});

describe('hasTemplate, renderDeep and templateVariables', () => {
  it('detects markup', () => {
    assert.equal(hasTemplate('plain ${env:X} {not}'), false);
    assert.equal(hasTemplate('a {{ b }}'), true);
    assert.equal(hasTemplate('{% if x %}{% endif %}'), true);
  });

  it('renders strings in nested objects and arrays and keeps everything else', () => {
    const at = new Date('2020-01-01T00:00:00Z');
    const input = {
      path: "out/{{ run.scheduled_for | date: 'yyyy/MM/dd' }}.csv",
      limit: 5,
      enabled: true,
      nothing: null,
      when: at,
      plain: 'no markup here',
      columns: ['id', '{{ params.region | upcase }}', 3],
      nested: { deep: [{ sql: 'SELECT {{ params.low }}' }] },
    };
    const output = renderDeep(input, scope('2026-03-10T07:00:00Z'), BERLIN);
    assert.deepEqual(output, {
      path: 'out/2026/03/10.csv',
      limit: 5,
      enabled: true,
      nothing: null,
      when: at,
      plain: 'no markup here',
      columns: ['id', "O'HARE", 3],
      nested: { deep: [{ sql: 'SELECT 10' }] },
    });
    assert.equal(output.when, at);
    assert.equal(input.path, "out/{{ run.scheduled_for | date: 'yyyy/MM/dd' }}.csv");
  });

  it('puts the field path of the failing string into the error', () => {
    const error = rejects(
      () =>
        renderDeep(
          { steps: [{ with: { query: 'x' } }, { with: { query: '{{ params.nope }}' } }] },
          scope('2026-03-10T07:00:00Z'),
          { ...BERLIN, path: 'pipeline' },
        ),
      'PW_TEMPLATE_UNKNOWN_VARIABLE',
    );
    assert.equal(error.path, 'pipeline.steps[1].with.query');
  });

  it('lists the variables a template reads', () => {
    assert.deepEqual(
      templateVariables('{{ params.low }} {% for r in steps.load.outputs.list %}{{ r }}{% endfor %}'),
      ['params.low', 'steps.load.outputs.list'],
    );
  });
});
