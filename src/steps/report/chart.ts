/**
 * The `chart` step: draws one dataset as a chart and writes it as SVG and PNG artifacts
 * (`<step id>.svg`, `<step id>.png`) for reports and e-mails. The chart is the built-in one (line, bar,
 * area or point over time or any x, a series per category, threshold rules) or a Vega-Lite spec of the
 * author's own, inline or in a file. Times are shown in the pipeline's time zone. Rendering needs no
 * browser and no installed fonts: Vega draws SVG headless and resvg rasterises it with the shipped
 * DejaVu Sans. Vega, Vega-Lite and resvg load on the first chart only (see chart-render.ts).
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStep, type ColumnInfo, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { readYaml } from '../../core/spec/parse-yaml.js';
import { formatPath, isPlainObject } from '../../core/spec/paths.js';
import { writeAtomically } from '../../engine/atomic-file.js';
import { displayPath, errorText } from '../extract/duckdb-errors.js';
import { chartConfig, MAX_ROWS_LIMIT, type ChartConfig } from './chart-schema.js';
import { checkSpecShape, INPUT_DATA_NAME } from './chart-spec-check.js';
import { builtinSpec, prepareSpec, unknownFieldProblem, type Spec } from './chart-spec.js';
import { readChartRows } from './chart-data.js';
import { validateVegaLite, type SpecProblem } from './chart-vl-validate.js';

async function knownDatasets(ctx: StepContext): Promise<string[]> {
  const rows = await ctx.datasets.query<{ name: string }>(
    "SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary AND table_name NOT LIKE '\\_\\_pw\\_%' ESCAPE '\\' UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT temporary AND NOT internal ORDER BY name",
  );
  return rows.map((row) => row.name);
}

/** Where a problem of the author's spec is shown: a field under `with.spec`, or a place in the spec file. */
type SpecOrigin =
  { kind: 'inline' } | { kind: 'file'; shown: string; locate: ReturnType<typeof readYaml>['locate'] };

function specError(problem: SpecProblem, origin: SpecOrigin): PwError {
  const details = { expected: problem.expected, found: problem.found, hint: problem.hint };
  if (origin.kind === 'inline') {
    return new PwError('PW_CHART_SPEC', problem.message, {
      ...details,
      path: formatPath(['with', 'spec', ...problem.path]),
    });
  }
  const { line, column } = origin.locate(problem.path, problem.atKey === true ? 'key' : 'value');
  return new PwError('PW_CHART_SPEC', `${origin.shown}: ${problem.message}`, {
    ...details,
    path: formatPath(problem.path) || undefined,
    location: { file: origin.shown, line, column },
  });
}

/** Reads and checks the spec file: JSON or YAML, a mapping, no top-level data, no URLs, valid Vega-Lite. */
async function loadSpecFile(ctx: StepContext, file: string): Promise<{ spec: Spec; origin: SpecOrigin }> {
  const path = ctx.resolvePath(file);
  const shown = displayPath(ctx.projectDir, path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new PwError('PW_INPUT_NOT_FOUND', `The chart spec file ${shown} does not exist`, {
        path: 'with.spec_file',
        expected: 'a Vega-Lite spec in a .json, .yaml or .yml file',
        found: code === 'EISDIR' ? 'a folder' : 'nothing',
        hint: `Paths are relative to the project folder ${ctx.projectDir}.`,
        cause,
      });
    }
    throw new PwError('PW_IO', `Cannot read the chart spec file ${shown}: ${errorText(cause)}`, {
      path: 'with.spec_file',
      cause,
    });
  }
  // JSON is YAML too, so one reader serves both and knows the line and column of every field.
  const parsed = readYaml(text, shown);
  const syntax = parsed.issues[0];
  if (syntax !== undefined) {
    throw new PwError('PW_CHART_SPEC', `${shown} is not valid JSON or YAML: ${syntax.message}`, {
      location: syntax.location,
      hint: syntax.hint,
    });
  }
  if (!isPlainObject(parsed.value)) {
    throw new PwError('PW_CHART_SPEC', `${shown} does not hold a Vega-Lite spec`, {
      path: 'with.spec_file',
      expected: 'a mapping such as { "mark": "line", "encoding": { … } }',
      found: Array.isArray(parsed.value) ? 'a list' : typeof parsed.value,
      location: { file: shown, line: 1, column: 1 },
    });
  }
  const origin: SpecOrigin = { kind: 'file', shown, locate: parsed.locate };
  const [problem] = checkSpecShape(parsed.value);
  if (problem !== undefined) throw specError(problem, origin);
  return { spec: parsed.value, origin };
}

function tooManyRows(config: ChartConfig, count: number): PwError {
  return new PwError(
    'PW_CHART_TOO_LARGE',
    `Dataset '${config.input}' has ${count.toLocaleString('en-US')} rows; a chart draws at most ${config.max_rows.toLocaleString('en-US')}`,
    {
      path: 'with.input',
      expected: `at most ${config.max_rows} rows (max_rows)`,
      found: `${count} rows`,
      hint:
        config.max_rows < MAX_ROWS_LIMIT
          ? "Aggregate first with a sql step (e.g. date_trunc('hour', ts) … GROUP BY ALL): a chart cannot show more points than it has pixels. Raise max_rows only if you really mean it."
          : "Aggregate first with a sql step (e.g. date_trunc('hour', ts) … GROUP BY ALL): a chart cannot show more points than it has pixels.",
    },
  );
}

