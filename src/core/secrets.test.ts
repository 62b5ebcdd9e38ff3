import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PwError } from './errors/pw-error.js';
import {
  Redactor,
  assertSecrets,
  checkSecrets,
  findSecretRefs,
  renderConfig,
  type RenderConfigOptions,
} from './secrets.js';
import type { TemplateScope } from './template/render.js';

const projectDir = mkdtempSync(join(tmpdir(), 'pw-secrets-'));
writeFileSync(join(projectDir, 'api-key'), 'key-from-file-123\n');
writeFileSync(join(projectDir, 'two-newlines'), 'line one\nline two\n\n');
after(() => rmSync(projectDir, { recursive: true, force: true }));

const DB_PASSWORD = 'p@ss w0rd/with:specials';
const env = { DB_PASSWORD, HOME: '/home/runner-secret-home', EMPTY: '' };

function scope(params: Record<string, unknown>): TemplateScope {
  const at = new Date('2026-03-29T00:30:00Z');
  return {
    params,
    run: {
      id: 'r1',
      pipeline: 'p',
      scheduled_for: at,
      started_at: at,
      trigger: 'manual',
      timezone: 'Europe/Berlin',
    },
    steps: {},
    trigger: {},
  };
}

function options(redactor = new Redactor()): RenderConfigOptions {
  return { timezone: 'Europe/Berlin', env, projectDir, redactor };
}

function thrown(fn: () => unknown): PwError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PwError, String(error));
    return error;
  }
  assert.fail('expected an error');
}

describe('findSecretRefs', () => {
  it('finds references with their field paths, skipping escaped ones', () => {
    const refs = findSecretRefs({
      url: 'postgres://app:${env:DB_PASSWORD}@db/x',
      steps: [{ with: { key: '${file:secrets/key.pem}', note: 'literal $${env:NOT_A_REF}', port: 5432 } }],
      'odd key': ['${env:A}${env:B}'],
    });
    assert.deepEqual(
      refs.map((ref) => [ref.path, ref.kind, ref.name, ref.text]),
      [
        ['url', 'env', 'DB_PASSWORD', '${env:DB_PASSWORD}'],
        ['steps[0].with.key', 'file', 'secrets/key.pem', '${file:secrets/key.pem}'],
        ['["odd key"][0]', 'env', 'A', '${env:A}'],
        ['["odd key"][0]', 'env', 'B', '${env:B}'],
      ],
    );
  });

  it('flags references placed inside template markup', () => {
    const [inside, outside] = findSecretRefs(["{{ '${env:A}' }}", '${env:B} {{ params.x }}']);
    assert.equal(inside?.insideMarkup, true);
    assert.equal(outside?.insideMarkup, false);
  });
});

describe('checkSecrets / assertSecrets', () => {
  const definition = {
    steps: [
      { id: 'pull', with: { password: '${env:DB_PASSWORD}', token: '${env:API_TOKEN}' } },
      {
        id: 'push',
        with: {
          key: '${file:missing.key}',
          blank: '${env:EMPTY}',
          bad: '${env:not-valid}',
          proto: '${env:constructor}',
        },
      },
    ],
  };

  it('reports every problem together, with names and field paths', () => {
    const problems = checkSecrets(definition, { env, projectDir });
    assert.deepEqual(
      problems.map((p) => [p.ref.path, p.reason]),
      [
        ['steps[0].with.token', 'missing'],
        ['steps[1].with.key', 'missing'],
        ['steps[1].with.blank', 'empty'],
        ['steps[1].with.bad', 'invalid'],
        ['steps[1].with.proto', 'missing'],
      ],
    );
    assert.equal(problems[0]?.message, 'environment variable API_TOKEN is not set');
  });

  it('throws one PW_SECRET_MISSING listing all of them and no values', () => {
    const error = thrown(() => assertSecrets(definition, { env, projectDir }));
    assert.equal(error.code, 'PW_SECRET_MISSING');
    assert.match(error.message, /^5 secret references cannot be resolved:/);
    assert.match(
      error.message,
      /steps\[0\]\.with\.token: \$\{env:API_TOKEN\} — environment variable API_TOKEN is not set/,
    );
    assert.match(
      error.message,
      /steps\[1\]\.with\.key: \$\{file:missing\.key\} — file .*missing\.key does not exist/,
    );
    assert.equal(error.path, 'steps[0].with.token');
    const everything = `${error.message} ${error.hint ?? ''} ${error.found ?? ''} ${error.expected ?? ''}`;
    assert.equal(everything.includes(DB_PASSWORD), false);
  });

  it('is quiet when everything resolves', () => {
    assert.deepEqual(
      checkSecrets({ a: '${env:DB_PASSWORD}', b: '${file:api-key}', c: 7 }, { env, projectDir }),
      [],
    );
  });
});

