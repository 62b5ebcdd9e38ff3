/**
 * Turning a `chart` step's configuration into the Vega-Lite spec that is drawn: the built-in chart
 * (line/bar/area/point over x and y, a series per category, threshold rules), or the author's own
 * spec, then what every chart gets: column types filled in, time shown in the pipeline's zone, the
 * shipped font, a white background and the step's title and size.
 *
 * Time: the rows arrive with temporal values as wall-clock text in the pipeline's time zone, marked
 * `Z` (see chart-data.ts). Vega would format "local" times in the server's own zone, so every temporal
 * scale, time unit and time format is switched to its UTC variant here, which prints the wall clock
 * exactly as it is, whatever zone the server runs in.
 */
import { PwError } from '../../core/errors/pw-error.js';
import type { ColumnInfo } from '../../core/step.js';
import { isPlainObject } from '../../core/spec/paths.js';
import { closestNames, orList } from '../../core/template/suggest.js';
import type { ChartConfig, XConfig, YConfig } from './chart-schema.js';
import type { SpecProblem } from './chart-vl-validate.js';

export type Spec = Record<string, unknown>;
export type FieldKind = 'quantitative' | 'temporal' | 'nominal';

export const CHART_FONT = 'DejaVu Sans';
const RULE_COLOR = '#555555';
const LABEL_FIELD = '__pw_label';
const DEFAULT_WIDTH = 600;
const DEFAULT_HEIGHT = 300;

/** 24-hour labels that step up to days, months and years as the scale zooms out. */
const TIME_LABELS = {
  milliseconds: '%H:%M:%S.%L',
  seconds: '%H:%M:%S',
  minutes: '%H:%M',
  hours: '%H:%M',
  date: '%a %d',
  week: '%a %d', // d3 would write Sundays as 'Nov 22'
  month: '%b',
  quarter: '%b',
  year: '%Y',
};
export const TIME_LABEL_EXPR = `utcFormat(datum.value, ${JSON.stringify(TIME_LABELS)})`;
/**
 * Vega-Lite knows only `number` and `time` as format types; any other name is called as a Vega
 * expression function `name(value, format)` once `customFormatTypes` is on, and Vega's
 * `utcFormat(value, format)` is exactly the UTC twin of `time`.
 */
const UTC_FORMAT = 'utcFormat';
const DEFAULT_TIME_FORMAT = '%b %d, %Y';

const SECONDARY_CHANNELS = new Set([
  'x2',
  'y2',
  'xError',
  'xError2',
  'yError',
  'yError2',
  'theta2',
  'radius2',
  'latitude2',
  'longitude2',
]);
const SCALE_CHANNELS = new Set([
  'x',
  'y',
  'color',
  'fill',
  'stroke',
  'opacity',
  'fillOpacity',
  'strokeOpacity',
  'strokeWidth',
  'size',
  'angle',
  'theta',
  'radius',
  'xOffset',
  'yOffset',
]);
const TEXT_CHANNELS = new Set(['text', 'tooltip']);
/** Transforms whose output fields cannot be told from the spec alone. */
const DYNAMIC_TRANSFORMS = [
  'pivot',
  'fold',
  'lookup',
  'flatten',
  'density',
  'quantile',
  'regression',
  'loess',
];
const DATE_TIME_KEYS = new Set([
  'year',
  'quarter',
  'month',
  'date',
  'day',
  'hours',
  'minutes',
  'seconds',
  'milliseconds',
]);

export function fieldKind(duckType: string): FieldKind {
  const type = duckType.toUpperCase();
  if (type === 'DATE' || type.startsWith('TIMESTAMP')) return 'temporal';
  if (
    /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL)\b/.test(
      type,
    )
  )
    return 'quantitative';
  return 'nominal';
}

/** Vega-Lite reads `.` and `[` in a field as nested access; a column name is escaped to mean itself. */
export function escapeField(name: string): string {
  return name.replace(/[.[\]\\]/g, '\\$&');
}

