/**
 * Tests for the `report` step's HTML (no Chromium here; report-pdf.test.ts prints PDFs): the default
 * template, Markdown and HTML templates inline and from files, the helper tags, escaping, truncation,
 * metric changes against a previous run, self-containment, and every kind of bad input.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStep, type StepResult } from '../../core/step.js';
import { z } from 'zod';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError, rejectsWith } from '../../testing/assertions.js';
import { reportInputs, reportStep } from './report.js';
import { reportConfig } from './report-schema.js';

let harness: StepHarness;

const SCHEDULED = new Date('2026-03-23T07:00:00Z'); // Monday 08:00 in Berlin
const RUN = {
  timezone: 'Europe/Berlin',
  scheduledFor: SCHEDULED,
  params: { low: 25, site: 'north-hall' },
};

/** A 1×1 PNG and a small SVG, as a chart step would register them. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" viewBox="0 0 400 200"><rect width="400" height="200" fill="#eef"/><text x="10" y="20">Temperature by hour</text></svg>';

const fakeChart = defineStep({
  type: 'test.chart',
  kind: 'report',
  description: 'Registers a fixed SVG and PNG, as the chart step does.',
  config: z.strictObject({}),
  producesDataset: false,
  async run(ctx): Promise<StepResult> {
    await mkdir(ctx.artifacts.dir, { recursive: true });
    const svg = join(ctx.artifacts.dir, `${ctx.stepId}.svg`);
    const png = join(ctx.artifacts.dir, `${ctx.stepId}.png`);
    await writeFile(svg, SVG);
    await writeFile(png, PNG);
    await ctx.artifacts.register(svg, { contentType: 'image/svg+xml' });
    await ctx.artifacts.register(png, { contentType: 'image/png' });
    return { outputs: { svg, png, width: 400, height: 200 } };
  },
});

before(async () => {
  harness = await createStepHarness();
  await harness.query(`CREATE TABLE hourly AS SELECT * FROM (VALUES
      (TIMESTAMP '2026-03-16 00:00', 'north', 21.04, 4),
      (TIMESTAMP '2026-03-16 00:00', 'south', 19.5, 4),
      (TIMESTAMP '2026-03-16 01:00', 'north', 22.96, 4),
      (TIMESTAMP '2026-03-16 01:00', 'south', 18.25, 3),
      (TIMESTAMP '2026-03-16 02:00', 'north', 25.75, 4),
      (TIMESTAMP '2026-03-16 02:00', 'south', NULL, 0)
    ) AS t(hour, probe, temp_c, readings)`);
  await harness.query(
    `CREATE TABLE big AS SELECT i AS id, 'row ' || i AS label, i * 1.5 AS amount, repeat('x', 2000) AS blob FROM range(12345) t(i)`,
  );
  await harness.query(`CREATE TABLE evil AS SELECT * FROM (VALUES
      ('<script>alert(1)</script>', '<img src=x onerror=alert(2)>'),
      ('Tom & Jerry "quoted"', 'it''s')
    ) AS t(note, html)`);
  await harness.runStep(fakeChart, {}, { stepId: 'hourly_chart' });
});
after(async () => {
  await harness.close();
});

/** Runs the report step and returns its result and the HTML it wrote. */
async function report(
  config: Record<string, unknown>,
  options: Parameters<StepHarness['runStep']>[2] = {},
): Promise<{ result: StepResult; html: string }> {
  const stepId = options.stepId ?? 'report';
  const result = await harness.runStep(reportStep, { pdf: false, ...config }, { ...RUN, ...options, stepId });
  const artifact = harness.artifacts
    .filter((entry) => entry.stepId === stepId && entry.contentType === 'text/html')
    .at(-1);
  assert.ok(artifact, 'report.html was registered');
  return { result, html: await readFile(artifact.path, 'utf8') };
}

const unescape = (text: string) =>
  text
    .replace(/<[^>]+>/g, '')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');

/** The rows of the n-th table in the HTML (header first, then body, then totals), as plain text cells. */
function tableRows(html: string, index = 0): string[][] {
  const table = [...html.matchAll(/<table>([\s\S]*?)<\/table>/g)][index]?.[1] ?? '';
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...(row[1] ?? '').matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((cell) => unescape(cell[1] ?? '')),
  );
}

