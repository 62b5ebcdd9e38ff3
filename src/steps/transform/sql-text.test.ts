import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mentionedIdentifiers, referencedSteps, splitStatements } from './sql-text.js';

describe('splitStatements', () => {
  it('splits on top-level semicolons and gives each statement its first line', () => {
    const sql = 'SELECT 1;\nSELECT 2;\n\n  SELECT\n    3';
    assert.deepEqual(splitStatements(sql), [
      { text: 'SELECT 1', line: 1 },
      { text: 'SELECT 2', line: 2 },
      { text: 'SELECT\n    3', line: 4 },
    ]);
  });

  it('ignores a trailing semicolon and blank or comment-only statements', () => {
    assert.deepEqual(splitStatements('SELECT 1;'), [{ text: 'SELECT 1', line: 1 }]);
    assert.deepEqual(splitStatements('SELECT 1;\n;  ;\n-- done\n'), [{ text: 'SELECT 1', line: 1 }]);
    assert.deepEqual(splitStatements('  \n -- nothing\n /* here */ '), []);
    assert.deepEqual(splitStatements(''), []);
  });

  it('keeps semicolons inside string literals', () => {
    assert.deepEqual(splitStatements("SELECT 'a;b' AS x; SELECT 'it''s; fine'"), [
      { text: "SELECT 'a;b' AS x", line: 1 },
      { text: "SELECT 'it''s; fine'", line: 1 },
    ]);
  });

  it('keeps semicolons inside escape strings with a backslash-escaped quote', () => {
    assert.deepEqual(splitStatements("SELECT E'it\\'s; here';\nSELECT 2"), [
      { text: "SELECT E'it\\'s; here'", line: 1 },
      { text: 'SELECT 2', line: 2 },
    ]);
  });

  it('keeps semicolons inside quoted identifiers', () => {
    assert.deepEqual(splitStatements('SELECT 1 AS "a;b"""; SELECT 2'), [
      { text: 'SELECT 1 AS "a;b"""', line: 1 },
      { text: 'SELECT 2', line: 1 },
    ]);
  });

  it('ignores semicolons inside -- and /* */ comments, and starts a statement after its leading comments', () => {
    const sql = 'SELECT 1 -- first; not a split\n;\n/* a; b\n c; */\nSELECT 2 /* x; /* nested; */ y; */ + 1';
    assert.deepEqual(splitStatements(sql), [
      { text: 'SELECT 1 -- first; not a split', line: 1 },
      { text: 'SELECT 2 /* x; /* nested; */ y; */ + 1', line: 5 },
    ]);
  });

  it('keeps semicolons inside $$ and $tag$ strings', () => {
    const sql = "SELECT $$a; 'b'; c$$ AS s;\nSELECT $fn1$ x; $$ y; $fn1$ AS t;\nSELECT 3";
    assert.deepEqual(
      splitStatements(sql).map((statement) => statement.text),
      ["SELECT $$a; 'b'; c$$ AS s", 'SELECT $fn1$ x; $$ y; $fn1$ AS t', 'SELECT 3'],
    );
    assert.deepEqual(
      splitStatements(sql).map((statement) => statement.line),
      [1, 2, 3],
    );
  });

  it('counts lines through multi-line strings and comments', () => {
    const sql = "SELECT 'one\ntwo\nthree';\n/*\n\n*/ SELECT 2;\nSELECT $$\n;\n$$;\nSELECT 4";
    assert.deepEqual(
      splitStatements(sql).map((statement) => statement.line),
      [1, 6, 7, 10],
    );
  });

  it('runs an unterminated string to the end of the text rather than splitting inside it', () => {
    assert.deepEqual(splitStatements("SELECT 1; SELECT 'open; SELECT 3"), [
      { text: 'SELECT 1', line: 1 },
      { text: "SELECT 'open; SELECT 3", line: 1 },
    ]);
  });
});

describe('mentionedIdentifiers', () => {
  it('lower-cases bare and quoted identifiers and skips literals and comments', () => {
    const found = mentionedIdentifiers(
      'SELECT "Mixed""Name", Other FROM t -- hidden\nWHERE x = \'lit\' /* gone */',
    );
    assert.deepEqual([...found].sort(), ['from', 'mixed"name', 'other', 'select', 't', 'where', 'x']);
  });

  it('reads identifiers with non-ASCII letters as one word', () => {
    assert.deepEqual([...mentionedIdentifiers('SELECT * FROM caféhourly')].sort(), [
      'caféhourly',
      'from',
      'select',
    ]);
  });
});

describe('referencedSteps', () => {
  const known = ['hourly', 'readings', 'daily_totals', 'Sensors'];

  it('finds step ids used bare, quoted and in mixed case, in the order of the known steps', () => {
    const sql =
      'SELECT * FROM "daily_totals" d JOIN READINGS r ON r.id = d.id JOIN sensors s USING (id) JOIN Hourly h USING (id)';
    assert.deepEqual(referencedSteps(sql, known), ['hourly', 'readings', 'daily_totals', 'Sensors']);
  });

  it('finds a step id used as a qualifier', () => {
    assert.deepEqual(referencedSteps('SELECT readings.value FROM main.readings', known), ['readings']);
  });

  it('does not find step ids inside strings, comments, $$ strings or quoted longer names', () => {
    const sql = [
      "SELECT 'hourly' AS label, E'readings\\' daily_totals' AS other",
      '-- FROM sensors',
      '/* JOIN hourly */',
      'FROM "readings_old", $$daily_totals$$',
    ].join('\n');
    assert.deepEqual(referencedSteps(sql, known), []);
  });

  it('does not find a step id that is only a part of a longer identifier', () => {
    const sql = 'SELECT hourly_x, x_hourly, hourly2, "hourly " FROM readingsx JOIN daily_totals_v USING (id)';
    assert.deepEqual(referencedSteps(sql, known), []);
  });

  it('returns nothing when no step is known', () => {
    assert.deepEqual(referencedSteps('SELECT * FROM hourly', []), []);
  });
});
