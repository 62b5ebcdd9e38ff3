/**
 * The `with:` block of a `chart` step. A chart is either the built-in one (`x`, `y`, `mark`, `series`,
 * `rules`, …) or a Vega-Lite spec of your own (`spec:` inline, or `spec_file:`), always drawn from one
 * dataset (`input`). An inline spec is checked against Vega-Lite's JSON Schema here, so `pipewright
 * validate` points at the field with the mistake; a spec file is checked when the step runs.
 */
import { z } from 'zod';
import { IDENTIFIER } from '../../core/spec/pipeline-schema.js';
import { isValidTimeZone } from '../../core/spec/checks.js';
import { checkSpecShape } from './chart-spec-check.js';
import { problemLine } from './chart-vl-validate.js';

export const CHART_MARKS = ['line', 'bar', 'area', 'point'] as const;
export const FIELD_TYPES = ['quantitative', 'temporal', 'ordinal', 'nominal'] as const;
export const TIME_UNITS = [
  'year',
  'quarter',
  'month',
  'week',
  'date',
  'day',
  'hours',
  'minutes',
  'yearquarter',
  'yearmonth',
  'yearweek',
  'yearmonthdate',
  'yearweekday',
  'yearmonthdatehours',
  'yearmonthdatehoursminutes',
  'monthdate',
  'dayhours',
  'hoursminutes',
] as const;

export const DEFAULT_MAX_ROWS = 50_000;
export const MAX_ROWS_LIMIT = 1_000_000;

const fieldName = z.string().min(1);

/**
 * A number, or text that is one once templates are rendered (`"{{ params.high }}"`): thresholds
 * usually come from run parameters. The text is read as a number when the step runs.
 */
const numberOrTemplate = z.union([z.number(), z.string().min(1)]);

const fieldCommon = {
  field: fieldName.describe('A column of the input dataset.'),
  type: z
    .enum(FIELD_TYPES)
    .optional()
    .describe(
      'quantitative, temporal, ordinal or nominal. Default: from the column type (numbers quantitative, DATE and TIMESTAMP temporal, anything else nominal).',
    ),
  title: z.string().optional().describe('The axis title. Default: the column name.'),
  format: z
    .string()
    .optional()
    .describe(
      'Axis label format: a d3-format number pattern (",.1f") or, for temporal fields, a d3 time format ("%d.%m. %H:%M").',
    ),
};

const xObject = z.strictObject({
  ...fieldCommon,
  time_unit: z
    .enum(TIME_UNITS)
    .optional()
    .describe(
      'Temporal fields: group time into units (yearmonthdate = one band per day). Bars over time need it for their width; DATE columns get yearmonthdate.',
    ),
});

const yObject = z.strictObject({
  ...fieldCommon,
  zero: z
    .boolean()
    .optional()
    .describe('Whether the axis includes 0. Default: true for bar and area, false for line and point.'),
  min: numberOrTemplate.optional().describe('Lowest value the axis shows at least (a number or a template).'),
  max: numberOrTemplate
    .optional()
    .describe('Highest value the axis shows at least (a number or a template).'),
});

const seriesObject = z.strictObject({
  field: fieldName.describe('A column of the input dataset: one line, area or bar colour per value.'),
  title: z.string().optional().describe('The legend title. Default: the column name.'),
});

const ruleSchema = z.strictObject({
  y: numberOrTemplate.describe(
    'Where the horizontal line is drawn, in units of the y axis: a number, or a template such as "{{ params.high }}".',
  ),
  label: z.string().optional().describe('Text at the right end of the line, e.g. "35 °C".'),
  color: z.string().min(1).optional().describe('A CSS colour. Default: #555555.'),
  dash: z.boolean().default(true).describe('Dashed (default) or solid.'),
});

const CONVENIENCE_FIELDS = ['mark', 'x', 'y', 'series', 'rules', 'stack'] as const;