const METRICS = {
  mean_temp: { dataset: 'hourly', column: 'temp_c', agg: 'avg', format: '0.0 °C', better: 'higher' },
  readings: { query: 'SELECT sum(readings) FROM hourly', label: 'Readings', better: 'higher' },
  max_temp: { dataset: 'hourly', column: 'temp_c', agg: 'max', format: '0.00', better: 'lower' },
};

describe('report: the default template', () => {
  it('shows the title, run metadata in the pipeline zone, every metric, chart and dataset', async () => {
    const { result, html } = await report({
      title: 'Weekly temperature',
      datasets: ['hourly'],
      charts: ['hourly_chart'],
      metrics: METRICS,
    });
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<title>Weekly temperature<\/title>/);
    assert.match(html, /<h1>Weekly temperature<\/h1>/);
    assert.match(html, /<dt>Scheduled for<\/dt><dd>Mon 23 Mar 2026, 08:00 \(Europe\/Berlin\)<\/dd>/);
    assert.match(html, /<dt>Parameters<\/dt><dd>low = 25, site = north-hall<\/dd>/);
    assert.match(html, /<dt>Run<\/dt><dd>test-run<\/dd>/);
    // Metrics: value formatted, no previous run yet.
    assert.match(
      html,
      /data-metric="mean_temp">\n<div class="pw-metric-label">Mean temp<\/div>\n<div class="pw-metric-value">21\.5 °C<\/div>/,
    );
    assert.match(
      html,
      /<div class="pw-metric-label">Readings<\/div>\n<div class="pw-metric-value">19<\/div>/,
    );
    assert.match(html, /<div class="pw-metric-value">25\.75<\/div>/);
    assert.equal(html.match(/no earlier run to compare/g)?.length, 3);
    assert.match(html, /<h2>Key figures<\/h2>\n<div class="pw-metrics">/);
    assert.match(html, /<h2>Charts<\/h2>\n<figure/);
    // The chart, embedded.
    assert.match(
      html,
      /<figure class="pw-chart" data-chart="hourly_chart">\n<img src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="hourly_chart" width="400" height="200">/,
    );
    // The dataset as a table: its heading, every row, numbers lined up, NULL shown as a dash.
    assert.match(html, /<h2>Hourly<\/h2>/);
    assert.deepEqual(tableRows(html), [
      ['hour', 'probe', 'temp_c', 'readings'],
      ['2026-03-16 00:00', 'north', '21.04', '4'],
      ['2026-03-16 00:00', 'south', '19.50', '4'],
      ['2026-03-16 01:00', 'north', '22.96', '4'],
      ['2026-03-16 01:00', 'south', '18.25', '3'],
      ['2026-03-16 02:00', 'north', '25.75', '4'],
      ['2026-03-16 02:00', 'south', '–', '0'],
    ]);
    assert.match(html, /<td class="pw-num">21\.04<\/td>/);
    assert.deepEqual(result.outputs, {
      path: '.pipewright/artifacts/test-run/report/report.html',
      html: '.pipewright/artifacts/test-run/report/report.html',
      title: 'Weekly temperature',
      metrics: { mean_temp: 21.5, readings: 19, max_temp: 25.75 },
      metrics_text: { mean_temp: '21.5 °C', readings: '19', max_temp: '25.75' },
      tables: { hourly: { rows: 6, shown: 6 } },
    });
    const artifact = harness.artifacts.filter((entry) => entry.stepId === 'report').at(-1);
    assert.deepEqual(artifact && [artifact.name, artifact.contentType], ['report.html', 'text/html']);
    assert.equal(result.bytes, Buffer.byteLength(html));
  });

  it('defaults the title to the pipeline id and says when there is nothing to show', async () => {
    const { html } = await report({});
    assert.match(html, /<h1>Test<\/h1>/);
    assert.match(html, /This report shows nothing yet/);
    assert.doesNotMatch(html, /Key figures|<h2>Charts/);
  });

  it('takes per-dataset table options and captions for charts', async () => {
    const { html } = await report({
      datasets: [
        {
          id: 'hourly',
          title: 'Warmest hours',
          columns: ['hour', 'temp_c'],
          labels: { temp_c: 'Temperature' },
          format: { temp_c: '0.0 °C', hour: 'HH:mm' },
          order_by: ['temp_c desc'],
          max_rows: 2,
          caption: 'Per probe and hour',
        },
      ],
      charts: [{ id: 'hourly_chart', caption: 'Hourly means' }],
      chart_images: 'png',
    });
    assert.match(html, /<h2>Warmest hours<\/h2>/);
    assert.deepEqual(tableRows(html), [
      ['hour', 'Temperature'],
      ['02:00', '25.8 °C'],
      ['01:00', '23.0 °C'],
    ]);
    assert.match(html, /<caption>Per probe and hour<\/caption>/);
    assert.match(html, /Showing 2 of 6 rows\./);
    assert.match(
      html,
      /<img src="data:image\/png;base64,[^"]+" alt="Hourly means" width="1" height="1">\n<figcaption>Hourly means<\/figcaption>/,
    );
  });
});