async function writeArtifact(
  ctx: StepContext,
  name: string,
  content: string | Buffer,
  contentType: string,
): Promise<string> {
  const target = join(ctx.artifacts.dir, name);
  try {
    await writeAtomically(target, (temp) => writeFile(temp, content));
  } catch (cause) {
    throw new PwError('PW_OUTPUT_WRITE', `Cannot write the chart ${name}: ${errorText(cause)}`, {
      hint: 'Check free disk space and that the artifacts folder is writable by the Pipewright process.',
      cause,
    });
  }
  await ctx.artifacts.register(target, { name, contentType });
  return target;
}

export const chartStep = defineStep({
  type: 'chart',
  kind: 'report',
  description:
    'Draws a dataset as a chart (built-in line/bar/area/point, or a Vega-Lite spec) and writes it as SVG and PNG.',
  config: chartConfig,
  producesDataset: false,
  inputs: (config) => [config.input],
  async run(ctx, config) {
    if (!(await ctx.datasets.exists(config.input))) {
      const known = await knownDatasets(ctx);
      throw new PwError(
        'PW_DATASET_UNKNOWN',
        `chart reads dataset '${config.input}', which no earlier step produced`,
        {
          path: 'with.input',
          expected: 'the id of a step that produces a dataset',
          found: config.input,
          hint:
            known.length > 0
              ? `Datasets so far: ${known.join(', ')}.`
              : 'No step has produced a dataset yet in this run.',
        },
      );
    }
    const started = performance.now();
    const columns: ColumnInfo[] = await ctx.datasets.columns(config.input);
    const count = await ctx.datasets.rowCount(config.input);
    if (count > config.max_rows) throw tooManyRows(config, count);

    const zone = ctx.run.timezone;
    let source: Spec;
    let fields: string[] | undefined;
    let origin: SpecOrigin = { kind: 'inline' };
    if (config.spec !== undefined || config.spec_file !== undefined) {
      if (config.spec_file !== undefined)
        ({ spec: source, origin } = await loadSpecFile(ctx, config.spec_file));
      else source = config.spec!;
      const problem = unknownFieldProblem(source, config.input, columns);
      if (problem !== undefined) throw specError(problem, origin);
    } else {
      ({ spec: source, fields } = builtinSpec(config, columns, zone));
    }

    const { spec, dateFields } = prepareSpec(source, {
      columns,
      title: config.title,
      subtitle: config.subtitle,
      width: config.width,
      height: config.height,
      formats: config.formats,
    });
    const [problem] = validateVegaLite({ ...spec, data: { name: INPUT_DATA_NAME } });
    if (problem !== undefined) {
      throw new PwError(
        'PW_CHART_SPEC',
        `The chart is not valid Vega-Lite once title, size and defaults are applied: ${problem.message}`,
        {
          path: formatPath(problem.path) || undefined,
          expected: problem.expected,
          found: problem.found,
          hint:
            problem.hint ??
            'Check title, subtitle, width and height against the spec (a concatenated chart has no single width).',
        },
      );
    }

    const rows = await readChartRows(ctx, config.input, columns, fields, {
      zone,
      timestampZone: config.timestamp_zone ?? zone,
      limit: config.max_rows,
    });
    ctx.signal.throwIfAborted();
    const warnings: string[] = [];
    if (rows.length === 0) warnings.push(`Dataset '${config.input}' has no rows; the chart is empty`);

    const { renderChart } = await import('./chart-render.js');
    const parse = Object.fromEntries(dateFields.map((field) => [field, 'date']));
    const rendered = await renderChart(
      { ...spec, data: { values: rows, ...(dateFields.length > 0 ? { format: { parse } } : {}) } },
      { scale: config.scale, signal: ctx.signal },
    );
    warnings.push(
      ...rendered.warnings
        // An empty dataset has no extent; that was said once above already.
        .filter((warning) => rows.length > 0 || !warning.startsWith('Infinite extent'))
        .map((warning) => `Vega-Lite: ${warning}`),
    );
    for (const warning of warnings) ctx.log.warn(warning);

    const svg = await writeArtifact(ctx, `${ctx.stepId}.svg`, rendered.svg, 'image/svg+xml');
    const png = await writeArtifact(ctx, `${ctx.stepId}.png`, rendered.png, 'image/png');
    const bytes = (await stat(svg)).size + (await stat(png)).size;
    const milliseconds = Math.round(performance.now() - started);
    ctx.log.info(
      `Drew ${rows.length} row(s) of '${config.input}' as a ${rendered.width}×${rendered.height} chart in ${milliseconds} ms`,
      { rows: rows.length, width: rendered.width, height: rendered.height, ms: milliseconds },
    );
    return {
      rows: rows.length,
      bytes,
      outputs: { svg, png, width: rendered.width, height: rendered.height },
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  },
});
