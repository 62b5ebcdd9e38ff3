/**
 * End to end through the real CLI in a temp folder: init the demo project, validate it, run both demo
 * pipelines, inspect the run records, and read the outputs back, checking every value against figures
 * computed here, independently, from the project's own data files.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { simpleParser } from 'mailparser';
import {
  assertExit,
  assertNoStackTrace,
  describeResult,
  duckQuery,
  listFiles,
  listRuns,
  localDate,
  makeTempDir,
  parseJson,
  removeDir,
  runCli,
  showRun,
  sqlString,
  type RunJson,
  type ShowJson,
} from './cli-harness.js';

const TIMEZONE = 'Europe/Berlin';

interface HourlyRow {
  hour: string;
  probe: string;
  temp_c: number;
  readings: number;
  outside_band: boolean;
}

interface Expected {
  /** Sum of readings in hundredths of a degree (the data has two decimals), so averages are exact. */
  sumHundredths: number;
  readings: number;
}

/**
 * The hourly figures the weekly-temperature pipeline should produce, from the raw CSV files: skip
 * rows whose temperature does not parse, keep one reading per (probe, instant), average per hour and
 * probe. Averages are kept as exact fractions of hundredths; rounding happens at comparison time.
 */
async function expectedHourly(
  dataDir: string,
): Promise<{ groups: Map<string, Expected>; unparsable: number; duplicates: number }> {
  const files = (await readdir(dataDir)).filter((name) => /^temperature_.*\.csv$/.test(name)).sort();
  assert.ok(
    files.length >= 2,
    `expected the demo's temperature files in ${dataDir}, found ${files.join(', ')}`,
  );
  const seen = new Set<string>();
  const groups = new Map<string, Expected>();
  let unparsable = 0;
  let duplicates = 0;
  for (const file of files) {
    const lines = (await readFile(join(dataDir, file), 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '');
    assert.equal(lines[0], 'ts,probe,temp_c', `${file} header`);
    for (const line of lines.slice(1)) {
      const [ts, probe, temp] = line.split(',');
      assert.ok(
        ts !== undefined && probe !== undefined && temp !== undefined,
        `${file}: unexpected line ${line}`,
      );
      assert.match(ts, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, `${file}: unexpected timestamp in ${line}`);
      if (!/^-?\d+(\.\d{1,2})?$/.test(temp)) {
        unparsable += 1;
        continue;
      }
      const key = `${probe}|${ts}`;
      if (seen.has(key)) {
        duplicates += 1;
        continue;
      }
      seen.add(key);
      const hour = `${ts.slice(0, 13)}:00:00`;
      const group = groups.get(`${hour}|${probe}`) ?? { sumHundredths: 0, readings: 0 };
      group.sumHundredths += Math.round(Number(temp) * 100);
      group.readings += 1;
      groups.set(`${hour}|${probe}`, group);
    }
  }
  return { groups, unparsable, duplicates };
}

/** The value(s) round(avg, 2) may legitimately have: one, or both neighbours at an exact tie. */
function roundedCandidates(expected: Expected): number[] {
  const hundredths = expected.sumHundredths / expected.readings;
  const low = Math.floor(hundredths);
  if (expected.sumHundredths % expected.readings === 0) return [hundredths / 100];
  const fraction = expected.sumHundredths - low * expected.readings; // exact: fraction * readings
  if (fraction * 2 === expected.readings) return [low / 100, (low + 1) / 100];
  return [(fraction * 2 < expected.readings ? low : low + 1) / 100];
}

function assertHourlyMatches(
  rows: HourlyRow[],
  groups: Map<string, Expected>,
  low: number,
  high: number,
  source: string,
): void {
  assert.equal(rows.length, groups.size, `${source}: number of (hour, probe) rows`);
  const keys = new Set<string>();
  for (const row of rows) {
    const key = `${row.hour}|${row.probe}`;
    assert.ok(!keys.has(key), `${source}: (hour, probe) ${key} appears twice`);
    keys.add(key);
    const expected = groups.get(key);
    assert.ok(expected, `${source}: unexpected row ${JSON.stringify(row)}`);
    const candidates = roundedCandidates(expected);
    assert.ok(
      candidates.some((value) => Math.abs(value - row.temp_c) < 1e-9),
      `${source}: temp_c of ${key} is ${row.temp_c}, expected ${candidates.join(' or ')} (sum ${expected.sumHundredths / 100} over ${expected.readings} readings)`,
    );
    assert.equal(row.readings, expected.readings, `${source}: readings of ${key}`);
    const mean = expected.sumHundredths / expected.readings / 100;
    assert.equal(
      row.outside_band,
      mean < low || mean > high,
      `${source}: outside_band of ${key} (mean ${mean})`,
    );
  }
}

/** Splits a plain CSV (no quoted fields in these outputs) into header-keyed records. */
function parseSimpleCsv(text: string): Record<string, string>[] {
  const lines = text.split(/\r?\n/).filter((line) => line !== '');
  const header = (lines[0] ?? '').split(',');
  return lines.slice(1).map((line) => {
    const fields = line.split(',');
    assert.equal(
      fields.length,
      header.length,
      `CSV line has ${fields.length} fields, header ${header.length}: ${line}`,
    );
    return Object.fromEntries(header.map((name, index) => [name, fields[index] ?? '']));
  });
}

/** A timestamp as written to CSV (`2026-11-16 00:00:00`, maybe with T or fractional seconds) → `yyyy-MM-dd HH:mm:ss`. */
function normaliseTimestamp(text: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.0+)?Z?$/.exec(text.replace(/^"|"$/g, ''));
  assert.ok(match, `unexpected timestamp text in CSV: ${text}`);
  return `${match[1]} ${match[2]}`;
}

