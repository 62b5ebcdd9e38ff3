/**
 * The `report` step: renders a template (Markdown or HTML in the report's sandboxed Liquid, or the
 * built-in default) with the run's datasets as tables, headline metrics with their change against the
 * previous successful run, the images of chart steps, the run's metadata and parameters, into one
 * self-contained `report.html` (inline CSS, images as data: URIs, nothing loaded from anywhere) and,
 * with headless Chromium, a `report.pdf`.
 *
 * The HTML is written (temporary name, then rename) and registered before the PDF is attempted, so
 * a missing or crashing Chromium fails the step but leaves the HTML report behind.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DateTime } from 'luxon';
import { defineStep, type PreviousStepOutputs, type RunArtifact, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { closestNames, orList } from '../../core/template/suggest.js';
import { writeAtomically } from '../../engine/atomic-file.js';
import { displayPath } from '../extract/duckdb-errors.js';
import { referencedSteps } from '../transform/sql-text.js';
import {
  computeMetric,
  loadChart,
  loadTable,
  tableOptionsFromArgs,
  type Origin,
  type Presentation,
  type RawTableOptions,
  type TableData,
} from './report-data.js';
import { escapeHtml, formatNumber, humanize, metricChange } from './report-format.js';
import {
  chartHtml,
  documentHtml,
  metricHtml,
  metricsHtml,
  runInfoHtml,
  tableHtml,
  type MetricView,
} from './report-html.js';
import {
  helperTargets,
  parseReportTemplate,
  renderReportTemplate,
  type ReportHelpers,
  type TemplateSource,
} from './report-liquid.js';
import { findChromium, renderPdf } from './report-pdf.js';
import { chartId, datasetId, pdfOptions, reportConfig, type ReportConfig } from './report-schema.js';
import { DEFAULT_TEMPLATE } from './templates/default-template.js';

/** A report larger than this is logged as a warning: it is no longer something to mail around. */
const LARGE_REPORT_BYTES = 10 * 1024 * 1024;

interface LoadedTemplate {
  text: string;
  format: 'markdown' | 'html';
  source: TemplateSource;
}

function formatFromFileName(name: string): 'markdown' | 'html' | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.md.liquid')) return 'markdown';
  const extension = extname(lower);
  if (extension === '.md' || extension === '.markdown') return 'markdown';
  if (extension === '.html' || extension === '.htm' || extension === '.liquid') return 'html';
  return undefined;
}

async function loadTemplate(ctx: StepContext, config: ReportConfig): Promise<LoadedTemplate> {
  if (config.template !== undefined) {
    return {
      text: config.template,
      format: config.template_format ?? 'markdown',
      source: { path: 'with.template' },
    };
  }
  if (config.template_file === undefined) {
    return { text: DEFAULT_TEMPLATE, format: 'html', source: { path: 'with', builtin: true } };
  }
  const path = ctx.resolvePath(config.template_file);
  const shown = displayPath(ctx.projectDir, path);
  const format = config.template_format ?? formatFromFileName(path);
  if (format === undefined) {
    throw new PwError('PW_SPEC_TYPE', `Cannot tell what ${shown} is written in`, {
      path: 'with.template_format',
      expected:
        'a file ending in .md, .markdown, .html, .htm or .liquid, or template_format: markdown or html',
      found: shown,
    });
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      throw new PwError('PW_INPUT_NOT_FOUND', `The report template ${shown} does not exist`, {
        path: 'with.template_file',
        hint: 'template_file is relative to the project folder.',
        cause: error,
      });
    }
    throw new PwError('PW_IO', `Cannot read the report template ${shown}: ${String(code ?? error)}`, {
      path: 'with.template_file',
      cause: error,
    });
  }
  return { text, format, source: { path: 'with.template_file', file: shown } };
}