describe('report: templates', () => {
  it('renders a Markdown template with parameters, run values, zone dates, metrics and helpers', async () => {
    const template = [
      '# Report for {{ params.site }}',
      '',
      "Run `{{ run.id }}`, week of {{ run.scheduled_for | date: 'd MMMM yyyy HH:mm' }}; alert above {{ params.low }} °C.",
      '',
      '{% metric mean_temp %}',
      '',
      '| probe | note |',
      '|---|---|',
      '| north | *fine* |',
      '',
      '{% table hourly, columns: "probe,temp_c", max_rows: 2, title: "First two" %}',
      '',
      '{% if metrics.mean_temp.value > params.low %}Too warm{% else %}Within limits: {{ metrics.mean_temp.text }} ({{ metrics.max_temp.value | number: "0.0" }} at most){% endif %}',
    ].join('\n');
    const { html } = await report({ template, metrics: METRICS });
    assert.match(html, /<h1>Report for north-hall<\/h1>/);
    assert.match(
      html,
      /<p>Run <code>test-run<\/code>, week of 23 March 2026 08:00; alert above 25 °C\.<\/p>/,
    );
    assert.match(html, /<div class="pw-metric-value">21\.5 °C<\/div>/);
    assert.deepEqual(tableRows(html, 0), [
      ['probe', 'note'],
      ['north', 'fine'],
    ]);
    assert.match(html, /<td><em>fine<\/em><\/td>/);
    assert.match(html, /<h3>First two<\/h3>/);
    assert.deepEqual(tableRows(html, 1), [
      ['probe', 'temp_c'],
      ['north', '21.04'],
      ['south', '19.50'],
    ]);
    assert.match(html, /<p>Within limits: 21\.5 °C \(25\.8 at most\)<\/p>/);
  });

  it('renders the table helper with labels, formats, order, totals and a row limit', async () => {
    const template =
      '<section>{% table hourly, columns: "hour,probe,temp_c,readings", labels: "temp_c:Temp (°C), probe:Probe", format: "temp_c:0.0, hour:dd.MM. HH:mm", order_by: "temp_c desc", max_rows: 3, totals: "temp_c:avg, readings:sum" %}</section>';
    const { html, result } = await report({ template, template_format: 'html' });
    assert.deepEqual(tableRows(html), [
      ['hour', 'Probe', 'Temp (°C)', 'readings'],
      ['16.03. 02:00', 'north', '25.8', '4'],
      ['16.03. 01:00', 'north', '23.0', '4'],
      ['16.03. 00:00', 'north', '21.0', '4'],
      ['Totals', '', '21.5', '19'],
    ]);
    assert.match(html, /<td class="pw-num" title="avg">21\.5<\/td><td class="pw-num" title="sum">19<\/td>/);
    assert.match(html, /Showing 3 of 6 rows\. Totals cover all rows\./);
    assert.deepEqual(result.outputs?.['tables'], { hourly: { rows: 6, shown: 3 } });
  });

  it('reads template files: .md as Markdown, .html as HTML', async () => {
    await harness.writeFile(
      'reports/weekly.md',
      '## Probes\n\n{% table hourly, columns: "probe", max_rows: 1 %}\n',
    );
    const markdown = await report({ template_file: 'reports/weekly.md' });
    assert.match(markdown.html, /<h2>Probes<\/h2>/);
    assert.deepEqual(tableRows(markdown.html), [['probe'], ['north']]);
    await harness.writeFile(
      'reports/weekly.html',
      '<h2 class="x">{{ report.title }}</h2>\n    {% chart hourly_chart, caption: "Hourly" %}',
    );
    const page = await report({ template_file: 'reports/weekly.html', title: 'Plain' });
    assert.match(page.html, /<h2 class="x">Plain<\/h2>\n {4}<figure class="pw-chart"/);
    assert.match(page.html, /<figcaption>Hourly<\/figcaption>/);
  });

  it('cuts a dataset too large for a table, with a note, and keeps the document small', async () => {
    const { html, result } = await report({ datasets: ['big'] });
    assert.match(html, /<p class="pw-note pw-truncated">Showing 200 of 12,345 rows\.<\/p>/);
    const rows = tableRows(html);
    assert.equal(rows.length, 201);
    assert.deepEqual(rows[1]?.slice(0, 3), ['0', 'row 0', '0.0']);
    assert.deepEqual(rows[200]?.slice(0, 3), ['199', 'row 199', '298.5']);
    // A 2,000-character cell is cut at 500 characters.
    assert.equal(rows[1]?.[3], `${'x'.repeat(500)}…`);
    assert.ok(Buffer.byteLength(html) < 200_000, `report.html is ${Buffer.byteLength(html)} bytes`);
    assert.deepEqual(result.outputs?.['tables'], { big: { rows: 12345, shown: 200 } });

    const smaller = await report({ datasets: ['big'], max_table_rows: 50 });
    assert.match(smaller.html, /Showing 50 of 12,345 rows\./);
  });
});