describe('renderConfig', () => {
  it('resolves env and file secrets and renders templates around them', () => {
    const redactor = new Redactor();
    const out = renderConfig(
      {
        url: "postgres://app:${env:DB_PASSWORD}@db/{{ params.db }}?day={{ run.scheduled_for | date: 'yyyyMMdd' }}",
        key: '${file:api-key}',
        multi: '${file:two-newlines}',
        retries: 3,
        plain: 'nothing to do',
      },
      scope({ db: 'sales' }),
      options(redactor),
    );
    assert.deepEqual(out, {
      url: `postgres://app:${DB_PASSWORD}@db/sales?day=20260329`,
      key: 'key-from-file-123',
      multi: 'line one\nline two\n',
      retries: 3,
      plain: 'nothing to do',
    });
    assert.equal(
      redactor.redact(`connecting with ${DB_PASSWORD} and key-from-file-123`),
      'connecting with [redacted] and [redacted]',
    );
  });

  it('never resolves a reference that comes from a run parameter', () => {
    const out = renderConfig(
      { note: 'Requested by {{ params.who }}', path: 'out/{{ params.name }}.csv' },
      scope({ who: '${env:HOME}', name: '${file:api-key}' }),
      options(),
    );
    assert.deepEqual(out, { note: 'Requested by ${env:HOME}', path: 'out/${file:api-key}.csv' });
  });

  it('refuses placeholder look-alike text from a parameter next to a real secret', () => {
    const forged = '\uE000' + '0'.repeat(24) + ':0\uE001';
    const error = thrown(() =>
      renderConfig({ url: 'u=${env:DB_PASSWORD}&x={{ params.x }}' }, scope({ x: forged }), options()),
    );
    assert.equal(error.code, 'PW_TEMPLATE_RENDER');
    assert.equal(error.message.includes(DB_PASSWORD), false);
    // Without a secret in the same field the text is inert and passes through.
    assert.deepEqual(renderConfig({ x: '{{ params.x }}' }, scope({ x: forged }), options()), { x: forged });
  });

  it('refuses a template that transforms a captured secret reference', () => {
    const error = thrown(() =>
      renderConfig('{% capture s %}${env:DB_PASSWORD}{% endcapture %}{{ s | upcase }}', scope({}), options()),
    );
    assert.equal(error.code, 'PW_TEMPLATE_RENDER');
    assert.equal(
      error.message.includes(DB_PASSWORD) || error.message.includes(DB_PASSWORD.toUpperCase()),
      false,
    );
  });

  it('refuses a secret reference inside {{ }}', () => {
    const error = thrown(() =>
      renderConfig({ with: { q: "{{ '${env:DB_PASSWORD}' | sql_string }}" } }, scope({}), options()),
    );
    assert.equal(error.code, 'PW_SPEC_TEMPLATE');
    assert.equal(error.path, 'with.q');
  });

  it('keeps escaped references literal', () => {
    assert.equal(
      renderConfig('echo $${env:HOME} {{ params.a }}', scope({ a: 1 }), options()),
      'echo ${env:HOME} 1',
    );
    assert.equal(renderConfig('echo $${env:HOME}', scope({}), options()), 'echo ${env:HOME}');
  });

  it('fails before rendering any template when secrets are missing, listing all of them', () => {
    const error = thrown(() =>
      renderConfig(
        { t: '{{ params.unknown }}', a: '${env:NOPE_ONE}', b: ['{{ params.x }} ${env:NOPE_TWO}'] },
        scope({ x: 1 }),
        options(),
      ),
    );
    assert.equal(error.code, 'PW_SECRET_MISSING');
    assert.match(error.message, /a: \$\{env:NOPE_ONE\}/);
    assert.match(error.message, /b\[0\]: \$\{env:NOPE_TWO\}/);
  });
});

describe('Redactor', () => {
  it('masks raw, URL-encoded, form-encoded and JSON-escaped forms', () => {
    const redactor = new Redactor();
    assert.equal(redactor.add('s3cr3t pass/"x"'), true);
    assert.equal(redactor.redact('pw=s3cr3t pass/"x"!'), 'pw=[redacted]!');
    assert.equal(redactor.redact('https://u:s3cr3t%20pass%2F%22x%22@host'), 'https://u:[redacted]@host');
    assert.equal(redactor.redact('body=s3cr3t+pass%2F%22x%22'), 'body=[redacted]');
    const json = JSON.stringify({ password: 's3cr3t pass/"x"' });
    assert.equal(redactor.redact(json), '{"password":"[redacted]"}');
    assert.deepEqual(JSON.parse(redactor.redact(json)), { password: '[redacted]' });
  });

  it('masks each line of a multi-line secret and every occurrence', () => {
    const redactor = new Redactor();
    redactor.add('-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----');
    assert.equal(
      redactor.redact(
        'bad key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC; again MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
      ),
      'bad key line [redacted]; again [redacted]',
    );
  });

  it('ignores values shorter than four characters and says so', () => {
    const redactor = new Redactor();
    assert.equal(redactor.add('abc'), false);
    assert.equal(redactor.redact('abc abcd'), 'abc abcd');
    assert.equal(redactor.add('abcd'), true);
    assert.equal(redactor.redact('abc abcd'), 'abc [redacted]');
  });

  it('treats regex characters in secrets literally', () => {
    const redactor = new Redactor();
    redactor.add('a.b*c+(d)');
    assert.equal(redactor.redact('aXbbbc+(d) a.b*c+(d)'), 'aXbbbc+(d) [redacted]');
  });
});