/** The column a Vega-Lite field refers to: the part before the first unescaped `.` or `[`. */
export function fieldColumn(field: string): string {
  let name = '';
  for (let i = 0; i < field.length; i++) {
    const char = field[i]!;
    if (char === '\\' && i + 1 < field.length) name += field[++i];
    else if (char === '.' || char === '[') break;
    else name += char;
  }
  return name;
}

function unknownColumn(
  input: string,
  name: string,
  columns: readonly ColumnInfo[],
): {
  message: string;
  expected: string;
  found: string;
  hint: string;
} {
  const names = columns.map((column) => column.name);
  const close = closestNames(name, names);
  return {
    message: `Dataset '${input}' has no column '${name}'`,
    expected: `a column of '${input}': ${names.join(', ')}`,
    found: `'${name}'`,
    hint:
      close.length > 0
        ? `Did you mean ${orList(close)}?`
        : 'Column names are case-sensitive; rename the column in a sql step or pick one of the listed ones.',
  };
}

// ---------------------------------------------------------------- the built-in chart

/** A number of the config, possibly written as a template that rendered to text. */
function numberAt(value: number | string, path: string): number {
  const number = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  if (Number.isFinite(number)) return number;
  throw new PwError('PW_SPEC_TYPE', `${path} must be a number`, {
    path,
    expected: 'a number, or a template that renders to one',
    found: `the text '${String(value)}'`,
    hint: 'Check the template: "{{ params.high }}" needs a number parameter.',
  });
}

function columnOf(
  config: ChartConfig,
  columns: readonly ColumnInfo[],
  name: string,
  path: string,
): ColumnInfo {
  const column = columns.find((candidate) => candidate.name === name);
  if (column !== undefined) return column;
  const { message, ...details } = unknownColumn(config.input, name, columns);
  throw new PwError('PW_CHART_SPEC', message, { path, ...details });
}

