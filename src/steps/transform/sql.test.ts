import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { PwError } from '../../core/errors/pw-error.js';
import { sqlStep } from './sql.js';

const READINGS = `SELECT * FROM (VALUES
  (1, 'north', 12.5),
  (2, 'south', 20.0),
  (3, 'north', 31.25),
  (4, 'east', 7.0)
) AS t(id, sensor, value)`;

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<PwError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, but the step succeeded`);
}

async function tables(harness: StepHarness, like: string): Promise<string[]> {
  const rows = await harness.query<{ name: string }>(
    `SELECT table_name AS name FROM duckdb_tables() WHERE table_name LIKE '${like}'
     UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal AND view_name LIKE '${like}'
     ORDER BY name`,
  );
  return rows.map((row) => row.name);
}

describe('sql step', () => {
  let harness: StepHarness;

  before(async () => {
    harness = await createStepHarness();
    const result = await harness.runStep(sqlStep, { query: READINGS }, { stepId: 'readings' });
    assert.equal(result.rows, 4);
  });

  after(async () => {
    await harness.close();
  });

  it('queries an earlier dataset and stores the result as a table named after the step', async () => {
    const result = await harness.runStep(
      sqlStep,
      {
        query:
          'SELECT sensor, sum(value) AS total, count(*)::INTEGER AS n FROM readings GROUP BY sensor ORDER BY sensor',
      },
      { stepId: 'by_sensor' },
    );
    assert.equal(result.rows, 3);
    assert.deepEqual(
      await harness.query('SELECT sensor, total::DOUBLE AS total, n FROM by_sensor ORDER BY sensor'),
      [
        { sensor: 'east', total: 7, n: 1 },
        { sensor: 'north', total: 43.75, n: 2 },
        { sensor: 'south', total: 20, n: 1 },
      ],
    );
    assert.deepEqual(await tables(harness, 'by_sensor'), ['by_sensor']);
    assert.ok(
      harness.logs.some(
        (entry) => entry.stepId === 'by_sensor' && entry.level === 'info' && entry.message === '3 rows',
      ),
    );
  });

  it('runs every statement in order and keeps the result of the last SELECT', async () => {
    const query = [
      'SET VARIABLE factor = 10;',
      "CREATE TEMP TABLE north AS SELECT * FROM readings WHERE sensor = 'north';",
      '-- a comment; with a semicolon',
      "INSERT INTO north VALUES (99, 'north', 1.0);",
      "SELECT id, value * getvariable('factor') AS scaled FROM north ORDER BY id;",
    ].join('\n');
    const result = await harness.runStep(sqlStep, { query }, { stepId: 'scaled' });
    assert.equal(result.rows, 3);
    assert.deepEqual(await harness.query('SELECT id, scaled::DOUBLE AS scaled FROM scaled ORDER BY id'), [
      { id: 1, scaled: 125 },
      { id: 3, scaled: 312.5 },
      { id: 99, scaled: 10 },
    ]);
    // The temporary table lived on the step's own connection only.
    assert.deepEqual(await tables(harness, 'north'), []);
  });

  it('accepts a last query that ends with a -- comment', async () => {
    const result = await harness.runStep(
      sqlStep,
      { query: 'FROM readings WHERE id < 3 -- the first two' },
      { stepId: 'first_two' },
    );
    assert.equal(result.rows, 2);
  });

  it('stores DESCRIBE and SUMMARIZE results, which DuckDB reports as queries', async () => {
    const result = await harness.runStep(
      sqlStep,
      { query: 'DESCRIBE readings' },
      { stepId: 'readings_columns' },
    );
    assert.equal(result.rows, 3);
    assert.deepEqual(
      (await harness.query<{ column_name: string }>('SELECT column_name FROM readings_columns')).map(
        (row) => row.column_name,
      ),
      ['id', 'sensor', 'value'],
    );
  });

  it('rejects a script whose last statement is not a query, naming its line', async () => {
    const error = await rejectsWith(
      harness.runStep(
        sqlStep,
        { query: 'SELECT 1;\n\nCREATE TEMP TABLE t AS SELECT 1;' },
        { stepId: 'no_query' },
      ),
      'PW_SQL_ERROR',
    );
    assert.match(error.message, /last statement \(line 3\) is not a query/);
    assert.match(error.found ?? '', /CREATE/);
    assert.ok(error.hint);
    assert.deepEqual(await tables(harness, 'no_query'), []);
  });

  it('rejects PRAGMA and EXPLAIN as the last statement with the same error, not a parser error on generated SQL', async () => {
    const pragma = await rejectsWith(
      harness.runStep(sqlStep, { query: "PRAGMA table_info('readings')" }, { stepId: 'p' }),
      'PW_SQL_ERROR',
    );
    assert.match(pragma.message, /is not a query/);
    assert.match(pragma.hint ?? '', /pragma_table_info/);
    const explain = await rejectsWith(
      harness.runStep(sqlStep, { query: 'EXPLAIN SELECT 1' }, { stepId: 'p' }),
      'PW_SQL_ERROR',
    );
    assert.match(explain.message, /is not a query/);
    assert.doesNotMatch(explain.message, /__pw_building_/);
  });

  it('rejects a query with no statement at all', async () => {
    const error = await rejectsWith(
      harness.runStep(sqlStep, { query: ' -- nothing\n;' }, { stepId: 'empty' }),
      'PW_SQL_ERROR',
    );
    assert.match(error.message, /no statement/);
  });

  it("reports a column typo with DuckDB's explanation, the line within the whole script and a hint", async () => {
    const query = 'CREATE TEMP TABLE x AS SELECT 1 AS a;\n\nSELECT\n  id,\n  valeu\nFROM readings';
    const error = await rejectsWith(harness.runStep(sqlStep, { query }, { stepId: 'typo' }), 'PW_SQL_ERROR');
    assert.match(error.message, /Query at line 3 failed/);
    assert.match(error.message, /Referenced column "valeu" not found/);
    assert.match(error.message, /Candidate bindings: .*"value"/);
    // DuckDB says LINE 3 of the statement; that is line 5 of the whole query.
    assert.match(error.message, /LINE 5:\s+valeu/);
    assert.doesNotMatch(error.message, /LINE 3:/);
    assert.match(error.hint ?? '', /column name/);
    assert.deepEqual(await tables(harness, 'typo'), []);
  });

  it('reports an error in an earlier statement with its own line', async () => {
    const query = 'SELECT 1;\nSELECT 2;\nCREATE TEMP TABLE y AS\n  SELECT * FROM no_such_step;\nSELECT 3';
    const error = await rejectsWith(harness.runStep(sqlStep, { query }, { stepId: 'early' }), 'PW_SQL_ERROR');
    assert.match(error.message, /Statement at line 3 failed/);
    assert.match(error.message, /no_such_step does not exist/);
    assert.match(error.message, /LINE 4:/);
    assert.match(error.hint ?? '', /named after the steps/);
  });

  it('exposes run parameters as DuckDB variables: numbers and strings, quotes included', async () => {
    const result = await harness.runStep(
      sqlStep,
      {
        query:
          "SELECT id, sensor, getvariable('label') AS label FROM readings WHERE value >= getvariable('low') AND sensor <> getvariable('skip') ORDER BY id",
      },
      { stepId: 'filtered', params: { low: 12.5, skip: 'south', label: "O'Brien's; -- pick" } },
    );
    assert.equal(result.rows, 2);
    assert.deepEqual(await harness.query('SELECT * FROM filtered ORDER BY id'), [
      { id: 1, sensor: 'north', label: "O'Brien's; -- pick" },
      { id: 3, sensor: 'north', label: "O'Brien's; -- pick" },
    ]);
  });

  it('exposes integer, boolean, null and big integer parameters with their types', async () => {
    await harness.runStep(
      sqlStep,
      {
        query:
          "SELECT getvariable('n') + 1 AS n, typeof(getvariable('n')) AS n_type, getvariable('flag') AS flag, getvariable('nothing') IS NULL AS is_null, getvariable('big')::VARCHAR AS big",
      },
      { stepId: 'param_types', params: { n: 41, flag: true, nothing: null, big: 12345678901234567890n } },
    );
    assert.deepEqual(await harness.query('SELECT * FROM param_types'), [
      { n: 42, n_type: 'INTEGER', flag: true, is_null: true, big: '12345678901234567890' },
    ]);
  });

  describe('materialize: view', () => {
    it('stores a view that is computed when read, so it follows its input', async () => {
      await harness.runStep(sqlStep, { query: 'SELECT 1 AS n UNION ALL SELECT 2' }, { stepId: 'base' });
      const result = await harness.runStep(
        sqlStep,
        { query: 'SELECT n * 10 AS n FROM base', materialize: 'view' },
        { stepId: 'tens' },
      );
      assert.equal(result.rows, 2);
      const kinds = await harness.query("SELECT view_name FROM duckdb_views() WHERE view_name = 'tens'");
      assert.deepEqual(kinds, [{ view_name: 'tens' }]);
      assert.deepEqual(await harness.query('SELECT n FROM tens ORDER BY n'), [{ n: 10 }, { n: 20 }]);

      await harness.runStep(sqlStep, { query: 'SELECT 3 AS n' }, { stepId: 'base' });
      assert.deepEqual(await harness.query('SELECT n FROM tens'), [{ n: 30 }]);
    });

    it('replaces a view with a view, a view with a table and a table with a view', async () => {
      await harness.runStep(sqlStep, { query: 'SELECT 1 AS v', materialize: 'view' }, { stepId: 'flip' });
      await harness.runStep(sqlStep, { query: 'SELECT 2 AS v', materialize: 'view' }, { stepId: 'flip' });
      assert.deepEqual(await harness.query('SELECT v FROM flip'), [{ v: 2 }]);

      await harness.runStep(sqlStep, { query: 'SELECT 3 AS v' }, { stepId: 'flip' });
      assert.deepEqual(await harness.query('SELECT v FROM flip'), [{ v: 3 }]);
      assert.deepEqual(
        await harness.query("SELECT table_name FROM duckdb_tables() WHERE table_name = 'flip'"),
        [{ table_name: 'flip' }],
      );

      await harness.runStep(sqlStep, { query: 'SELECT 4 AS v', materialize: 'view' }, { stepId: 'flip' });
      assert.deepEqual(await harness.query('SELECT v FROM flip'), [{ v: 4 }]);
      assert.deepEqual(await tables(harness, '%flip%'), ['flip']);
    });

    it('rejects a view that reads run parameters, which are unset where the view is read', async () => {
      const error = await rejectsWith(
        harness.runStep(
          sqlStep,
          { query: "SELECT * FROM readings WHERE value > getvariable('low')", materialize: 'view' },
          { stepId: 'pv', params: { low: 1 } },
        ),
        'PW_SQL_ERROR',
      );
      assert.match(error.message, /getvariable/);
      assert.match(error.hint ?? '', /materialize: table/);
      assert.deepEqual(await tables(harness, '%pv%'), []);
    });

    it("rejects a view over the step's temporary tables, which are gone when the view is read", async () => {
      const error = await rejectsWith(
        harness.runStep(
          sqlStep,
          {
            query: 'CREATE TEMP TABLE scratch AS SELECT 1 AS a;\nSELECT * FROM scratch',
            materialize: 'view',
          },
          { stepId: 'tv' },
        ),
        'PW_SQL_ERROR',
      );
      assert.match(error.message, /temporary scratch/);
      assert.deepEqual(await tables(harness, '%tv%'), []);
    });
  });

  it('replaces its dataset when run again, never appending (what resume relies on)', async () => {
    const config = { query: "SELECT id, sensor FROM readings WHERE sensor = 'north'" };
    assert.equal((await harness.runStep(sqlStep, config, { stepId: 'north_only' })).rows, 2);
    assert.equal((await harness.runStep(sqlStep, config, { stepId: 'north_only' })).rows, 2);
    assert.deepEqual(await harness.query('SELECT id FROM north_only ORDER BY id'), [{ id: 1 }, { id: 3 }]);

    // A different query on the same step replaces the rows and the columns.
    assert.equal(
      (await harness.runStep(sqlStep, { query: 'SELECT 7 AS only' }, { stepId: 'north_only' })).rows,
      1,
    );
    assert.deepEqual(await harness.query('SELECT * FROM north_only'), [{ only: 7 }]);
    assert.deepEqual(await tables(harness, '%north_only%'), ['north_only']);
  });

  it('leaves the previous dataset intact and no building table behind when the query fails', async () => {
    await harness.runStep(
      sqlStep,
      { query: 'SELECT id, value FROM readings ORDER BY id' },
      { stepId: 'stable' },
    );

    // Fails while binding (before anything is built).
    await rejectsWith(
      harness.runStep(sqlStep, { query: 'SELECT idd FROM readings' }, { stepId: 'stable' }),
      'PW_SQL_ERROR',
    );
    // Fails while executing, halfway through building the new table.
    const runtime = await rejectsWith(
      harness.runStep(
        sqlStep,
        { query: 'SELECT id, CAST(sensor AS INTEGER) AS broken FROM readings' },
        { stepId: 'stable' },
      ),
      'PW_SQL_ERROR',
    );
    assert.match(runtime.message, /Conversion Error/);
    assert.match(runtime.hint ?? '', /TRY_CAST/);
    // Fails the same way as a view.
    await rejectsWith(
      harness.runStep(
        sqlStep,
        { query: 'SELECT nope FROM readings', materialize: 'view' },
        { stepId: 'stable' },
      ),
      'PW_SQL_ERROR',
    );

    assert.deepEqual(await harness.query('SELECT id, value::DOUBLE AS value FROM stable ORDER BY id'), [
      { id: 1, value: 12.5 },
      { id: 2, value: 20 },
      { id: 3, value: 31.25 },
      { id: 4, value: 7 },
    ]);
    assert.deepEqual(await tables(harness, '%stable%'), ['stable']);
    assert.deepEqual(await tables(harness, '__pw_building_%'), []);
  });

  it('does not run anything when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      harness.runStep(
        sqlStep,
        { query: 'CREATE TABLE side_effect AS SELECT 1 AS a; SELECT 1 AS a' },
        { stepId: 'aborted', signal: controller.signal },
      ),
      (error: unknown) => error instanceof Error && error.name === 'AbortError',
    );
    assert.deepEqual(await tables(harness, 'side_effect'), []);
    assert.deepEqual(await tables(harness, '%aborted%'), []);
  });

  it('derives its inputs from the step ids the query mentions', () => {
    const config = sqlStep.config.parse({
      query: 'SELECT * FROM readings r JOIN "Base" b ON true WHERE r.sensor <> \'tens\' -- flip',
    });
    assert.deepEqual(sqlStep.inputs?.(config, ['base', 'tens', 'readings', 'flip']), ['base', 'readings']);
    assert.equal(config.materialize, 'table');
  });

  it('rejects an unknown config key', () => {
    assert.equal(sqlStep.config.safeParse({ query: 'SELECT 1', materialise: 'view' }).success, false);
    assert.equal(sqlStep.config.safeParse({ query: '' }).success, false);
  });
});