/** Every step the report reads: listed datasets and charts, metric sources, tags in an inline template. */
export function reportInputs(config: ReportConfig, knownSteps: readonly string[]): string[] {
  const ids = new Set<string>();
  for (const entry of config.datasets) ids.add(datasetId(entry));
  for (const entry of config.charts) ids.add(chartId(entry));
  for (const metric of Object.values(config.metrics)) {
    if (metric.dataset !== undefined) ids.add(metric.dataset);
    for (const sql of [metric.query, metric.where])
      if (sql !== undefined) for (const step of referencedSteps(sql, knownSteps)) ids.add(step);
  }
  if (config.template !== undefined) {
    for (const { tag, target } of helperTargets(config.template)) if (tag !== 'metric') ids.add(target);
  }
  return [...ids];
}

function metricViews(
  values: { name: string; label: string; value: number | null }[],
  config: ReportConfig,
  previous: PreviousStepOutputs | undefined,
  locale: string,
): MetricView[] {
  const earlier = previous?.outputs['metrics'];
  const earlierValues =
    earlier !== null && typeof earlier === 'object' ? (earlier as Record<string, unknown>) : undefined;
  return values.map(({ name, label, value }) => {
    const metric = config.metrics[name];
    const before = earlierValues?.[name];
    const previousValue = typeof before === 'number' ? before : null;
    return {
      name,
      label,
      value,
      text: value === null ? '–' : formatNumber(value, metric?.format, locale),
      previous: previousValue,
      previousText: previousValue === null ? null : formatNumber(previousValue, metric?.format, locale),
      change:
        value !== null && previousValue !== null
          ? metricChange(value, previousValue, metric?.format, locale, metric?.better)
          : undefined,
      compared: previous !== undefined,
    };
  });
}

function metricScope(metric: MetricView): Record<string, unknown> {
  return {
    label: metric.label,
    value: metric.value,
    text: metric.text,
    previous: metric.previous,
    previous_text: metric.previousText,
    change: metric.change?.delta ?? null,
    change_percent: metric.change?.percent ?? null,
    change_text: metric.change?.text ?? null,
    direction: metric.change?.direction ?? null,
    sentiment: metric.change?.sentiment ?? null,
  };
}