/** The Vega-Lite spec of the built-in chart, and the columns it reads. */
export function builtinSpec(
  config: ChartConfig,
  columns: readonly ColumnInfo[],
  zone: string,
): { spec: Spec; fields: string[] } {
  const x: XConfig = typeof config.x === 'string' ? { field: config.x } : config.x!;
  const y: YConfig = typeof config.y === 'string' ? { field: config.y } : config.y!;
  const series = typeof config.series === 'string' ? { field: config.series } : config.series;
  const pathOf = (key: 'x' | 'y' | 'series', object: boolean): string =>
    `with.${key}${object ? '.field' : ''}`;
  const xColumn = columnOf(config, columns, x.field, pathOf('x', typeof config.x !== 'string'));
  const yColumn = columnOf(config, columns, y.field, pathOf('y', typeof config.y !== 'string'));
  const seriesColumn =
    series === undefined
      ? undefined
      : columnOf(config, columns, series.field, pathOf('series', typeof config.series !== 'string'));

  const mark = config.mark ?? 'line';
  const xType = x.type ?? fieldKind(xColumn.type);
  const yType = y.type ?? fieldKind(yColumn.type);
  const stacked = (mark === 'bar' || mark === 'area') && series !== undefined && config.stack !== false;
  const timeUnit =
    x.time_unit ??
    (xType === 'temporal' && mark === 'bar' && xColumn.type === 'DATE' ? 'yearmonthdate' : undefined);

  // Times of day depend on the zone; dates do not.
  const xTitle =
    x.title ?? (xType === 'temporal' && xColumn.type !== 'DATE' ? `${x.field} (${zone})` : x.field);
  const yTitle = y.title ?? y.field;
  const xEncoding: Spec = {
    field: escapeField(x.field),
    type: xType,
    title: xTitle,
    ...(timeUnit !== undefined ? { timeUnit } : {}),
    ...(x.format !== undefined ? { axis: { format: x.format } } : {}),
  };
  const zero = y.zero ?? (mark === 'bar' || mark === 'area');
  const yScale: Spec = {
    zero,
    ...(y.min !== undefined ? { domainMin: numberAt(y.min, 'with.y.min') } : {}),
    ...(y.max !== undefined ? { domainMax: numberAt(y.max, 'with.y.max') } : {}),
  };
  const yEncoding = (field: string): Spec => ({
    field: escapeField(field),
    type: yType,
    title: yTitle,
    scale: yScale,
    ...(y.format !== undefined ? { axis: { format: y.format } } : {}),
  });
  const main: Spec = {
    mark: {
      type: mark,
      ...(mark === 'line' ? { strokeWidth: 2 } : {}),
      ...(mark === 'point' ? { filled: true } : {}),
      ...(mark === 'area' && series !== undefined && !stacked ? { opacity: 0.5 } : {}),
      ...(mark === 'bar' && series !== undefined && !stacked ? { opacity: 0.7 } : {}),
    },
    encoding: {
      x: xEncoding,
      y: {
        ...yEncoding(y.field),
        ...((mark === 'bar' || mark === 'area') && !stacked ? { stack: null } : {}),
      },
      ...(series !== undefined
        ? {
            color: {
              field: escapeField(series.field),
              type: 'nominal',
              title: series.title ?? series.field,
            },
          }
        : {}),
    },
  };

  const rules = (config.rules ?? []).map((rule, index): Spec => {
    const at = numberAt(rule.y, `with.rules[${index}].y`);
    const color = rule.color ?? RULE_COLOR;
    const layer: Spec[] = [
      {
        mark: { type: 'rule', color, strokeWidth: 1.5, ...(rule.dash ? { strokeDash: [6, 4] } : {}) },
        encoding: { y: yEncoding(y.field) },
      },
    ];
    if (rule.label !== undefined) {
      layer.push({
        mark: {
          type: 'text',
          align: 'right',
          baseline: 'bottom',
          x: 'width',
          dx: -4,
          dy: -3,
          color,
          fontSize: 11,
        },
        encoding: { y: yEncoding(y.field), text: { field: LABEL_FIELD } },
      });
    }
    return {
      data: { values: [{ [y.field]: at, [LABEL_FIELD]: rule.label ?? '' }] },
      layer,
    };
  });

  const spec: Spec = {
    width: config.width ?? DEFAULT_WIDTH,
    height: config.height ?? DEFAULT_HEIGHT,
    layer: [main, ...rules],
  };
  const fields = [...new Set([xColumn.name, yColumn.name, ...(seriesColumn ? [seriesColumn.name] : [])])];
  return { spec, fields };
}

// ---------------------------------------------------------------- walking a spec

interface ViewScope {
  /** The view draws other data than the input (its own `data`), so its fields are not columns. */
  foreign: boolean;
  /** Fields created by transforms of this view and the views around it. */
  produced: Set<string>;
  /** A transform whose output fields cannot be known: the field check stands down. */
  dynamic: boolean;
}

type ChannelVisitor = (
  channel: string,
  def: Record<string, unknown>,
  path: (string | number)[],
  scope: ViewScope,
) => void;

function collectAs(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectAs(item, into);
    return;
  }
  if (!isPlainObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'as') {
      for (const name of Array.isArray(value) ? value : [value]) {
        if (typeof name !== 'string') continue;
        into.add(name);
        into.add(`${name}_end`); // bin's upper bound
      }
    } else collectAs(value, into);
  }
}