export const chartConfig = z
  .strictObject({
    input: z.string().regex(IDENTIFIER, 'a step id').describe('The step whose dataset is drawn.'),
    spec: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        'A Vega-Lite spec (https://vega.github.io/vega-lite/) written as YAML. The data comes from input; leave data out.',
      ),
    spec_file: z
      .string()
      .min(1)
      .optional()
      .describe('A Vega-Lite spec in a JSON or YAML file, relative to the project folder.'),
    mark: z.enum(CHART_MARKS).optional().describe('Built-in chart: line (default), bar, area or point.'),
    x: z
      .union([fieldName, xObject])
      .optional()
      .describe(
        'Built-in chart: the x field, as a column name or { field, type, title, format, time_unit }.',
      ),
    y: z
      .union([fieldName, yObject])
      .optional()
      .describe(
        'Built-in chart: the y field, as a column name or { field, type, title, format, zero, min, max }.',
      ),
    series: z
      .union([fieldName, seriesObject])
      .optional()
      .describe(
        'Built-in chart: a column whose values each get their own line, area or bars, with a legend.',
      ),
    rules: z
      .array(ruleSchema)
      .optional()
      .describe('Built-in chart: horizontal lines such as thresholds: [{ y: 25, label: "25 °C" }].'),
    stack: z
      .boolean()
      .optional()
      .describe('Built-in chart with series, bar and area: stack the series (default true) or overlap them.'),
    title: z.string().optional().describe('The chart title (replaces the title of a spec).'),
    subtitle: z.string().optional().describe('A smaller line under the title.'),
    width: z
      .int()
      .min(50)
      .max(4000)
      .optional()
      .describe('Width of the plot area in pixels. Default: 600 for the built-in chart, else the spec’s.'),
    height: z
      .int()
      .min(50)
      .max(4000)
      .optional()
      .describe('Height of the plot area in pixels. Default: 300 for the built-in chart, else the spec’s.'),
    formats: z
      .strictObject({
        number: z.string().optional().describe('d3-format pattern for every number label, e.g. ",.1f".'),
        time: z
          .string()
          .optional()
          .describe(
            'd3 time format for every time label, e.g. "%d.%m. %H:%M". Default: 24-hour labels by scale.',
          ),
      })
      .optional()
      .describe('Default label formats for the whole chart.'),
    scale: z
      .number()
      .min(1)
      .max(4)
      .default(2)
      .describe('PNG pixels per chart pixel: 2 (default) keeps the image sharp on high-density screens.'),
    max_rows: z
      .int()
      .min(1)
      .max(MAX_ROWS_LIMIT)
      .default(DEFAULT_MAX_ROWS)
      .describe(`Refuse datasets with more rows than this (default ${DEFAULT_MAX_ROWS}); aggregate first.`),
    timestamp_zone: z
      .string()
      .refine(isValidTimeZone, { message: 'expected an IANA time zone such as UTC or Europe/Berlin' })
      .optional()
      .describe(
        'The zone TIMESTAMP (without time zone) values are written in. Default: the pipeline’s, so they are shown as they are; say UTC when they hold UTC.',
      ),
  })
  .superRefine((config, context) => {
    const conveniences = CONVENIENCE_FIELDS.filter((field) => config[field] !== undefined);
    if (config.spec !== undefined && config.spec_file !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['spec_file'],
        message: 'give either spec or spec_file, not both',
      });
    }
    if (config.spec !== undefined || config.spec_file !== undefined) {
      for (const field of conveniences) {
        context.addIssue({
          code: 'custom',
          path: [field],
          message: `'${field}' belongs to the built-in chart and has no effect with ${config.spec !== undefined ? 'spec' : 'spec_file'}; put it into the Vega-Lite spec`,
        });
      }
    } else {
      for (const field of ['x', 'y'] as const) {
        if (config[field] === undefined) {
          context.addIssue({
            code: 'custom',
            path: [field],
            message: `the built-in chart needs '${field}' (a column name); or give a Vega-Lite spec with spec: or spec_file:`,
          });
        }
      }
    }
    if (config.spec !== undefined) {
      for (const problem of checkSpecShape(config.spec)) {
        context.addIssue({ code: 'custom', path: ['spec', ...problem.path], message: problemLine(problem) });
      }
    }
  })
  .describe('Draws a dataset as a chart (Vega-Lite), rendered to SVG and PNG artifacts.');

export type ChartConfig = z.output<typeof chartConfig>;
export type XConfig = z.output<typeof xObject>;
export type YConfig = z.output<typeof yObject>;
export type RuleConfig = z.output<typeof ruleSchema>;