async function writeArtifact(
  ctx: StepContext,
  name: string,
  contentType: string,
  write: (temp: string) => Promise<void>,
): Promise<{ path: string; shown: string; bytes: number }> {
  const target = join(ctx.artifacts.dir, name);
  const shown = displayPath(ctx.projectDir, target);
  try {
    await writeAtomically(target, write);
  } catch (error) {
    if (error instanceof PwError) throw error;
    if (ctx.signal.aborted)
      throw new PwError('PW_CANCELLED', `Writing ${shown} was cancelled`, { cause: error });
    throw new PwError(
      'PW_OUTPUT_WRITE',
      `Cannot write ${shown}: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: 'Check free disk space and that the artifacts folder is writable by the Pipewright process.',
        cause: error,
      },
    );
  }
  const bytes = (await stat(target)).size;
  await ctx.artifacts.register(target, { name, contentType });
  return { path: target, shown, bytes };
}

export const reportStep = defineStep({
  type: 'report',
  kind: 'report',
  description:
    'Renders datasets, metrics and charts into a self-contained report.html and, with headless Chromium, report.pdf.',
  config: reportConfig,
  producesDataset: false,
  rawFields: ['template'],
  inputs: reportInputs,
  async run(ctx, config) {
    const started = performance.now();
    const locale = config.locale;
    const view: Presentation = { zone: ctx.run.timezone, locale };
    const title = config.title ?? humanize(ctx.run.pipelineId);
    const template = await loadTemplate(ctx, config);
    const parsed = parseReportTemplate(template.text, template.source);

    // Metrics first: their values and changes are in the template's scope.
    const metricNames = Object.keys(config.metrics);
    const previous = metricNames.length > 0 ? await ctx.history.previousOutputs() : undefined;
    const paramsSet = { done: false };
    const values = [];
    for (const name of metricNames)
      values.push(await computeMetric(ctx, name, config.metrics[name]!, paramsSet));
    const metrics = metricViews(values, config, previous, locale);

    let artifacts: Promise<RunArtifact[]> | undefined;
    const listArtifacts = () => (artifacts ??= ctx.artifacts.list());
    const tables: Record<string, { rows: number; shown: number }> = {};
    const table = async (dataset: string, options: RawTableOptions, origin: Origin): Promise<TableData> => {
      const data = await loadTable(ctx, dataset, options, { maxRows: config.max_table_rows }, view, origin);
      tables[dataset] = { rows: data.total, shown: data.rows.length };
      return data;
    };
    const chart = async (id: string, caption: string | undefined, origin: Origin) =>
      chartHtml(await loadChart(await listArtifacts(), id, config.chart_images, origin), caption);

    const helpers: ReportHelpers = {
      table: async ({ target, args }) => {
        const origin = { label: `{% table ${target} %}`, path: template.source.path };
        const options = tableOptionsFromArgs(args, origin);
        const html = tableHtml(await table(target ?? '', options, origin), {
          caption: options.caption,
          locale,
        });
        return options.title === undefined ? html : `<h3>${escapeHtml(options.title)}</h3>\n${html}`;
      },
      tables: async () => {
        const sections: string[] = [];
        for (const [index, entry] of config.datasets.entries()) {
          const id = datasetId(entry);
          const options: RawTableOptions = typeof entry === 'string' ? {} : entry;
          const origin = { label: `datasets[${index}] (${id})`, path: `with.datasets[${index}]` };
          const html = tableHtml(await table(id, options, origin), { caption: options.caption, locale });
          sections.push(
            `<section class="pw-section">\n<h2>${escapeHtml(options.title ?? humanize(id))}</h2>\n${html}\n</section>`,
          );
        }
        return sections.join('\n');
      },
      metric: ({ target }) => {
        const found = metrics.find((metric) => metric.name === target);
        if (found) return metricHtml(found);
        const close = closestNames(target ?? '', metricNames);
        throw new PwError(
          'PW_TEMPLATE_UNKNOWN_VARIABLE',
          `{% metric ${target} %}: the step defines no metric '${target}'`,
          {
            path: template.source.path,
            expected:
              metricNames.length > 0 ? `one of ${metricNames.join(', ')}` : 'a metric defined under metrics:',
            found: target,
            hint:
              close.length > 0 ? `Did you mean ${orList(close)}?` : 'Define it under the step’s metrics:.',
          },
        );
      },
      metrics: () => metricsHtml(metrics),
      chart: ({ target, args }) =>
        chart(
          target ?? '',
          args['caption'] === undefined || args['caption'] === null ? undefined : String(args['caption']),
          {
            label: `{% chart ${target} %}`,
            path: template.source.path,
          },
        ),
      charts: async () => {
        const figures: string[] = [];
        for (const [index, entry] of config.charts.entries()) {
          const caption = typeof entry === 'string' ? undefined : entry.caption;
          figures.push(
            await chart(chartId(entry), caption, {
              label: `charts[${index}]`,
              path: `with.charts[${index}]`,
            }),
          );
        }
        return figures.join('\n');
      },
      run_info: () =>
        runInfoHtml({
          pipeline: ctx.run.pipelineId,
          runId: ctx.run.id,
          scheduledFor: ctx.run.scheduledFor,
          trigger: ctx.run.trigger,
          params: ctx.run.params,
          previousRun:
            previous === undefined ? undefined : { id: previous.runId, scheduledFor: previous.scheduledFor },
          zone: ctx.run.timezone,
          locale,
        }),
    };

    const scope = {
      report: {
        title,
        datasets: config.datasets.map(datasetId),
        charts: config.charts.map(chartId),
        metrics: metricNames,
        previous_run:
          previous === undefined
            ? null
            : {
                id: previous.runId,
                scheduled_for: previous.scheduledFor,
                finished_at: previous.finishedAt ?? null,
              },
      },
      run: {
        id: ctx.run.id,
        pipeline: ctx.run.pipelineId,
        scheduled_for: ctx.run.scheduledFor,
        started_at: ctx.run.startedAt,
        trigger: ctx.run.trigger,
        timezone: ctx.run.timezone,
      },
      params: { ...ctx.run.params },
      metrics: Object.fromEntries(metrics.map((metric) => [metric.name, metricScope(metric)])),
    };
    let body = await renderReportTemplate(parsed, scope, {
      timezone: ctx.run.timezone,
      locale,
      helpers,
      source: template.source,
    });
    if (template.format === 'markdown') {
      // Loaded only for Markdown templates; the default template is HTML.
      const { default: MarkdownIt } = await import('markdown-it');
      body = new MarkdownIt({ html: true, linkify: false, typographer: false }).render(body);
    }
    const html = documentHtml({ title, body, css: config.css, locale });
    ctx.signal.throwIfAborted();

    const htmlFile = await writeArtifact(ctx, config.output.html, 'text/html', (temp) =>
      writeFile(temp, html),
    );
    const htmlMs = performance.now() - started;
    ctx.log.info(
      `Wrote ${htmlFile.shown} (${Math.ceil(htmlFile.bytes / 1024)} KB) in ${Math.round(htmlMs)} ms`,
      {
        path: htmlFile.shown,
        bytes: htmlFile.bytes,
        ms: Math.round(htmlMs),
      },
    );
    const warnings: string[] = [];
    if (htmlFile.bytes > LARGE_REPORT_BYTES) {
      const warning = `${htmlFile.shown} is ${Math.round(htmlFile.bytes / 1024 / 1024)} MB; lower max_table_rows or show fewer datasets to keep it small`;
      ctx.log.warn(warning);
      warnings.push(warning);
    }

    let pdfFile: { shown: string; bytes: number } | undefined;
    const executablePath =
      config.pdf === false
        ? undefined
        : await findChromium(
            config.chromium_path === undefined ? undefined : ctx.resolvePath(config.chromium_path),
            process.env,
            config.output.pdf,
            htmlFile.shown,
          ).catch((error: unknown) => {
            // pdf: auto makes the PDF a bonus: a machine without Chromium still gets the HTML report.
            if (config.pdf !== 'auto' || !(error instanceof PwError)) throw error;
            const warning = `${config.output.pdf} skipped: no Chromium found (pdf: auto); install it with apt-get install chromium`;
            ctx.log.warn(warning);
            warnings.push(warning);
            return undefined;
          });
    if (executablePath !== undefined && config.pdf !== false) {
      const options = config.pdf === true || config.pdf === 'auto' ? pdfOptions.parse({}) : config.pdf;
      let pdfMs = 0;
      pdfFile = await writeArtifact(ctx, config.output.pdf, 'application/pdf', async (temp) => {
        ({ ms: pdfMs } = await renderPdf({
          html,
          path: temp,
          executablePath,
          options,
          page: {
            title,
            date: DateTime.fromJSDate(ctx.run.scheduledFor, { zone: ctx.run.timezone }).toFormat(
              'yyyy-MM-dd',
            ),
            pipeline: ctx.run.pipelineId,
            run: ctx.run.id,
          },
          target: config.output.pdf,
          htmlShown: htmlFile.shown,
          signal: ctx.signal,
        }));
      });
      ctx.log.info(
        `Wrote ${pdfFile.shown} (${Math.ceil(pdfFile.bytes / 1024)} KB) in ${Math.round(pdfMs)} ms`,
        {
          path: pdfFile.shown,
          bytes: pdfFile.bytes,
          ms: Math.round(pdfMs),
        },
      );
    }

    const outputs: Record<string, unknown> = {
      path: pdfFile?.shown ?? htmlFile.shown,
      html: htmlFile.shown,
      title,
      metrics: Object.fromEntries(metrics.map((metric) => [metric.name, metric.value])),
      metrics_text: Object.fromEntries(metrics.map((metric) => [metric.name, metric.text])),
      tables,
    };
    if (pdfFile !== undefined) outputs['pdf'] = pdfFile.shown;
    if (previous !== undefined) outputs['previous_run'] = previous.runId;
    return {
      bytes: htmlFile.bytes + (pdfFile?.bytes ?? 0),
      outputs,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  },
});