const WEEKLY_STEPS = [
  'export',
  'export_csv',
  'export_summary',
  'hourly',
  'mail',
  'quality',
  'readings',
  'report',
  'summary',
  'temperature_chart',
  'worst_hours',
];

describe('pipewright CLI end to end (demo project)', { timeout: 240_000 }, () => {
  let root: string;
  let project: string;
  let run: RunJson;
  let shown: ShowJson;
  let runStdout: string;

  before(async () => {
    root = await makeTempDir('cli');
    project = join(root, 'demo');
  });
  after(async () => {
    await removeDir(root);
  });

  it('--help prints usage and exits 0', async () => {
    const result = await runCli(['--help'], { cwd: root });
    assertExit(result, 0, '--help');
    assert.match(result.stdout, /Usage: pipewright/);
    for (const command of ['init', 'validate', 'run', 'runs', 'show', 'logs', 'schema']) {
      assert.match(result.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `--help lists ${command}`);
    }
  });

  it('init creates the demo project', async () => {
    const result = await runCli(['init', 'demo'], { cwd: root });
    assertExit(result, 0, 'init demo');
    assert.match(result.stdout, /Created a Pipewright project/);
    const files = await listFiles(project);
    for (const expected of [
      'pipewright.yaml',
      'pipelines/weekly-temperature.yaml',
      'pipelines/sensor-documents.yaml',
      'steps/humidity-band.js',
      'data/temperature_probe1.csv',
      'data/temperature_probe2.csv',
      'data/sensor_documents.json',
    ]) {
      assert.ok(files.includes(expected), `init created ${expected} (files: ${files.join(', ')})`);
    }
    const again = await runCli(['init', 'demo'], { cwd: root });
    assertExit(again, 2, 'init into a non-empty folder');
    assert.match(again.stderr, /not empty/);
    assertNoStackTrace(again, 'init into a non-empty folder');
  });

  it('validate lists the demo pipelines and exits 0', async () => {
    const result = await runCli(['validate'], { cwd: project });
    assertExit(result, 0, 'validate');
    assert.match(result.stdout, /^ok\s+weekly-temperature \(11 steps\)/m);
    assert.match(result.stdout, /^ok\s+weekly-sales \(8 steps\)/m);
    assert.match(result.stdout, /^ok\s+sensor-documents \(4 steps\)/m);

    const json = await runCli(['validate', '--json'], { cwd: project });
    assertExit(json, 0, 'validate --json');
    const payload = parseJson<{
      ok: boolean;
      pipelines: { id: string; ok: boolean; steps: { id: string }[] }[];
    }>(json, 'validate --json');
    assert.equal(payload.ok, true);
    assert.deepEqual(payload.pipelines.map((pipeline) => pipeline.id).sort(), [
      'sensor-documents',
      'weekly-sales',
      'weekly-temperature',
    ]);
    const weekly = payload.pipelines.find((pipeline) => pipeline.id === 'weekly-temperature');
    assert.deepEqual(weekly?.steps.map((step) => step.id).sort(), WEEKLY_STEPS);
  });

  it('run weekly-temperature succeeds and lists its outputs', async () => {
    const result = await runCli(['run', 'weekly-temperature'], { cwd: project });
    assertExit(result, 0, 'run weekly-temperature');
    runStdout = result.stdout;
    assert.match(result.stdout, /^Run \S+ succeeded in [\d.]+s$/m);
    assert.match(result.stdout, /^Outputs \(in /m);
    assert.match(result.stdout, /export: \S*out\/hourly_\d{8}\.parquet \(\d+ rows\)/);
    assert.match(result.stdout, /export_csv: \S*out\/hourly_\d{8}\.csv \(\d+ rows\)/);
    assert.match(result.stdout, /export_summary: \S*out\/summary_\d{8}\.csv \(2 rows\)/);
    // The malformed 'ERR' reading is reported, not silently dropped.
    assert.match(result.stdout, /readings: 1 rejected rows/);
    // Not a terminal: plain log lines on stderr, no cursor movement.
    assert.ok(!result.stderr.includes('\u001b['), 'no terminal escape codes');
    assert.match(result.stderr, /\[readings\] started/);
    assertNoStackTrace(result, 'run weekly-temperature');
  });

  it('runs --json shows one succeeded run', async () => {
    const runs = await listRuns(project);
    assert.equal(runs.length, 1, JSON.stringify(runs));
    run = runs[0] as RunJson;
    assert.equal(run.pipeline, 'weekly-temperature');
    assert.equal(run.status, 'succeeded');
    assert.equal(run.error, null);
    assert.equal(run.trigger, 'manual:cli');
    assert.deepEqual(run.params, { low: 25, high: 35 });
    assert.ok(runStdout.includes(run.id), 'run printed its id');
    const table = await runCli(['runs'], { cwd: project });
    assertExit(table, 0, 'runs');
    assert.match(table.stdout, new RegExp(`^${run.id}\\s+weekly-temperature\\s+succeeded`, 'm'));
  });

  it('show <id prefix> --json has every step succeeded, with rows and the rejected row', async () => {
    shown = await showRun(project, run.id.slice(0, 18));
    assert.equal(shown.id, run.id);
    assert.equal(shown.status, 'succeeded');
    const steps = new Map(shown.steps.map((step) => [step.step, step]));
    assert.deepEqual([...steps.keys()].sort(), WEEKLY_STEPS);
    for (const step of shown.steps) {
      assert.equal(step.status, 'succeeded', `step ${step.step}: ${JSON.stringify(step)}`);
      assert.equal(step.attempt, 1, `step ${step.step} ran once`);
      assert.equal(step.error, null);
    }
    const { groups } = await expectedHourly(join(project, 'data'));
    const readings = steps.get('readings');
    const csvLines =
      (await readFile(join(project, 'data', 'temperature_probe1.csv'), 'utf8')).trim().split('\n').length -
      1 +
      (await readFile(join(project, 'data', 'temperature_probe2.csv'), 'utf8')).trim().split('\n').length -
      1;
    assert.equal(
      readings?.outputs.rejected_rows,
      1,
      `readings outputs: ${JSON.stringify(readings?.outputs)}`,
    );
    assert.equal(
      readings?.rows,
      csvLines - 1,
      'readings keeps every data line but the ERR one (duplicates are removed later)',
    );
    assert.equal(steps.get('hourly')?.rows, groups.size);
    assert.equal(steps.get('summary')?.rows, 2);
    for (const id of ['export', 'export_csv']) assert.equal(steps.get(id)?.rows, groups.size, `${id} rows`);
    // The warn-severity 'complete hours' rule warns exactly when some hour has fewer than 4 readings.
    const gapHours = [...groups.values()].filter((group) => group.readings < 4).length;
    const warnings = steps.get('quality')?.warnings ?? [];
    if (gapHours === 0) assert.deepEqual(warnings, [], 'no incomplete hours, no warnings');
    else
      assert.ok(
        warnings.some((warning) => /complete hours/.test(warning)),
        `quality warnings: ${JSON.stringify(warnings)}`,
      );
    // The rejected row went to an artifact, with its line number and text.
    const rejects = shown.artifacts.find(
      (artifact) => artifact.step === 'readings' && /rejects/.test(artifact.name),
    );
    assert.ok(rejects, `a rejects artifact: ${JSON.stringify(shown.artifacts)}`);
    const rejectsText = await readFile(rejects.path, 'utf8');
    assert.match(rejectsText, /ERR/);
    // Its line number in the source file, found here independently.
    const probe1 = (await readFile(join(project, 'data', 'temperature_probe1.csv'), 'utf8')).split('\n');
    const errLine = probe1.findIndex((line) => line.endsWith(',ERR')) + 1;
    assert.ok(errLine > 1, 'the demo data has an ERR reading in temperature_probe1.csv');
    assert.match(
      rejectsText,
      new RegExp(`temperature_probe1\\.csv,${errLine},`),
      `rejects name line ${errLine} of temperature_probe1.csv:\n${rejectsText}`,
    );
  });

  it('the weekly report: chart, HTML report with the figures, and an e-mail in outbox/ with the CSV attached', async () => {
    const shown = await showRun(project, run.id);
    const artifact = (step: string, name: string) =>
      shown.artifacts.find((candidate) => candidate.step === step && candidate.name === name);
    for (const [step, name] of [
      ['temperature_chart', 'temperature_chart.svg'],
      ['temperature_chart', 'temperature_chart.png'],
      ['report', 'report.html'],
    ] as const) {
      assert.ok(artifact(step, name), `${step}/${name} in ${JSON.stringify(shown.artifacts)}`);
    }
    // The figures the report shows, computed here from the exported CSV of the same run.
    const [figures] = await duckQuery(
      `SELECT round(avg(temp_c), 1) AS mean, count(*) FILTER (WHERE outside_band) AS outside
       FROM read_csv(${sqlString(join(project, 'out', `hourly_${localDate(run.scheduled_for, 'Europe/Berlin')}.csv`))})`,
    );
    const html = await readFile(artifact('report', 'report.html')?.path ?? '', 'utf8');
    assert.ok(
      html.includes(`${Number(figures?.mean).toFixed(1)} °C`),
      `mean ${String(figures?.mean)} in the report`,
    );
    assert.match(html, new RegExp(`>${String(figures?.outside)}<`), 'hours outside the band in the report');
    assert.doesNotMatch(html, /(src|href)="https?:/, 'self-contained');

    const outbox = await listFiles(join(project, 'outbox'));
    assert.deepEqual(outbox, [`${run.id}-mail-1.eml`]);
    // show records the message in the run's deliveries.
    assert.deepEqual(
      shown.deliveries.map((delivery) => [delivery.step, delivery.kind, delivery.status, delivery.target]),
      [['mail', 'email', 'outbox', 'facilities@example.com']],
    );
    const text = await runCli(['show', run.id], { cwd: project });
    assert.match(text.stdout, /^Deliveries\n/m);
    assert.match(
      text.stdout,
      /^mail\s+email\s+outbox\s+facilities@example\.com\s+Weekly temperature report/m,
    );
    const mail = await simpleParser(await readFile(join(project, 'outbox', outbox[0] ?? '')), {
      keepCidLinks: true,
    });
    assert.equal(
      mail.subject,
      `Weekly temperature report, ${localDate(run.scheduled_for, 'Europe/Berlin', '-')}`,
    );
    const csvName = `hourly_${localDate(run.scheduled_for, 'Europe/Berlin')}.csv`;
    const csv = mail.attachments.find((attachment) => attachment.filename === csvName);
    assert.ok(
      csv,
      `the CSV is attached: ${mail.attachments.map((attachment) => attachment.filename).join(', ')}`,
    );
    assert.deepEqual(csv.content, await readFile(join(project, 'out', csvName)));
    const inline = mail.attachments.filter((attachment) => attachment.contentDisposition === 'inline');
    assert.ok(
      inline.some(
        (image) => image.contentType === 'image/png' && String(mail.html).includes(`cid:${image.cid}`),
      ),
      'the chart is an inline PNG the HTML refers to',
    );
  });

  it('logs <id> prints the run log', async () => {
    const result = await runCli(['logs', run.id], { cwd: project });
    assertExit(result, 0, 'logs');
    const lines = result.stdout.split('\n').filter((line) => line.trim() !== '');
    assert.ok(lines.length >= 8, `expected log lines, got:\n${result.stdout}`);
    assert.match(result.stdout, /run started by manual:cli/);
    assert.match(result.stdout, /\[hourly\] succeeded/);
    assert.match(result.stdout, /run succeeded/);
  });

  it('the Parquet and CSV exports hold the hourly averages computed from the raw data', async () => {
    const date = localDate(run.scheduled_for, TIMEZONE);
    const outputs = await listFiles(join(project, 'out'));
    assert.deepEqual(outputs, [`hourly_${date}.csv`, `hourly_${date}.parquet`, `summary_${date}.csv`]);
    const { groups, unparsable, duplicates } = await expectedHourly(join(project, 'data'));
    assert.equal(unparsable, 1, 'the demo data has one malformed reading');
    assert.equal(duplicates, 1, 'the demo data has one duplicated reading');

    const parquetPath = join(project, 'out', `hourly_${date}.parquet`);
    const columns = await duckQuery(`DESCRIBE SELECT * FROM read_parquet(${sqlString(parquetPath)})`);
    assert.deepEqual(
      columns.map((column) => [column.column_name, column.column_type]),
      [
        ['hour', 'TIMESTAMP'],
        ['probe', 'VARCHAR'],
        ['temp_c', 'DOUBLE'],
        ['readings', 'BIGINT'],
        ['outside_band', 'BOOLEAN'],
      ],
    );
    const parquetRows = (
      await duckQuery(
        `SELECT strftime(hour, '%Y-%m-%d %H:%M:%S') AS hour, probe, temp_c, readings, outside_band FROM read_parquet(${sqlString(parquetPath)})`,
      )
    ).map((row) => ({ ...row, readings: Number(row.readings) }) as unknown as HourlyRow);
    assertHourlyMatches(parquetRows, groups, 25, 35, 'parquet');
    // Sorted by hour, then probe (ORDER BY ALL).
    const order = parquetRows.map((row) => `${row.hour}|${row.probe}`);
    assert.deepEqual(order, [...order].sort());
    // A week of readings from two probes: about 7 × 24 hours each (fewer where a probe lost power).
    for (const probe of ['probe1', 'probe2']) {
      const hours = parquetRows.filter((row) => row.probe === probe).length;
      assert.ok(hours > 6 * 24 && hours <= 7 * 24, `${probe} has ${hours} hours`);
    }

    const csvRecords = parseSimpleCsv(await readFile(join(project, 'out', `hourly_${date}.csv`), 'utf8'));
    const csvRows = csvRecords.map((record) => ({
      hour: normaliseTimestamp(record.hour ?? ''),
      probe: record.probe ?? '',
      temp_c: Number(record.temp_c),
      readings: Number(record.readings),
      outside_band: record.outside_band === 'true',
    }));
    assert.ok(
      csvRecords.every((record) => record.outside_band === 'true' || record.outside_band === 'false'),
    );
    assertHourlyMatches(csvRows, groups, 25, 35, 'csv');

    // The summary: per probe, min/max of the hourly values and the hours outside the band.
    const summary = parseSimpleCsv(await readFile(join(project, 'out', `summary_${date}.csv`), 'utf8'));
    assert.deepEqual(
      summary.map((record) => record.probe),
      ['probe1', 'probe2'],
    );
    for (const record of summary) {
      const hourly = parquetRows.filter((row) => row.probe === record.probe);
      assert.equal(
        Number(record.min_c),
        Math.min(...hourly.map((row) => row.temp_c)),
        `min_c of ${record.probe}`,
      );
      assert.equal(
        Number(record.max_c),
        Math.max(...hourly.map((row) => row.temp_c)),
        `max_c of ${record.probe}`,
      );
      assert.equal(
        Number(record.hours_outside_band),
        hourly.filter((row) => row.outside_band).length,
        `hours_outside_band of ${record.probe}`,
      );
      const mean = hourly.reduce((sum, row) => sum + row.temp_c, 0) / hourly.length;
      assert.ok(
        Math.abs(Number(record.mean_c) - mean) <= 0.005 + 1e-9,
        `mean_c of ${record.probe}: ${record.mean_c} vs ${mean}`,
      );
    }
  });

  it('run with an invalid parameter exits 2 naming the parameter, and records nothing', async () => {
    const result = await runCli(['run', 'weekly-temperature', '--param', 'low=abc'], { cwd: project });
    assertExit(result, 2, 'run --param low=abc');
    assert.match(result.stderr, /PW_PARAM_INVALID/);
    assert.match(result.stderr, /low: expected a number, found 'abc'/);
    assertNoStackTrace(result, 'run --param low=abc');
    const unknown = await runCli(['run', 'weekly-temperature', '--param', 'lwo=20'], { cwd: project });
    assertExit(unknown, 2, 'run --param lwo=20');
    assert.match(unknown.stderr, /lwo: not a parameter of this pipeline/);
    assert.equal((await listRuns(project)).length, 1, 'no run recorded for invalid parameters');
  });

  it('a run with parameters records and applies them', async () => {
    const result = await runCli(
      ['run', 'weekly-temperature', '--param', 'low=30', '--param', 'high=32', '--json'],
      { cwd: project },
    );
    assertExit(result, 0, 'run with params --json');
    const record = parseJson<RunJson>(result, 'run --json');
    assert.equal(record.status, 'succeeded');
    assert.deepEqual(record.params, { low: 30, high: 32 });
    const date = localDate(record.scheduled_for, TIMEZONE);
    const { groups } = await expectedHourly(join(project, 'data'));
    const rows = (
      await duckQuery(
        `SELECT strftime(hour, '%Y-%m-%d %H:%M:%S') AS hour, probe, temp_c, readings, outside_band
         FROM read_parquet(${sqlString(join(project, 'out', `hourly_${date}.parquet`))})`,
      )
    ).map((row) => ({ ...row, readings: Number(row.readings) }) as unknown as HourlyRow);
    assertHourlyMatches(rows, groups, 30, 32, 'parquet (low=30, high=32)');
  });

  it('run sensor-documents (with the user-written step) labels humidity bands correctly', async () => {
    const result = await runCli(['run', 'sensor-documents'], { cwd: project });
    assertExit(result, 0, 'run sensor-documents');
    const record = (await listRuns(project)).find((candidate) => candidate.pipeline === 'sensor-documents');
    assert.ok(record, 'a sensor-documents run is recorded');
    assert.equal(record.status, 'succeeded');
    const details = await showRun(project, record.id);
    const enrich = details.steps.find((step) => step.step === 'enrich');
    assert.equal(enrich?.status, 'succeeded');

    const documents = JSON.parse(await readFile(join(project, 'data', 'sensor_documents.json'), 'utf8')) as {
      _id: { $oid: string };
      site: string;
      humidity_pct: number;
      alarms: string[];
    }[];
    assert.equal(enrich?.rows, documents.length);
    const path = join(
      project,
      'out',
      `sensor_documents_${localDate(record.scheduled_for, TIMEZONE, '-')}.parquet`,
    );
    const rows = await duckQuery(
      `SELECT id, site, humidity_pct, has_alarm, humidity_band FROM read_parquet(${sqlString(path)})`,
    );
    assert.equal(rows.length, documents.length);
    const byId = new Map(documents.map((document) => [document._id.$oid, document]));
    const band = (pct: number) => (pct < 40 ? 'dry' : pct > 65 ? 'humid' : 'comfortable');
    for (const row of rows) {
      const source = byId.get(String(row.id));
      assert.ok(source, `row ${String(row.id)} comes from the JSON export`);
      assert.equal(row.site, source.site);
      assert.equal(row.humidity_pct, source.humidity_pct);
      assert.equal(row.has_alarm, source.alarms.length > 0);
      assert.equal(
        row.humidity_band,
        band(source.humidity_pct),
        `humidity_band of ${String(row.id)} (${source.humidity_pct}%)`,
      );
    }
    // A few rows spelled out, so a wrong threshold cannot hide behind the same mistake twice: the
    // driest row, the most humid one, and the one closest to the middle of the comfortable band.
    const byHumidity = [...rows].sort((a, b) => Number(a.humidity_pct) - Number(b.humidity_pct));
    const driest = byHumidity[0];
    const wettest = byHumidity.at(-1);
    const middle = [...rows].sort(
      (a, b) => Math.abs(Number(a.humidity_pct) - 52.5) - Math.abs(Number(b.humidity_pct) - 52.5),
    )[0];
    assert.ok(
      Number(driest?.humidity_pct) < 40,
      `the demo data has a dry reading: ${JSON.stringify(driest)}`,
    );
    assert.equal(driest?.humidity_band, 'dry');
    assert.ok(
      Number(wettest?.humidity_pct) > 65,
      `the demo data has a humid reading: ${JSON.stringify(wettest)}`,
    );
    assert.equal(wettest?.humidity_band, 'humid');
    assert.ok(Math.abs(Number(middle?.humidity_pct) - 52.5) < 5, JSON.stringify(middle));
    assert.equal(middle?.humidity_band, 'comfortable');
  });

  it('schema prints a JSON Schema', async () => {
    const result = await runCli(['schema'], { cwd: project });
    assertExit(result, 0, 'schema');
    const schema = parseJson<{ $schema?: string; properties?: Record<string, unknown> }>(result, 'schema');
    assert.match(String(schema.$schema), /json-schema\.org/);
    for (const field of ['id', 'steps', 'params', 'schedule'])
      assert.ok(schema.properties?.[field], `schema describes ${field}`);
    assert.match(result.stdout, /files\.read/);
  });

  it('run of an unknown pipeline exits 2, with a did-you-mean hint when the name is close', async () => {
    const far = await runCli(['run', 'nope'], { cwd: project });
    assertExit(far, 2, 'run nope');
    assert.match(far.stderr, /PW_PIPELINE_NOT_FOUND/);
    assert.match(far.stderr, /No pipeline 'nope'/);
    assert.match(far.stderr, /weekly-temperature/, 'lists the pipelines that exist');
    assert.doesNotMatch(far.stderr, /Did you mean/);
    assertNoStackTrace(far, 'run nope');

    const close = await runCli(['run', 'weekly-temprature'], { cwd: project });
    assertExit(close, 2, 'run weekly-temprature');
    assert.match(close.stderr, /Did you mean 'weekly-temperature'\?/, describeResult(close));
    assertNoStackTrace(close, 'run weekly-temprature');
  });

  it('--project works from another folder, and runs filters by pipeline and status', async () => {
    const all = await runCli(['--project', 'demo', 'runs', '--json'], { cwd: root });
    assertExit(all, 0, 'runs --project demo');
    const runs = parseJson<RunJson[]>(all, 'runs --json');
    assert.deepEqual(
      runs.map((record) => [record.pipeline, record.status]),
      [
        ['sensor-documents', 'succeeded'],
        ['weekly-temperature', 'succeeded'],
        ['weekly-temperature', 'succeeded'],
      ],
      'newest first',
    );
    const weekly = await runCli(
      ['runs', '--pipeline', 'weekly-temperature', '--json', '--project', project],
      { cwd: root },
    );
    assertExit(weekly, 0, 'runs --pipeline');
    assert.equal(parseJson<RunJson[]>(weekly, 'runs --pipeline').length, 2);
    const failed = await runCli(['runs', '--status', 'failed', '--json'], { cwd: project });
    assertExit(failed, 0, 'runs --status failed');
    assert.deepEqual(parseJson<RunJson[]>(failed, 'runs --status failed'), []);
    const badStatus = await runCli(['runs', '--status', 'exploded'], { cwd: project });
    assertExit(badStatus, 2, 'runs --status exploded');
  });

  it('usage errors exit 2', async () => {
    const result = await runCli(['frobnicate'], { cwd: project });
    assertExit(result, 2, 'an unknown command');
    const outside = await runCli(['validate'], { cwd: root });
    assertExit(outside, 2, 'validate outside a project');
    assert.match(outside.stderr, /PW_PROJECT_NOT_FOUND/);
    assertNoStackTrace(outside, 'validate outside a project');
  });

  it('run weekly-sales reads the shop database and sums revenue per category as the database does', async () => {
    const result = await runCli(['run', 'weekly-sales'], { cwd: project });
    assertExit(result, 0, 'run weekly-sales');
    const sales = (await listRuns(project)).find((candidate) => candidate.pipeline === 'weekly-sales');
    assert.ok(sales);
    // The same week, read straight from SQLite.
    const shop = new Database(join(project, 'data', 'shop.sqlite'), { readonly: true });
    const expected = shop
      .prepare(
        `SELECT p.category, count(DISTINCT o.id) AS orders, sum(i.quantity) AS units,
                printf('%.2f', sum(i.quantity * i.unit_price)) AS revenue
         FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
         WHERE o.status = 'paid'
           AND o.ordered_at >= (SELECT datetime(max(ordered_at), 'start of day', '-6 days') FROM orders)
         GROUP BY p.category ORDER BY sum(i.quantity * i.unit_price) DESC`,
      )
      .all() as { category: string; orders: number; units: number; revenue: string }[];
    shop.close();
    assert.equal(expected.length, 5);
    const csv = (
      await readFile(
        join(project, 'out', `sales_by_category_${localDate(sales.scheduled_for, 'Europe/Berlin', '-')}.csv`),
        'utf8',
      )
    )
      .trim()
      .split('\n');
    assert.deepEqual(csv, [
      'category,orders,units,revenue',
      ...expected.map((row) => `${row.category},${row.orders},${row.units},${row.revenue}`),
    ]);
    const mails = (await listFiles(join(project, 'outbox'))).filter((file) => file.startsWith(sales.id));
    assert.equal(mails.length, 1);
  });
});
