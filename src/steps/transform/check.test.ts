import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { PwError } from '../../core/errors/pw-error.js';
import { sqlStep } from './sql.js';
import { checkStep } from './check.js';

// 6 rows: id 2 repeats, one NULL email, one unexpected status, one negative and one too large amount.
const ORDERS = `SELECT * FROM (VALUES
  (1, 'a@x.org', 'paid', 10.0),
  (2, 'b@x.org', 'paid', 25.5),
  (2, 'c@x.org', 'open', 3.0),
  (3, NULL, 'paid', -4.0),
  (4, 'd@x.org', 'lost', 99.0),
  (5, 'e@x.org', NULL, 1000.0)
) AS t(id, email, status, amount)`;

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<PwError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, but the check passed`);
}

describe('check step', () => {
  let harness: StepHarness;

  before(async () => {
    harness = await createStepHarness();
    await harness.runStep(sqlStep, { query: ORDERS }, { stepId: 'orders' });
    await harness.runStep(
      sqlStep,
      { query: "SELECT * FROM (VALUES ('paid'), ('open')) AS t(status)" },
      { stepId: 'statuses' },
    );
  });

  after(async () => {
    await harness.close();
  });

  const check = (rules: unknown[], extra: Record<string, unknown> = {}, stepId = 'check_orders') =>
    harness.runStep(checkStep, { input: 'orders', rules, ...extra }, { stepId });

  it('unique does not count rows with a NULL key as duplicates, as a SQL UNIQUE constraint', async () => {
    await harness.runStep(
      sqlStep,
      { query: 'SELECT * FROM (VALUES (1, 1), (NULL, 2), (NULL, 2)) AS t(k, v)' },
      { stepId: 'nullable' },
    );
    await harness.runStep(
      checkStep,
      { input: 'nullable', rules: [{ unique: ['k'] }] },
      { stepId: 'unique_nulls' },
    );
    const error = await rejectsWith(
      harness.runStep(checkStep, { input: 'nullable', rules: [{ unique: ['v'] }] }, { stepId: 'unique_v' }),
      'PW_CHECK_FAILED',
    );
    assert.match(error.message, /unique\(v\): 1 violating row/);
  });

  describe('passing rules', () => {
    const passing: [string, unknown][] = [
      ['row_count min and max', { row_count: { min: 6, max: 6 } }],
      ['row_count min only', { row_count: { min: 1 } }],
      ['not_null', { not_null: ['id', 'amount'] }],
      ['unique', { unique: ['id', 'email'] }],
      [
        'accepted_values (NULL allowed)',
        { accepted_values: { column: 'status', values: ['paid', 'open', 'lost'] } },
      ],
      ['accepted_values with numbers', { accepted_values: { column: 'id', values: [1, 2, 3, 4, 5] } }],
      ['range', { range: { column: 'amount', min: -4, max: 1000 } }],
      ['custom sql', { sql: 'SELECT * FROM orders WHERE amount > 5000' }],
    ];
    for (const [name, rule] of passing) {
      it(name, async () => {
        const result = await check([rule]);
        assert.deepEqual(result, { outputs: { rules: 1, warnings: 0 }, warnings: [] });
      });
    }

    it('logs that all rules passed', async () => {
      await check([{ not_null: ['id'] }, { row_count: { max: 10 } }], {}, 'logged_pass');
      assert.ok(
        harness.logs.some(
          (entry) =>
            entry.stepId === 'logged_pass' && entry.level === 'info' && entry.message === '2 rules passed',
        ),
      );
    });
  });

  describe('failing rules', () => {
    it('row_count below min', async () => {
      const error = await rejectsWith(check([{ row_count: { min: 10 } }]), 'PW_CHECK_FAILED');
      assert.match(error.message, /row_count ≥ 10: the dataset has 6 rows/);
    });

    it('row_count above max', async () => {
      const error = await rejectsWith(check([{ row_count: { min: 1, max: 5 } }]), 'PW_CHECK_FAILED');
      assert.match(error.message, /row_count ≥ 1 and ≤ 5: the dataset has 6 rows/);
    });

    it('not_null, with the count and a sample row', async () => {
      const error = await rejectsWith(check([{ not_null: ['email', 'status'] }]), 'PW_CHECK_FAILED');
      assert.match(error.message, /not_null\(email, status\): 2 violating rows, e\.g\. /);
      assert.match(error.message, /\{"id":3,"email":null,"status":"paid","amount":-4\}/);
      assert.match(error.message, /\{"id":5,"email":"e@x\.org","status":null,"amount":1000\}/);
    });

    it('unique, with how often the value occurs', async () => {
      const error = await rejectsWith(check([{ unique: ['id'] }]), 'PW_CHECK_FAILED');
      assert.match(error.message, /unique\(id\): 1 violating row, e\.g\. \{"id":2,"occurrences":2\}/);
    });

    it('accepted_values, ignoring NULLs', async () => {
      const error = await rejectsWith(
        check([{ accepted_values: { column: 'status', values: ['paid', 'open'] } }]),
        'PW_CHECK_FAILED',
      );
      assert.match(
        error.message,
        /accepted_values\(status\): 1 violating row, e\.g\. \{"id":4,"email":"d@x\.org","status":"lost","amount":99\}/,
      );
    });

    it('accepted_values with a value holding a quote is compared as a literal', async () => {
      const error = await rejectsWith(
        check([{ accepted_values: { column: 'status', values: ["paid' OR TRUE --", 'open', 'lost'] } }]),
        'PW_CHECK_FAILED',
      );
      assert.match(error.message, /accepted_values\(status\): 3 violating rows/);
    });

    it('range, below min and above max', async () => {
      const error = await rejectsWith(
        check([{ range: { column: 'amount', min: 0, max: 100 } }]),
        'PW_CHECK_FAILED',
      );
      assert.match(error.message, /range\(amount ≥ 0 ≤ 100\): 2 violating rows/);
      assert.match(error.message, /"amount":-4/);
      assert.match(error.message, /"amount":1000/);
    });

    it('custom sql, each returned row being a violation', async () => {
      const error = await rejectsWith(
        check([
          {
            sql: 'SELECT o.id, o.status FROM orders o ANTI JOIN statuses s USING (status) WHERE o.status IS NOT NULL',
            name: 'known status',
          },
        ]),
        'PW_CHECK_FAILED',
      );
      assert.match(error.message, /known status: 1 violating row, e\.g\. \{"id":4,"status":"lost"\}/);
    });

    it('custom sql ending with a semicolon, a comment or its own LIMIT', async () => {
      const error = await rejectsWith(
        check([
          { sql: 'SELECT id FROM orders WHERE amount < 0; -- negative', name: 'semicolon' },
          { sql: 'SELECT id FROM orders WHERE amount > 500 -- too big', name: 'comment' },
          { sql: 'SELECT id FROM orders ORDER BY id LIMIT 2', name: 'limited' },
        ]),
        'PW_CHECK_FAILED',
      );
      assert.match(error.message, /3 of 3 rules failed/);
      assert.match(error.message, /semicolon: 1 violating row, e\.g\. \{"id":3\}/);
      assert.match(error.message, /comment: 1 violating row, e\.g\. \{"id":5\}/);
      assert.match(error.message, /limited: 2 violating rows, e\.g\. \{"id":1\}; \{"id":2\}/);
    });

    it('shows at most five sample rows but the full count', async () => {
      const error = await rejectsWith(
        check([{ sql: 'SELECT id FROM orders ORDER BY amount', name: 'all' }]),
        'PW_CHECK_FAILED',
      );
      assert.match(error.message, /all: 6 violating rows, e\.g\. /);
      const samples = /e\.g\. (.*)$/m.exec(error.message)?.[1] ?? '';
      assert.equal(samples.split('; ').length, 5);
    });

    it('reports a broken custom query as a SQL error with its line', async () => {
      const error = await rejectsWith(
        check([{ sql: '\nSELECT *\nFROM orders\nWHERE amout > 1' }]),
        'PW_SQL_ERROR',
      );
      assert.match(error.message, /Rule custom sql failed/);
      assert.match(error.message, /"amout" not found/);
      assert.match(error.message, /LINE 4:/);
    });
  });

  it('reports every failing rule together in one error, with counts and samples', async () => {
    const error = await rejectsWith(
      check([
        { row_count: { min: 1 } },
        { not_null: ['email'] },
        { unique: ['id'] },
        { range: { column: 'amount', max: 100 } },
        { accepted_values: { column: 'status', values: ['paid', 'open', 'lost'] } },
      ]),
      'PW_CHECK_FAILED',
    );
    const lines = error.message.split('\n');
    assert.equal(lines[0], "3 of 5 rules failed on 'orders':");
    assert.equal(lines.length, 4);
    assert.match(lines[1] ?? '', /^ {2}- not_null\(email\): 1 violating row, e\.g\. \{"id":3,/);
    assert.match(lines[2] ?? '', /^ {2}- unique\(id\): 1 violating row, e\.g\. \{"id":2,"occurrences":2\}$/);
    assert.match(lines[3] ?? '', /^ {2}- range\(amount ≤ 100\): 1 violating row, e\.g\. \{"id":5,/);
    assert.match(error.hint ?? '', /severity: warn/);
  });

  it('with severity warn, does not throw but returns and logs the warnings', async () => {
    const result = await check(
      [{ not_null: ['email'] }, { unique: ['id'] }, { row_count: { min: 1 } }],
      { severity: 'warn' },
      'warn_all',
    );
    assert.deepEqual(result.outputs, { rules: 3, warnings: 2 });
    assert.equal(result.warnings?.length, 2);
    assert.match(result.warnings?.[0] ?? '', /^not_null\(email\): 1 violating row, e\.g\. \{"id":3,/);
    assert.match(result.warnings?.[1] ?? '', /^unique\(id\): 1 violating row/);
    const warned = harness.logs.filter((entry) => entry.stepId === 'warn_all' && entry.level === 'warn');
    assert.deepEqual(
      warned.map((entry) => entry.message.split(':')[0]),
      ['check not_null(email)', 'check unique(id)'],
    );
    assert.ok(
      harness.logs.some(
        (entry) =>
          entry.stepId === 'warn_all' && entry.level === 'info' && /2 with warnings/.test(entry.message),
      ),
    );
  });

  it('lets a rule override the check-wide severity in either direction', async () => {
    // Check-wide fail, one rule warn: the warn rule does not count as a failure.
    const result = await check(
      [{ unique: ['id'], severity: 'warn' }, { not_null: ['id'] }],
      {},
      'override_warn',
    );
    assert.deepEqual(result.outputs, { rules: 2, warnings: 1 });
    assert.match(result.warnings?.[0] ?? '', /^unique\(id\)/);

    // Check-wide warn, one rule fail: that rule still fails the step, the other only warns.
    const error = await rejectsWith(
      check(
        [{ unique: ['id'] }, { not_null: ['email'], severity: 'fail', name: 'email required' }],
        { severity: 'warn' },
        'override_fail',
      ),
      'PW_CHECK_FAILED',
    );
    assert.match(error.message, /^1 of 2 rules failed on 'orders':\n {2}- email required: 1 violating row/);
    assert.doesNotMatch(error.message, /unique/);
    assert.ok(
      harness.logs.some(
        (entry) =>
          entry.stepId === 'override_fail' && entry.level === 'warn' && /unique\(id\)/.test(entry.message),
      ),
    );
  });

  it('checks a dataset stored as a view', async () => {
    await harness.runStep(
      sqlStep,
      { query: 'SELECT * FROM orders WHERE amount > 0', materialize: 'view' },
      { stepId: 'positive_orders' },
    );
    const result = await harness.runStep(
      checkStep,
      {
        input: 'positive_orders',
        rules: [{ range: { column: 'amount', min: 0 } }, { row_count: { min: 5, max: 5 } }],
      },
      { stepId: 'check_view' },
    );
    assert.deepEqual(result.outputs, { rules: 2, warnings: 0 });
  });

  it('rejects an input that no step produced', async () => {
    const error = await rejectsWith(
      harness.runStep(
        checkStep,
        { input: 'no_such_step', rules: [{ row_count: { min: 1 } }] },
        { stepId: 'check_unknown' },
      ),
      'PW_DATASET_UNKNOWN',
    );
    assert.match(error.message, /no_such_step/);
    assert.ok(error.hint);
  });

  it('stops before checking when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      harness.runStep(
        checkStep,
        { input: 'orders', rules: [{ unique: ['id'] }] },
        { stepId: 'check_aborted', signal: controller.signal },
      ),
      (error: unknown) => error instanceof Error && error.name === 'AbortError',
    );
  });

  describe('config schema', () => {
    const parse = (config: unknown) => checkStep.config.safeParse(config);

    it('accepts each rule kind and defaults severity to fail', () => {
      const parsed = parse({
        input: 'orders',
        rules: [
          { row_count: { min: 1 } },
          { not_null: ['id'] },
          { unique: ['id'], severity: 'warn', name: 'ids' },
          { accepted_values: { column: 'status', values: ['a', 1, true] } },
          { range: { column: 'amount', max: 3 } },
          { sql: 'SELECT 1 WHERE false' },
        ],
      });
      assert.equal(parsed.success, true);
      assert.equal(parsed.data?.severity, 'fail');
      assert.equal(parsed.data?.rules.length, 6);
    });

    it('rejects a rule object with two rule keys', () => {
      assert.equal(parse({ input: 'orders', rules: [{ not_null: ['id'], unique: ['id'] }] }).success, false);
      assert.equal(
        parse({ input: 'orders', rules: [{ row_count: { min: 1 }, sql: 'SELECT 1' }] }).success,
        false,
      );
    });

    it('rejects an unknown key in a rule, in a rule body and at the top level', () => {
      assert.equal(parse({ input: 'orders', rules: [{ not_null: ['id'], severty: 'warn' }] }).success, false);
      assert.equal(parse({ input: 'orders', rules: [{ row_count: { minimum: 1 } }] }).success, false);
      assert.equal(parse({ input: 'orders', rules: [{ is_null: ['id'] }] }).success, false);
      assert.equal(parse({ input: 'orders', rules: [{ not_null: ['id'] }], extra: true }).success, false);
    });

    it('rejects empty rules, empty column lists and a bad severity', () => {
      assert.equal(parse({ input: 'orders', rules: [] }).success, false);
      assert.equal(parse({ input: 'orders', rules: [{ not_null: [] }] }).success, false);
      assert.equal(
        parse({ input: 'orders', rules: [{ not_null: ['id'] }], severity: 'error' }).success,
        false,
      );
      assert.equal(parse({ input: 'orders', rules: [{ row_count: { min: -1 } }] }).success, false);
    });

    it('derives its inputs from the checked dataset and the custom queries', () => {
      const config = checkStep.config.parse({
        input: 'orders',
        rules: [
          { sql: "SELECT * FROM orders ANTI JOIN statuses USING (status) -- 'refunds'" },
          { not_null: ['id'] },
        ],
      });
      assert.deepEqual(checkStep.inputs?.(config, ['orders', 'statuses', 'refunds']), ['orders', 'statuses']);
    });
  });
});
