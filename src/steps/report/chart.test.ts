// The server's own zone must not leak into a chart: this process runs in India (UTC+05:30, a
// half-hour offset no pipeline zone here shares), the pipelines below in Europe/Berlin.
process.env.TZ = 'Asia/Kolkata';

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { renderAsync } from '@resvg/resvg-js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError, rejectsWith } from '../../testing/assertions.js';
import { validatePipeline } from '../../core/spec/validate.js';
import { builtinRegistry } from '../builtin.js';
import { chartStep } from './chart.js';
import { chartFontFiles } from './chart-render.js';
import { decodePng, type DecodedPng } from './chart-png-reader.js';

const ZONE = 'Europe/Berlin';

/** The texts of an SVG's <text> elements that are visible (Vega hides dropped labels with opacity 0). */
function visibleTexts(svg: string): string[] {
  return [...svg.matchAll(/<text\b([^>]*)>([^<]*)<\/text>/g)]
    .filter((match) => !/opacity="0"/.test(match[1]!))
    .map((match) => match[2]!.replaceAll('&amp;', '&'));
}

/** Horizontal position of the text element showing exactly `label` (its translate x). */
function labelX(svg: string, label: string): number {
  const match = new RegExp(
    `<text[^>]*transform="translate\\(([\\d.]+),[\\d.]+\\)"[^>]*>${label}</text>`,
  ).exec(svg);
  assert.ok(match, `no text '${label}' in the SVG`);
  return Number(match[1]);
}

function luminance(image: DecodedPng, x: number, y: number): number {
  const i = (y * image.width + x) * 4;
  return 0.299 * image.pixels[i]! + 0.587 * image.pixels[i + 1]! + 0.114 * image.pixels[i + 2]!;
}

function countPixels(image: DecodedPng, test: (r: number, g: number, b: number) => boolean): number {
  let count = 0;
  for (let i = 0; i < image.pixels.length; i += 4) {
    if (test(image.pixels[i]!, image.pixels[i + 1]!, image.pixels[i + 2]!)) count++;
  }
  return count;
}

function near(hex: string, tolerance = 40): (r: number, g: number, b: number) => boolean {
  const [r0, g0, b0] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return (r, g, b) => Math.abs(r - r0!) + Math.abs(g - g0!) + Math.abs(b - b0!) <= tolerance;
}

/** Bounding box of the dark ink (luminance < 128) within rows [top, bottom). */
function inkBox(image: DecodedPng, top = 0, bottom = image.height) {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (let y = top; y < bottom; y++) {
    for (let x = 0; x < image.width; x++) {
      if (luminance(image, x, y) < 128) {
        x1 = Math.min(x1, x);
        y1 = Math.min(y1, y);
        x2 = Math.max(x2, x);
        y2 = Math.max(y2, y);
      }
    }
  }
  return x1 === Infinity ? undefined : { x1, y1, width: x2 - x1 + 1, height: y2 - y1 + 1 };
}

/**
 * How far the ink of `actual` inside `box` is from the ink of `reference` inside `referenceBox`,
 * the boxes laid over each other at their top left: the share of pixels whose luminance differs by
 * more than half the range.
 */
function inkDifference(
  actual: DecodedPng,
  box: { x1: number; y1: number; width: number; height: number },
  reference: DecodedPng,
  referenceBox: { x1: number; y1: number; width: number; height: number },
): number {
  const width = Math.max(box.width, referenceBox.width);
  const height = Math.max(box.height, referenceBox.height);
  const at = (image: DecodedPng, x: number, y: number) =>
    x < image.width && y < image.height ? luminance(image, x, y) : 255;
  let different = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = at(actual, box.x1 + x, box.y1 + y);
      const b = at(reference, referenceBox.x1 + x, referenceBox.y1 + y);
      if (Math.abs(a - b) > 128) different++;
    }
  }
  return different / (width * height);
}