describe('report: escaping', () => {
  it('prints data values, parameters and titles as text, never as markup', async () => {
    const template = ['# {{ report.title }}', '', 'Note: {{ params.note }}', '', '{% table evil %}'].join(
      '\n',
    );
    const { html } = await report(
      { title: '<b>Bold</b> & co', template: `${template}\n\n{% run_info %}`, datasets: ['evil'] },
      { params: { note: '<script>alert(3)</script>' } },
    );
    assert.doesNotMatch(html, /<script|<img src=x|<b>Bold/);
    assert.match(html, /<title>&lt;b&gt;Bold&lt;\/b&gt; &amp; co<\/title>/);
    assert.match(html, /<h1>&lt;b&gt;Bold&lt;\/b&gt; &amp; co<\/h1>/);
    assert.match(html, /Note: &lt;script&gt;alert\(3\)&lt;\/script&gt;/);
    assert.match(html, /<dd>note = &lt;script&gt;alert\(3\)&lt;\/script&gt;<\/dd>/);
    assert.match(html, /<td>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/td>/);
    assert.deepEqual(tableRows(html), [
      ['note', 'html'],
      ['<script>alert(1)</script>', '<img src=x onerror=alert(2)>'],
      ['Tom & Jerry "quoted"', "it's"],
    ]);
  });
});

describe('report: metric change against the previous run', () => {
  it('shows arrows, signed changes and percentages, green or red by `better`', async () => {
    const { html, result } = await report(
      {
        template:
          '{% metrics %}\n\n{% run_info %}\n\n{{ metrics.mean_temp.change_text }} / {{ metrics.readings.direction }} / {{ report.previous_run.id }}',
        metrics: METRICS,
      },
      {
        previousOutputs: {
          runId: '20260316-070000-abcdef',
          scheduledFor: new Date('2026-03-16T07:00:00Z'),
          finishedAt: new Date('2026-03-16T07:01:00Z'),
          outputs: { metrics: { mean_temp: 20, readings: 25, max_temp: 24 } },
        },
      },
    );
    // mean_temp 21.5 vs 20: up, higher is better.
    assert.match(
      html,
      /<div class="pw-change pw-good" title="previous run: 20\.0 °C">▲ \+1\.5 °C \(\+7\.5%\) <span class="pw-vs">vs\. previous run<\/span><\/div>/,
    );
    // readings 19 vs 25: down, higher is better.
    assert.match(html, /<div class="pw-change pw-bad" title="previous run: 25">▼ -6 \(-24\.0%\)/);
    // max_temp 25.75 vs 24: up, lower is better.
    assert.match(html, /<div class="pw-change pw-bad" title="previous run: 24\.00">▲ \+1\.75 \(\+7\.3%\)/);
    assert.match(html, /<dt>Compared with<\/dt><dd>20260316-070000-abcdef \(Mon 16 Mar 2026, 08:00\)<\/dd>/);
    assert.match(html, /▲ \+1\.5 °C \(\+7\.5%\) \/ down \/ 20260316-070000-abcdef/);
    assert.equal(result.outputs?.['previous_run'], '20260316-070000-abcdef');
  });

  it('says so when the previous run has no value for a metric', async () => {
    const { html } = await report(
      { template: '{% metric readings %}', metrics: METRICS },
      {
        previousOutputs: {
          runId: 'r0',
          scheduledFor: new Date(0),
          finishedAt: undefined,
          outputs: { metrics: {} },
        },
      },
    );
    assert.match(html, /<div class="pw-change">no earlier value<\/div>/);
  });
});