/** Calls `visit` for every field definition of every encoding (and facet) in the spec. */
function eachChannel(spec: Spec, visit: ChannelVisitor): void {
  const walk = (view: Record<string, unknown>, path: (string | number)[], outer: ViewScope): void => {
    const produced = new Set(outer.produced);
    const transforms = Array.isArray(view['transform']) ? view['transform'] : [];
    collectAs(transforms, produced);
    const scope: ViewScope = {
      foreign: outer.foreign || (path.length > 0 && view['data'] !== undefined),
      produced,
      dynamic:
        outer.dynamic ||
        transforms.some(
          (transform) => isPlainObject(transform) && DYNAMIC_TRANSFORMS.some((key) => key in transform),
        ),
    };
    const channels = (holder: unknown, at: (string | number)[]): void => {
      if (!isPlainObject(holder)) return;
      for (const [channel, value] of Object.entries(holder)) {
        const defs = Array.isArray(value) ? value : [value];
        defs.forEach((def, index) => {
          if (!isPlainObject(def)) return;
          const defPath = Array.isArray(value) ? [...at, channel, index] : [...at, channel];
          visit(channel, def, defPath, scope);
          const conditions = Array.isArray(def['condition']) ? def['condition'] : [def['condition']];
          conditions.forEach((condition, k) => {
            if (isPlainObject(condition) && typeof condition['field'] === 'string') {
              const conditionPath = Array.isArray(def['condition'])
                ? [...defPath, 'condition', k]
                : [...defPath, 'condition'];
              visit(channel, condition, conditionPath, scope);
            }
          });
        });
      }
    };
    channels(view['encoding'], [...path, 'encoding']);
    if (isPlainObject(view['facet']) && typeof view['facet']['field'] === 'string')
      visit('facet', view['facet'], [...path, 'facet'], scope);
    else channels(view['facet'], [...path, 'facet']);
    for (const key of ['layer', 'concat', 'hconcat', 'vconcat']) {
      const children = view[key];
      if (!Array.isArray(children)) continue;
      children.forEach((child, index) => {
        if (isPlainObject(child)) walk(child, [...path, key, index], scope);
      });
    }
    if (isPlainObject(view['spec'])) walk(view['spec'], [...path, 'spec'], scope);
  };
  walk(spec, [], { foreign: false, produced: new Set(), dynamic: false });
}

/** The first encoding field that is neither a column of the input nor made by a transform. */
export function unknownFieldProblem(
  spec: Spec,
  input: string,
  columns: readonly ColumnInfo[],
): SpecProblem | undefined {
  const names = new Set(columns.map((column) => column.name));
  let problem: SpecProblem | undefined;
  eachChannel(spec, (_channel, def, path, scope) => {
    if (problem !== undefined || scope.foreign || scope.dynamic) return;
    const field = def['field'];
    if (typeof field !== 'string') return;
    const column = fieldColumn(field);
    if (names.has(column) || scope.produced.has(column) || scope.produced.has(field)) return;
    problem = { path: [...path, 'field'], ...unknownColumn(input, column, columns) };
  });
  return problem;
}

// ---------------------------------------------------------------- what every chart gets

function utcUnit(unit: unknown): unknown {
  return typeof unit === 'string' && !unit.startsWith('utc') ? `utc${unit}` : unit;
}

/**
 * Time units, format types, time scales and date-time objects switched to UTC, everywhere but in
 * data and config.
 */
function toUtc(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(toUtc);
    return;
  }
  if (!isPlainObject(node)) return;
  const keys = Object.keys(node);
  if (
    keys.some((key) => DATE_TIME_KEYS.has(key)) &&
    keys.every((key) => DATE_TIME_KEYS.has(key) || key === 'utc') &&
    node['utc'] === undefined
  ) {
    node['utc'] = true;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === 'data' || key === 'datasets' || key === 'config' || key === 'usermeta') continue;
    if (key === 'timeUnit') {
      if (isPlainObject(value)) value['unit'] = utcUnit(value['unit']);
      else node[key] = utcUnit(value);
    } else if (key === 'formatType' && (value === 'time' || value === 'utc')) node[key] = UTC_FORMAT;
    else if (key === 'scale' && isPlainObject(value) && value['type'] === 'time') value['type'] = 'utc';
    toUtc(node[key]);
  }
}

export interface PrepareOptions {
  columns: readonly ColumnInfo[];
  title?: string | undefined;
  subtitle?: string | undefined;
  width?: number | undefined;
  height?: number | undefined;
  formats?: { number?: string | undefined; time?: string | undefined } | undefined;
}