async function renderReference(svg: string, fonts: string[]): Promise<DecodedPng> {
  const image = await renderAsync(svg, {
    font: { fontFiles: fonts, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
  });
  return decodePng(image.asPng());
}

describe('chart', () => {
  let harness: StepHarness;

  before(async () => {
    harness = await createStepHarness();
    // 48 hours of two probes from Monday 2026-03-02 00:00 UTC (01:00 in Berlin, UTC+1 in winter).
    await harness.query(`
      CREATE TABLE hourly AS
      SELECT TIMESTAMPTZ '2026-03-02 00:00:00+00' + INTERVAL (i) HOUR AS hour, probe,
             round(20 + 12 * sin(i / 6.0) + CASE probe WHEN 'probe2' THEN 4 ELSE 0 END, 2)::DECIMAL(6,2) AS temp_c
      FROM range(48) t(i), (VALUES ('probe1'), ('probe2')) v(probe)
      ORDER BY hour, probe`);
    // Naive TIMESTAMPs (written in some zone the data does not say) and one instant each in winter and summer.
    await harness.query(`
      CREATE TABLE moments AS
      SELECT * FROM (VALUES
        (TIMESTAMPTZ '2026-03-02 07:00:00+00', TIMESTAMP '2026-03-02 08:00:00', 'winter', 1),
        (TIMESTAMPTZ '2026-07-01 06:00:00+00', TIMESTAMP '2026-07-01 08:00:00', 'summer', 2)
      ) t(instant, local_at, season, n)`);
    await harness.query('CREATE TABLE nothing AS SELECT * FROM hourly WHERE false');
  });

  after(async () => {
    await harness.close();
  });

  const run = (config: Record<string, unknown>, stepId = 'chart') =>
    harness.runStep(chartStep, config, { stepId, timezone: ZONE });

  it('draws hourly temperature per probe with 25 °C and 35 °C rules, in the pipeline’s zone', async () => {
    const result = await run(
      {
        input: 'hourly',
        x: 'hour',
        y: { field: 'temp_c', title: 'Temperature (°C)' },
        series: 'probe',
        rules: [
          { y: '25', label: '25 °C' }, // as a template such as "{{ params.low }}" renders it
          { y: 35, label: '35 °C', color: '#d62728' },
        ],
        title: 'Hourly temperature',
      },
      'temperature',
    );
    assert.equal(result.rows, 96);
    const outputs = result.outputs as { svg: string; png: string; width: number; height: number };
    assert.match(outputs.svg, /\/\.pipewright\/artifacts\/test-run\/temperature\/temperature\.svg$/);
    assert.match(outputs.png, /\/temperature\.png$/);
    assert.deepEqual(
      harness.artifacts
        .filter((artifact) => artifact.stepId === 'temperature')
        .map((artifact) => [artifact.name, artifact.contentType]),
      [
        ['temperature.svg', 'image/svg+xml'],
        ['temperature.png', 'image/png'],
      ],
    );

    const svg = await readFile(outputs.svg, 'utf8');
    const texts = visibleTexts(svg);
    for (const text of [
      'Hourly temperature',
      '25 °C',
      '35 °C',
      'Temperature (°C)',
      'hour (Europe/Berlin)',
      'probe1',
      'probe2',
    ])
      assert.ok(texts.includes(text), `the SVG shows '${text}'; it shows ${texts.join(' | ')}`);
    // Every three hours on a 24-hour clock, midnights as days: Berlin midnight is 23:00 UTC.
    assert.deepEqual(
      texts.filter((text) => /^\d\d:\d\d$|^[A-Z][a-z]{2} \d\d$/.test(text)),
      [
        '03:00',
        '06:00',
        '09:00',
        '12:00',
        '15:00',
        '18:00',
        '21:00',
        'Tue 03',
        '03:00',
        '06:00',
        '09:00',
        '12:00',
        '15:00',
        '18:00',
        '21:00',
        'Wed 04',
      ],
    );
    // The data starts at 01:00 Berlin time, so the 03:00 tick is 2 of 47 hours into the 600 px plot
    // (it would be 3 hours in UTC, and a fraction of an hour off in the server's UTC+05:30).
    assert.ok(Math.abs(labelX(svg, '03:00') - (600 * 2) / 47) < 0.5, `03:00 at ${labelX(svg, '03:00')}`);
    assert.ok(Math.abs(labelX(svg, 'Tue 03') - (600 * 23) / 47) < 0.5, `Tue 03 at ${labelX(svg, 'Tue 03')}`);
    assert.match(svg, /font-family="DejaVu Sans"/);

    const png = decodePng(await readFile(outputs.png));
    assert.deepEqual([png.width, png.height], [outputs.width * 2, outputs.height * 2]);
    assert.ok(outputs.width > 650 && outputs.width < 800, `width ${outputs.width}`);
    assert.ok(outputs.height > 330 && outputs.height < 400, `height ${outputs.height}`);
    const total = png.width * png.height;
    const drawn = countPixels(png, (r, g, b) => r + g + b < 3 * 245) / total;
    assert.ok(drawn > 0.03 && drawn < 0.3, `${(drawn * 100).toFixed(1)}% of the pixels are drawn`);
    // Both series in their tableau colours, and the red 35 °C rule with its label.
    assert.ok(countPixels(png, near('#4c78a8')) > 2000, 'the probe1 line is drawn');
    assert.ok(countPixels(png, near('#f58518')) > 2000, 'the probe2 line is drawn');
    assert.ok(countPixels(png, near('#d62728')) > 500, 'the 35 °C rule is drawn');
  });

  it('renders legible text: the title matches a reference rendering of the same words', async () => {
    const result = await run(
      { input: 'hourly', x: 'hour', y: 'temp_c', title: 'Weekly temperature', width: 300, height: 120 },
      'titled',
    );
    const outputs = result.outputs as { svg: string; png: string };
    const png = decodePng(await readFile(outputs.png));
    // The title sits alone in the top 22 px (44 rows at scale 2) above the plot.
    const title = inkBox(png, 0, 44);
    assert.ok(title, 'the title band has ink');

    const fonts = await chartFontFiles();
    const referenceSvg = (text: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text x="20" y="25" font-family="DejaVu Sans" font-size="13" font-weight="bold">${text}</text></svg>`;
    const reference = await renderReference(referenceSvg('Weekly temperature'), fonts);
    const referenceBox = inkBox(reference)!;
    assert.ok(
      Math.abs(title.width - referenceBox.width) <= 2,
      `title ${title.width} px wide, reference ${referenceBox.width}`,
    );
    assert.ok(
      Math.abs(title.height - referenceBox.height) <= 2,
      `title ${title.height} px high, reference ${referenceBox.height}`,
    );
    const difference = inkDifference(png, title, reference, referenceBox);
    // Same font, size and weight, drawn by the same rasteriser: the ink matches almost pixel for pixel
    // (a little slack for anti-aliasing at another sub-pixel offset).
    assert.ok(
      difference < 0.005,
      `${(difference * 100).toFixed(2)}% of the title pixels differ from the reference`,
    );

    // The comparison would catch a single wrong letter, and missing glyphs (no font: nothing drawn).
    const other = await renderReference(referenceSvg('Weekly temperaturs'), fonts);
    const otherDifference = inkDifference(png, title, other, inkBox(other)!);
    assert.ok(
      otherDifference > 0.005,
      `one letter off differs by only ${(otherDifference * 100).toFixed(2)}%`,
    );
    const svg = await readFile(outputs.svg, 'utf8');
    assert.equal(
      inkBox(await renderReference(svg, []), 0, 44),
      undefined,
      'without fonts the title would be blank',
    );
  });

  it('shows TIMESTAMPTZ and TIMESTAMP values in the pipeline’s zone, summer time included', async () => {
    const spec = (field: string) => ({
      mark: 'text',
      encoding: {
        y: { field: 'season', type: 'nominal' },
        text: { field, type: 'temporal', format: '%Y-%m-%d %H:%M' },
      },
    });
    const timeTexts = async (config: Record<string, unknown>, stepId: string) => {
      const result = await run(config, stepId);
      const svg = await readFile((result.outputs as { svg: string }).svg, 'utf8');
      return visibleTexts(svg)
        .filter((text) => /^\d{4}-/.test(text))
        .sort();
    };
    // 07:00 UTC in March and 06:00 UTC in July are both 08:00 in Berlin (CET, then CEST).
    assert.deepEqual(await timeTexts({ input: 'moments', spec: spec('instant') }, 'instants'), [
      '2026-03-02 08:00',
      '2026-07-01 08:00',
    ]);
    // Naive TIMESTAMPs are wall-clock times in the pipeline's zone unless timestamp_zone says otherwise.
    assert.deepEqual(await timeTexts({ input: 'moments', spec: spec('local_at') }, 'naive'), [
      '2026-03-02 08:00',
      '2026-07-01 08:00',
    ]);
    assert.deepEqual(
      await timeTexts({ input: 'moments', spec: spec('local_at'), timestamp_zone: 'UTC' }, 'naive_utc'),
      ['2026-03-02 09:00', '2026-07-01 10:00'],
    );
  });

  it('draws a Vega-Lite spec of one’s own from a file, with derived fields and a layer of its own data', async () => {
    await harness.writeFile(
      'charts/peaks.vl.yaml',
      [
        'title: Daily peak',
        'width: 200',
        'height: 100',
        'transform:',
        '  - { calculate: "datum.temp_c * 9 / 5 + 32", as: temp_f }',
        'layer:',
        '  - mark: bar',
        '    encoding:',
        '      x: { field: hour, timeUnit: yearmonthdate, title: day }',
        '      y: { field: temp_f, aggregate: max, title: "°F" }',
        '  - data: { values: [{ limit: 95 }] }',
        '    mark: { type: rule, color: "#d62728" }',
        '    encoding: { y: { field: limit, type: quantitative } }',
      ].join('\n'),
    );
    const result = await run({ input: 'hourly', spec_file: 'charts/peaks.vl.yaml' }, 'peaks');
    assert.equal(result.rows, 96);
    const svg = await readFile((result.outputs as { svg: string }).svg, 'utf8');
    const texts = visibleTexts(svg);
    assert.ok(texts.includes('Daily peak') && texts.includes('°F'), texts.join(' | '));
    // Days in Berlin: the 48 UTC hours touch Monday 2, Tuesday 3 and (23:00 UTC) Wednesday 4, whose
    // bar is the last hour alone; grouped by the server's or UTC days, the peaks would differ.
    const bars = [...svg.matchAll(/aria-label="([^"]*)"[^>]*aria-roledescription="bar"/g)].map(
      (match) => match[1],
    );
    const peaks = await harness.query<{ day: string; peak: number }>(
      `SELECT strftime(timezone('${ZONE}', hour), '%b %d, %Y') AS day, max(temp_c * 9 / 5 + 32)::DOUBLE AS peak
       FROM hourly GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(
      bars,
      peaks.map((row) => `day: ${row.day}; °F: ${Number(row.peak.toFixed(3))}`),
    );
    assert.equal(bars.length, 3);
  });

  it('warns and still draws when the dataset is empty', async () => {
    const result = await run({ input: 'nothing', x: 'hour', y: 'temp_c', title: 'No data yet' }, 'empty');
    assert.equal(result.rows, 0);
    assert.deepEqual(result.warnings, ["Dataset 'nothing' has no rows; the chart is empty"]);
    const svg = await readFile((result.outputs as { svg: string }).svg, 'utf8');
    assert.ok(visibleTexts(svg).includes('No data yet'));
  });

  describe('bad input', () => {
    it('names an unknown column and suggests the one meant', async () => {
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_CHART_SPEC');
          assert.equal(pw.message, "Dataset 'hourly' has no column 'tmp_c'");
          assert.equal(pw.path, 'with.y');
          assert.equal(pw.found, "'tmp_c'");
          assert.equal(pw.expected, "a column of 'hourly': hour, probe, temp_c");
          assert.equal(pw.hint, 'Did you mean `temp_c`?');
        },
        run({ input: 'hourly', x: 'hour', y: 'tmp_c' }),
      );
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_CHART_SPEC');
          assert.equal(pw.path, 'with.spec.layer[1].encoding.color.field');
          assert.equal(pw.hint, 'Did you mean `probe`?');
        },
        run({
          input: 'hourly',
          spec: {
            layer: [
              { mark: 'line', encoding: { x: { field: 'hour' } } },
              { mark: 'point', encoding: { color: { field: 'prob' } } },
            ],
          },
        }),
      );
    });

    it('refuses an invalid mark and an invalid spec field, pointing at the field in the pipeline file', () => {
      const result = validatePipeline(
        [
          'id: charts',
          'steps:',
          '  - id: hourly',
          '    uses: sql',
          "    with: { query: 'SELECT 1 AS hour, 2 AS temp_c' }",
          '  - id: line',
          '    uses: chart',
          '    with: { input: hourly, mark: lne, x: hour, y: temp_c }',
          '  - id: custom',
          '    uses: chart',
          '    with:',
          '      input: hourly',
          '      spec:',
          '        mark: line',
          '        encoding:',
          '          x: { field: hour, type: tempral }',
          '          y: { field: temp_c, type: quantitative, axis: { labelAngel: 45 } }',
          '',
        ].join('\n'),
        'pipelines/charts.yaml',
        builtinRegistry(),
      );
      assert.equal(result.ok, false);
      const issues = result.ok ? [] : result.issues;
      assert.deepEqual(
        issues.map((issue) => `${issue.location.line}:${issue.location.column} ${issue.code} ${issue.path}`),
        [
          // The value of a bad field; for an unknown one, the value under it.
          '8:34 PW_SPEC_TYPE steps[1].with.mark',
          '16:35 PW_SPEC_TYPE steps[2].with.spec.encoding.x.type',
          '17:71 PW_SPEC_TYPE steps[2].with.spec.encoding.y.axis.labelAngel',
        ],
      );
      assert.equal(issues[0]?.hint, "did you mean 'line'?");
      assert.match(
        issues[1]!.message,
        /^Invalid Vega-Lite value at encoding\.x\.type; expected one of 'quantitative', 'ordinal', 'temporal' or 'nominal'; found the text 'tempral' \(did you mean 'temporal'\?\)/,
      );
      assert.match(
        issues[2]!.message,
        /^Vega-Lite does not know the field 'labelAngel' in encoding\.y\.axis; .* \(did you mean 'labelAngle'\?\)/,
      );
    });

    it('refuses an invalid field in a spec file at its line and column', async () => {
      await harness.writeFile(
        'charts/bad.vl.json',
        JSON.stringify(
          { mark: 'line', encoding: { x: { field: 'hour', type: 'temporal', scale: { typ: 'utc' } } } },
          null,
          2,
        ),
      );
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_CHART_SPEC');
          assert.equal(
            pw.message,
            "charts/bad.vl.json: Vega-Lite does not know the field 'typ' in encoding.x.scale",
          );
          assert.deepEqual(pw.location, { file: 'charts/bad.vl.json', line: 8, column: 9 });
          assert.equal(pw.path, 'encoding.x.scale.typ');
          assert.equal(pw.hint, "did you mean 'type'?");
        },
        run({ input: 'hourly', spec_file: 'charts/bad.vl.json' }),
      );
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_INPUT_NOT_FOUND');
          assert.equal(pw.path, 'with.spec_file');
        },
        run({ input: 'hourly', spec_file: 'charts/missing.vl.json' }),
      );
    });

    it('refuses data from a URL, inline and in a file', async () => {
      assert.throws(
        () =>
          chartStep.config.parse({
            input: 'hourly',
            spec: { data: { url: 'http://example.com/t.csv' }, mark: 'line' },
          }),
        /The chart’s data comes from input/,
      );
      const parsed = chartStep.config.safeParse({
        input: 'hourly',
        spec: {
          layer: [{ mark: 'line' }, { data: { url: 'https://example.com/limits.json' }, mark: 'rule' }],
        },
      });
      assert.equal(parsed.success, false);
      assert.deepEqual(
        parsed.error?.issues.map((issue) => [issue.path.join('.'), issue.message]),
        [
          [
            'spec.layer.1.data.url',
            "A chart cannot load data from a URL; expected inline data (values) or none; found the URL 'https://example.com/limits.json' (Charts render on the server without network access. Read the data with files.read (or a step of your own) and chart that dataset through input:.)",
          ],
        ],
      );
      await harness.writeFile(
        'charts/remote.vl.json',
        JSON.stringify({
          layer: [{ mark: 'line' }, { data: { url: 'http://example.com/x.csv' }, mark: 'rule' }],
        }),
      );
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_CHART_SPEC');
          assert.equal(pw.path, 'layer[1].data.url');
          assert.equal(pw.found, "the URL 'http://example.com/x.csv'");
        },
        run({ input: 'hourly', spec_file: 'charts/remote.vl.json' }),
      );
    });

    it('refuses a threshold that is not a number once its template is rendered', async () => {
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_SPEC_TYPE');
          assert.equal(pw.path, 'with.rules[1].y');
          assert.equal(pw.found, "the text 'high'");
        },
        run({ input: 'hourly', x: 'hour', y: 'temp_c', rules: [{ y: 25 }, { y: 'high' }] }),
      );
    });

    it('refuses a dataset with more rows than max_rows', async () => {
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_CHART_TOO_LARGE');
          assert.equal(pw.message, "Dataset 'hourly' has 96 rows; a chart draws at most 50");
          assert.equal(pw.path, 'with.input');
          assert.match(pw.hint ?? '', /Aggregate first with a sql step/);
        },
        run({ input: 'hourly', x: 'hour', y: 'temp_c', max_rows: 50 }),
      );
      assert.equal(chartStep.config.parse({ input: 'hourly', x: 'hour', y: 'temp_c' }).max_rows, 50_000);
    });

    it('refuses a dataset no step produced, and conveniences mixed with a spec', async () => {
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_DATASET_UNKNOWN');
          assert.match(pw.hint ?? '', /Datasets so far: .*hourly/);
        },
        run({ input: 'hourly_2', x: 'hour', y: 'temp_c' }),
      );
      const parsed = chartStep.config.safeParse({ input: 'hourly', spec: { mark: 'line' }, x: 'hour' });
      assert.deepEqual(
        parsed.error?.issues.map((issue) => issue.path.join('.')),
        ['x'],
      );
      const empty = chartStep.config.safeParse({ input: 'hourly' });
      assert.deepEqual(
        empty.error?.issues.map((issue) => issue.path.join('.')),
        ['x', 'y'],
      );
    });
  });
});