describe('report: self-contained', () => {
  it('loads nothing from anywhere: charts are data: URIs, styles inline, links in content kept', async () => {
    const template = [
      'See the [probe manual](https://example.com/manual) or <https://example.org>.',
      '',
      '{% chart hourly_chart %}',
      '',
      '{% table hourly, max_rows: 1 %}',
    ].join('\n');
    const { html } = await report({ template, css: '.pw-report h1 { color: teal }' });
    const sources = [...html.matchAll(/\ssrc="([^"]*)"/g)].map((match) => match[1] ?? '');
    assert.ok(
      sources.length > 0 && sources.every((src) => src.startsWith('data:image/')),
      sources.join(', '),
    );
    const hrefs = [...html.matchAll(/<(\w+)[^>]*\shref="([^"]*)"/g)].map((match) => [match[1], match[2]]);
    assert.deepEqual(hrefs, [
      ['a', 'https://example.com/manual'],
      ['a', 'https://example.org'],
    ]);
    assert.doesNotMatch(html, /<link|<script|@import|url\(\s*['"]?http/i);
    assert.match(
      html,
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:">/,
    );
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(html, /\.pw-report h1 \{ color: teal \}\n<\/style>/);
    assert.match(html, /@media print\{/);
    assert.match(html, /prefers-color-scheme:dark/);
  });
});

describe('report: bad input', () => {
  it('an unknown dataset in a tag names the tag and line and suggests the closest', async () => {
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_DATASET_UNKNOWN');
        assert.equal(
          pw.message,
          "{% table hourli %}: dataset 'hourli' does not exist in this run (template line 3, column 1)",
        );
        assert.equal(pw.path, 'with.template');
        assert.equal(pw.hint, 'Did you mean `hourly`?');
      },
      report({ template: '# Title\n\n{% table hourli %}\n' }),
    );
  });

  it('an unknown dataset, column, chart or metric elsewhere says where, with a suggestion', async () => {
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_DATASET_UNKNOWN');
        assert.equal(pw.path, 'with.datasets[0]');
        assert.match(pw.message, /^datasets\[0\] \(hourli\): dataset 'hourli' does not exist/);
      },
      report({ datasets: ['hourli'] }),
    );
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_SPEC_TYPE');
        assert.match(
          pw.message,
          /\{% table hourly %\}: columns: dataset 'hourly' has no column 'temp' \(template line 1, column 1\)/,
        );
        assert.equal(pw.hint, 'Did you mean `temp_c`?');
      },
      report({ template: '{% table hourly, columns: "hour, temp" %}' }),
    );
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_REPORT_CHART_MISSING');
        assert.equal(pw.hint, 'Did you mean `hourly_chart`?');
      },
      report({ charts: ['hourly_chrt'] }),
    );
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_TEMPLATE_UNKNOWN_VARIABLE');
        assert.match(pw.message, /\{% metric mean_tmp %\}: the step defines no metric 'mean_tmp'/);
        assert.equal(pw.hint, 'Did you mean `mean_temp`?');
      },
      report({ template: '{% metric mean_tmp %}', metrics: METRICS }),
    );
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_SPEC_TYPE');
        assert.match(pw.message, /totals: cannot take the sum of column 'probe' \(VARCHAR\)/);
      },
      report({ template: '{% table hourly, totals: "probe:sum" %}' }),
    );
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_SQL_ERROR');
        assert.equal(pw.path, 'with.metrics.broken.query');
        assert.match(pw.message, /^metrics\.broken: .*hourlyy/);
      },
      report({ metrics: { broken: { query: 'SELECT count(*) FROM hourlyy' } } }),
    );
  });

  it('an unknown tag, option or variable gets a suggestion', async () => {
    await harness.writeFile('reports/typo.html', 'Hello\n{% tabel hourly %}');
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_SPEC_TEMPLATE');
        assert.equal(pw.message, 'Unknown tag `tabel` (reports/typo.html line 2, column 1)');
        assert.equal(pw.hint, 'Did you mean `table`?');
      },
      report({ template_file: 'reports/typo.html' }),
    );
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_TEMPLATE_UNKNOWN_VARIABLE');
        assert.equal(pw.hint, 'Did you mean `params.low`?');
      },
      report({ template: 'Above {{ params.lwo }}' }),
    );
  });

  it('a Liquid syntax error has its line: at validation inline, at run time in a file', async () => {
    const parsed = reportConfig.safeParse({ template: '# Title\n\n{% if params.low > 3 %}\nno end tag' });
    assert.equal(parsed.success, false);
    const message = parsed.error?.issues[0]?.message ?? '';
    assert.match(message, /^Template does not parse: .*\(template line 3, column 1\)$/);
    assert.deepEqual(parsed.error?.issues[0]?.path, ['template']);
    const option = reportConfig.safeParse({ template: '{% table hourly, max_row: 3 %}' });
    assert.match(option.error?.issues[0]?.message ?? '', /\{% table %\}: unknown option 'max_row'/);

    await harness.writeFile('reports/broken.md', '# Title\nRun {{ run.id \n');
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_SPEC_TEMPLATE');
        assert.equal(pw.path, 'with.template_file');
        assert.match(pw.message, /^Template does not parse: .*\(reports\/broken\.md line 2, column 5\)$/);
      },
      report({ template_file: 'reports/broken.md' }),
    );
    await rejectsWith(
      (error) => {
        assert.equal(asPwError(error).code, 'PW_INPUT_NOT_FOUND');
      },
      report({ template_file: 'reports/missing.md' }),
    );
  });

  it('refuses configs that cannot work before anything runs', () => {
    const problems = (config: unknown) =>
      reportConfig
        .safeParse(config)
        .error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? [];
    assert.deepEqual(problems({ template: 'x', template_file: 'y.md' }), [
      'template_file: give template or template_file, not both',
    ]);
    assert.deepEqual(problems({ metrics: { m: { dataset: 'a', query: 'SELECT 1' } } }), [
      'metrics.m: a metric needs either query or dataset (with column and agg), not both',
    ]);
    assert.deepEqual(problems({ metrics: { m: { query: 'SELECT 1', column: 'x' } } }), [
      "metrics.m.column: 'column' goes with dataset, not query",
    ]);
    assert.deepEqual(problems({ metrics: { m: { dataset: 'a', agg: 'avg' } } }), [
      'metrics.m.column: agg: avg needs a column',
    ]);
    assert.match(
      problems({ metrics: { m: { query: 'SELECT 1', format: 'yyyy' } } })[0] ?? '',
      /^metrics\.m\.format: expected a number format/,
    );
    assert.match(problems({ output: { html: '../x.html' } })[0] ?? '', /^output\.html: /);
    assert.match(problems({ pdf: { margin: '15' } })[0] ?? '', /^pdf\.margin/);
    assert.equal(problems({ template: '{% include "x" %}' }).length, 1);
  });
});

describe('report: step order', () => {
  it('reads listed datasets and charts, metric sources and the datasets and charts in an inline template', () => {
    const config = reportConfig.parse({
      datasets: ['hourly'],
      charts: [{ id: 'hourly_chart' }],
      metrics: {
        a: { dataset: 'daily', column: 'x' },
        b: { query: 'SELECT count(*) FROM readings JOIN probes USING (probe)' },
      },
      template: '{% table summary %} {% chart other_chart %} {% metric a %}',
    });
    assert.deepEqual(
      reportInputs(config, ['hourly', 'daily', 'readings', 'probes', 'summary', 'other_chart']),
      ['hourly', 'hourly_chart', 'daily', 'readings', 'probes', 'summary', 'other_chart'],
    );
    assert.deepEqual(reportStep.rawFields, ['template']);
  });
});
