/**
 * The `with:` block of a `report` step. An inline `template` is parsed here already, so
 * `pipewright validate` reports its syntax errors with the line inside the template; a `template_file`
 * is read and parsed when the step runs.
 */
import { z } from 'zod';
import { IDENTIFIER } from '../../core/spec/pipeline-schema.js';
import { isNumberFormat } from './report-format.js';
import { parseReportTemplate } from './report-liquid.js';

export const AGGREGATES = ['sum', 'avg', 'min', 'max', 'count', 'count_distinct', 'median'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export const PAGE_FORMATS = ['A4', 'A3', 'A5', 'Letter', 'Legal', 'Tabloid'] as const;

/** Upper bound of any table's rows: beyond it a report stops being something people read. */
export const TABLE_ROWS_LIMIT = 10_000;

const stepId = z.string().regex(IDENTIFIER, 'a step id');

const numberFormat = z.string().refine(isNumberFormat, {
  message: 'expected a number format such as "0.0", "#,##0", "0.0%", "$#,##0.00" or "0.0 °C", or "text"',
});

const CSS_LENGTH = /^\d+(\.\d+)?(mm|cm|in|px|pt)$/;
const cssLength = z.string().regex(CSS_LENGTH, 'a length such as 15mm, 0.5in or 40px');

export const tableOptionsShape = {
  title: z
    .string()
    .optional()
    .describe('Heading above the table (default tables: the dataset id, humanized).'),
  columns: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('The columns to show, in order (default: all).'),
  labels: z
    .record(z.string(), z.string())
    .optional()
    .describe('Column headings by column name, e.g. { temp_c: "Temperature (°C)" }.'),
  format: z
    .record(z.string(), z.string().min(1))
    .optional()
    .describe(
      'Formats by column: number formats ("0.0", "#,##0", "0.0%", "0.0 °C", "text") or, for DATE and TIMESTAMP columns, luxon tokens ("dd.MM. HH:mm").',
    ),
  totals: z
    .record(z.string(), z.enum(AGGREGATES))
    .optional()
    .describe(
      'A totals row over all rows (not only the ones shown): column → sum, avg, min, max, count, count_distinct or median.',
    ),
  order_by: z
    .array(z.string().regex(/^\S.*?(?:\s+(?:asc|desc))?$/i))
    .optional()
    .describe('Sort the rows, e.g. ["temp_c desc", "hour"] (default: the dataset order).'),
  max_rows: z
    .int()
    .min(1)
    .max(TABLE_ROWS_LIMIT)
    .optional()
    .describe(
      'Rows shown at most (default: the step’s max_table_rows); the table says how many it left out.',
    ),
  caption: z.string().optional().describe('A note under the table.'),
};

const datasetEntry = z.union([
  stepId,
  z.strictObject({ id: stepId.describe('The dataset (step id).'), ...tableOptionsShape }),
]);

const chartEntry = z.union([
  stepId,
  z.strictObject({
    id: stepId.describe('The chart step.'),
    caption: z.string().optional().describe('A caption under the chart.'),
  }),
]);

export const metricConfig = z
  .strictObject({
    label: z
      .string()
      .optional()
      .describe('What the card says above the value (default: the name, humanized).'),
    query: z
      .string()
      .min(1)
      .optional()
      .describe(
        'DuckDB SQL whose first row’s first column is the value; run parameters are variables (getvariable).',
      ),
    dataset: stepId.optional().describe('Instead of query: the dataset to aggregate.'),
    column: z.string().min(1).optional().describe('With dataset: the column to aggregate.'),
    agg: z
      .enum(AGGREGATES)
      .optional()
      .describe(
        'With dataset: sum (default with a column), avg, min, max, count (default without), count_distinct, median.',
      ),
    where: z.string().min(1).optional().describe('With dataset: a SQL condition on its rows.'),
    format: numberFormat.optional().describe('Number format of the value, e.g. "0.0 °C" or "#,##0".'),
    better: z
      .enum(['higher', 'lower'])
      .optional()
      .describe('Which direction of change is good: colours the change green or red.'),
  })
  .superRefine((metric, context) => {
    if ((metric.query === undefined) === (metric.dataset === undefined)) {
      context.addIssue({
        code: 'custom',
        path: [],
        message: 'a metric needs either query or dataset (with column and agg), not both',
      });
    }
    if (metric.query !== undefined) {
      for (const field of ['column', 'agg', 'where'] as const) {
        if (metric[field] !== undefined)
          context.addIssue({
            code: 'custom',
            path: [field],
            message: `'${field}' goes with dataset, not query`,
          });
      }
    }
    const agg = metric.agg ?? (metric.column === undefined ? 'count' : 'sum');
    if (metric.dataset !== undefined && metric.column === undefined && agg !== 'count') {
      context.addIssue({ code: 'custom', path: ['column'], message: `agg: ${agg} needs a column` });
    }
  });

export type MetricConfig = z.output<typeof metricConfig>;

const headerFooter = z
  .union([z.string(), z.literal(false)])
  .optional()
  .describe(
    'Text on every page; {title}, {date}, {pipeline}, {run}, {page} and {pages} are replaced; "left|right" or "left|center|right" splits it; false for none.',
  );

export const pdfOptions = z.strictObject({
  page: z.enum(PAGE_FORMATS).default('A4').describe('Paper size.'),
  landscape: z.boolean().default(false).describe('Landscape orientation.'),
  margin: z
    .union([
      cssLength,
      z.strictObject({
        top: cssLength.optional(),
        right: cssLength.optional(),
        bottom: cssLength.optional(),
        left: cssLength.optional(),
      }),
    ])
    .optional()
    .describe(
      'Page margins: one length for all sides, or { top, right, bottom, left } (default 18mm top and bottom, 15mm sides).',
    ),
  header: headerFooter,
  footer: headerFooter,
});

export type PdfOptions = z.output<typeof pdfOptions>;

const fileName = (extension: string) =>
  z
    .string()
    .regex(new RegExp(`^[^/\\\\]+\\.${extension}$`), `a file name ending in .${extension}, without folders`);

export const reportConfig = z
  .strictObject({
    title: z
      .string()
      .min(1)
      .optional()
      .describe('The report title (a pipeline template). Default: the pipeline id, humanized.'),
    template: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The report template, inline: Markdown or HTML with Liquid and the report helpers. Not rendered as a pipeline template.',
      ),
    template_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The template in a file, relative to the project folder: .md is Markdown, .html or .liquid HTML.',
      ),
    template_format: z
      .enum(['markdown', 'html'])
      .optional()
      .describe('What the template is written in. Default: markdown inline, else from the file extension.'),
    datasets: z
      .array(datasetEntry)
      .default([])
      .describe(
        'Datasets the report shows: step ids, or { id, columns, format, labels, totals, order_by, max_rows, title, caption }.',
      ),
    charts: z
      .array(chartEntry)
      .default([])
      .describe('Chart steps whose images the report shows: step ids, or { id, caption }.'),
    metrics: z
      .record(z.string().regex(IDENTIFIER, 'a metric name: letters, digits and _'), metricConfig)
      .default({})
      .describe('Headline numbers by name, each with its change against the previous successful run.'),
    pdf: z
      .union([z.boolean(), z.literal('auto'), pdfOptions])
      .default(true)
      .describe(
        "Also print report.pdf with headless Chromium: true, false, 'auto' (only when a Chromium is found; else a warning), or { page, landscape, margin, header, footer }.",
      ),
    chromium_path: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The Chromium or Chrome executable. Default: $PIPEWRIGHT_CHROMIUM, /usr/bin/chromium, then chromium, chromium-browser, google-chrome on PATH.',
      ),
    max_table_rows: z
      .int()
      .min(1)
      .max(TABLE_ROWS_LIMIT)
      .default(200)
      .describe('Rows a table shows at most; a longer table says "Showing 200 of 12,345 rows".'),
    chart_images: z
      .enum(['svg', 'png'])
      .default('svg')
      .describe(
        'Which image of a chart to embed: svg (sharp, small) or png (for mail programs without SVG).',
      ),
    locale: z
      .string()
      .min(2)
      .refine((locale) => Intl.NumberFormat.supportedLocalesOf([locale]).length > 0, {
        message: 'a locale such as en-US, en-GB or de',
      })
      .default('en-US')
      .describe('Locale of numbers and dates, e.g. en-GB or de (default en-US).'),
    css: z.string().optional().describe('Extra CSS, added after the built-in stylesheet.'),
    output: z
      .strictObject({
        html: fileName('html').default('report.html'),
        pdf: fileName('pdf').default('report.pdf'),
      })
      .default({ html: 'report.html', pdf: 'report.pdf' })
      .describe('Artifact file names (default report.html and report.pdf).'),
  })
  .superRefine((config, context) => {
    if (config.template !== undefined && config.template_file !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['template_file'],
        message: 'give template or template_file, not both',
      });
    }
    if (config.template !== undefined) {
      try {
        parseReportTemplate(config.template, { path: 'with.template' });
      } catch (error) {
        context.addIssue({
          code: 'custom',
          path: ['template'],
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
  })
  .describe('Renders datasets, metrics and charts into a self-contained report.html and a report.pdf.');

export type ReportConfig = z.output<typeof reportConfig>;

export interface TableOptions {
  title?: string | undefined;
  columns?: string[] | undefined;
  labels?: Record<string, string> | undefined;
  format?: Record<string, string> | undefined;
  totals?: Record<string, Aggregate> | undefined;
  order_by?: string[] | undefined;
  max_rows?: number | undefined;
  caption?: string | undefined;
}

export function datasetId(entry: ReportConfig['datasets'][number]): string {
  return typeof entry === 'string' ? entry : entry.id;
}

export function chartId(entry: ReportConfig['charts'][number]): string {
  return typeof entry === 'string' ? entry : entry.id;
}