/**
 * The spec as it is drawn: the step's title and size, missing field types from the column types,
 * time in UTC (the wall clock of the pipeline's zone), 24-hour time labels, and the chart config
 * defaults (the shipped font, white background, label formats) under the spec's own config. Also
 * the fields the input data must parse as dates (temporal text, which Vega-Lite leaves as text).
 */
export function prepareSpec(source: Spec, options: PrepareOptions): { spec: Spec; dateFields: string[] } {
  const spec = structuredClone(source);
  const dateFields = new Set<string>();
  if (options.title !== undefined || options.subtitle !== undefined) {
    const current = spec['title'];
    const base = isPlainObject(current) ? current : { text: typeof current === 'string' ? current : '' };
    const text = options.title ?? base['text'] ?? '';
    spec['title'] =
      options.subtitle === undefined && !isPlainObject(current)
        ? text
        : { ...base, text, ...(options.subtitle !== undefined ? { subtitle: options.subtitle } : {}) };
  }
  if (options.width !== undefined) spec['width'] = options.width;
  if (options.height !== undefined) spec['height'] = options.height;

  const kinds = new Map(options.columns.map((column) => [column.name, fieldKind(column.type)]));
  const timeFormat = options.formats?.time;
  eachChannel(spec, (channel, def, _path, scope) => {
    if (
      def['type'] === undefined &&
      typeof def['field'] === 'string' &&
      !scope.foreign &&
      !SECONDARY_CHANNELS.has(channel) &&
      def['aggregate'] === undefined &&
      def['bin'] === undefined &&
      def['timeUnit'] === undefined
    ) {
      const kind = kinds.get(fieldColumn(def['field']));
      if (kind !== undefined) def['type'] = kind;
    }
    if (def['type'] !== 'temporal') return;
    if (SCALE_CHANNELS.has(channel)) {
      if (def['scale'] === undefined) def['scale'] = { type: 'utc' };
      else if (isPlainObject(def['scale']) && def['scale']['type'] === undefined)
        def['scale']['type'] = 'utc';
    }
    // Axes of a UTC scale format their labels in UTC by themselves.
    if ((channel === 'x' || channel === 'y') && def['axis'] !== null) {
      const axis = isPlainObject(def['axis']) ? def['axis'] : {};
      if (axis['formatType'] === 'time' || axis['formatType'] === 'utc') delete axis['formatType'];
      if (axis['format'] === undefined && axis['labelExpr'] === undefined) {
        if (timeFormat !== undefined) axis['format'] = timeFormat;
        else if (def['timeUnit'] === undefined) axis['labelExpr'] = TIME_LABEL_EXPR;
      }
      def['axis'] = axis;
    }
    // Text has no scale: without a time unit, Vega-Lite would format it with the local timeFormat.
    const formatType = def['formatType'];
    if (
      TEXT_CHANNELS.has(channel) &&
      def['timeUnit'] === undefined &&
      (formatType === undefined || formatType === 'time' || formatType === 'utc')
    ) {
      def['formatType'] = UTC_FORMAT;
      if (typeof def['format'] !== 'string') def['format'] = timeFormat ?? DEFAULT_TIME_FORMAT;
      // Vega-Lite parses a field as a date only for what it formats itself.
      if (typeof def['field'] === 'string' && !scope.foreign) dateFields.add(def['field']);
    }
  });
  toUtc(spec);

  const own = isPlainObject(spec['config']) ? spec['config'] : {};
  spec['config'] = {
    font: CHART_FONT,
    background: 'white',
    // A first or last label flush with the plot's edge overlaps its neighbour, and Vega then hides
    // every other label of the axis; centred on their ticks, all fit whenever there is room.
    axisTemporal: { labelFlush: false },
    customFormatTypes: true,
    ...(options.formats?.number !== undefined ? { numberFormat: options.formats.number } : {}),
    ...(timeFormat !== undefined ? { timeFormat } : {}),
    ...own,
  };
  return { spec, dateFields: [...dateFields] };
}
