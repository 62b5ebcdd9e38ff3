/**
 * What a report reads from the run: a dataset as a bounded table (formatted cells, a row count, totals
 * over all rows), a metric's value, and a chart step's image as a data: URI. Every query is bounded,
 * so a dataset of millions of rows costs one count and one LIMIT, never a huge document.
 */
import { readFile } from 'node:fs/promises';
import type { ColumnInfo, RunArtifact, StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent } from '../../core/sql-identifiers.js';
import { closestNames, orList } from '../../core/template/suggest.js';
import { plainValue } from '../../engine/datasets.js';
import { errorText, headline } from '../extract/duckdb-errors.js';
import { setParamVariables } from '../transform/param-variables.js';
import {
  autoNumberFormat,
  formatDate,
  formatNumber,
  humanize,
  isNumberFormat,
  type DateKind,
} from './report-format.js';
import { AGGREGATES, type Aggregate, type MetricConfig, type TableOptions } from './report-schema.js';

/** Longest text shown in a table cell; longer values end in "…". */
export const CELL_TEXT_LIMIT = 500;
/** Most cells (rows × columns) one table shows, whatever max_rows says. */
export const TABLE_CELL_LIMIT = 200_000;

/** Where a request came from, for messages: `{% table hourly %}` or `datasets[1]`, and the field path. */
export interface Origin {
  label: string;
  path: string;
}

export interface Presentation {
  zone: string;
  locale: string;
}

type ColumnKind = 'number' | 'boolean' | 'text' | DateKind;

export interface TableColumn {
  name: string;
  label: string;
  kind: ColumnKind;
  format: string | undefined;
}

export interface TableData {
  dataset: string;
  columns: TableColumn[];
  /** Formatted cells; null for SQL NULL. */
  rows: (string | null)[][];
  /** Rows in the dataset. */
  total: number;
  /** Formatted totals per column (null where the column has none), when totals were asked for. */
  totals: (string | null)[] | undefined;
  totalsLabel: string | undefined;
  /** Aggregate per column, for the cells' titles. */
  totalsAggregates: (Aggregate | undefined)[] | undefined;
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL(\(\d+,\s*\d+\))?)$/i;

function kindOf(type: string): ColumnKind {
  const upper = type.toUpperCase();
  if (NUMERIC.test(upper)) return 'number';
  if (upper === 'BOOLEAN') return 'boolean';
  if (upper === 'DATE') return 'date';
  if (upper === 'TIMESTAMP WITH TIME ZONE') return 'timestamptz';
  if (/^TIMESTAMP(_S|_MS|_NS)?$/.test(upper)) return 'timestamp';
  return 'text';
}

/** Every dataset of the run (tables and views), for "did you mean". */
export async function knownDatasets(ctx: StepContext): Promise<string[]> {
  const rows = await ctx.datasets.query<{ name: string }>(
    `SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary
     UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT temporary AND NOT internal
     ORDER BY name`,
  );
  return rows.map((row) => row.name).filter((name) => !name.startsWith('__pw_'));
}

export async function assertDataset(ctx: StepContext, dataset: string, origin: Origin): Promise<void> {
  if (await ctx.datasets.exists(dataset)) return;
  const known = await knownDatasets(ctx);
  const close = closestNames(dataset, known);
  throw new PwError(
    'PW_DATASET_UNKNOWN',
    `${origin.label}: dataset '${dataset}' does not exist in this run`,
    {
      path: origin.path,
      expected: 'the id of a step that produced a dataset before the report',
      found: dataset,
      hint:
        close.length > 0
          ? `Did you mean ${orList(close)}?`
          : known.length > 0
            ? `Datasets of this run: ${known.join(', ')}.`
            : 'No step has produced a dataset yet in this run.',
    },
  );
}

function findColumn(columns: readonly ColumnInfo[], name: string): ColumnInfo | undefined {
  return (
    columns.find((column) => column.name === name) ??
    columns.find((column) => column.name.toLowerCase() === name.toLowerCase())
  );
}

function columnOf(
  columns: readonly ColumnInfo[],
  name: string,
  dataset: string,
  origin: Origin,
  option: string,
): ColumnInfo {
  const found = findColumn(columns, name.trim());
  if (found) return found;
  const close = closestNames(
    name.trim(),
    columns.map((column) => column.name),
  );
  throw new PwError(
    'PW_SPEC_TYPE',
    `${origin.label}: ${option}: dataset '${dataset}' has no column '${name.trim()}'`,
    {
      path: origin.path,
      expected: `one of ${columns.map((column) => column.name).join(', ')}`,
      found: name.trim(),
      hint: close.length > 0 ? `Did you mean ${orList(close)}?` : undefined,
    },
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Reads `column: value` pairs, from an object or from text such as "temp_c:0.0, hour:dd.MM. HH:mm".
 * In text, a comma only separates pairs when a column name and a colon follow it, so formats and
 * labels may contain commas ("#,##0") and colons ("HH:mm").
 */
export function readPairs(
  value: unknown,
  columns: readonly ColumnInfo[],
  option: string,
  origin: Origin,
): [string, string][] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, String(item)]);
  }
  if (typeof value !== 'string') {
    throw new PwError(
      'PW_SPEC_TYPE',
      `${origin.label}: ${option} must be text such as "temp_c:0.0, probe:…"`,
      {
        path: origin.path,
        found: typeof value,
      },
    );
  }
  const names = [...columns.map((column) => column.name)]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp);
  const separator = new RegExp(`,\\s*(?=(?:${names.join('|')})\\s*:)`, 'i');
  return value
    .split(separator)
    .filter((piece) => piece.trim() !== '')
    .map((piece) => {
      const colon = piece.indexOf(':');
      if (colon < 0) {
        throw new PwError(
          'PW_SPEC_TYPE',
          `${origin.label}: ${option}: '${piece.trim()}' is not column:value`,
          {
            path: origin.path,
            expected: `pairs such as "${columns[0]?.name ?? 'column'}:…", separated by commas`,
            found: piece.trim(),
          },
        );
      }
      return [piece.slice(0, colon).trim(), piece.slice(colon + 1).trim()];
    });
}

function readList(value: unknown, option: string, origin: Origin): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map((item) => String(item));
  if (typeof value === 'string')
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  throw new PwError('PW_SPEC_TYPE', `${origin.label}: ${option} must be a list or comma-separated text`, {
    path: origin.path,
    found: typeof value,
  });
}

/** Tag arguments (`{% table x, columns: "a,b", max_rows: 20 %}`) as table options. */
export function tableOptionsFromArgs(args: Record<string, unknown>, origin: Origin): RawTableOptions {
  const text = (key: string): string | undefined => {
    const value = args[key];
    return value === undefined || value === null ? undefined : String(value);
  };
  const maxRows = args['max_rows'];
  if (maxRows !== undefined && (typeof maxRows !== 'number' || !Number.isInteger(maxRows) || maxRows < 1)) {
    throw new PwError('PW_SPEC_TYPE', `${origin.label}: max_rows must be a whole number of at least 1`, {
      path: origin.path,
      found: String(maxRows),
    });
  }
  return {
    title: text('title'),
    caption: text('caption'),
    columns: readList(args['columns'], 'columns', origin),
    order_by: readList(args['order_by'], 'order_by', origin),
    max_rows: maxRows as number | undefined,
    labels: args['labels'],
    format: args['format'],
    totals: args['totals'],
  };
}

/** Table options before the dataset's columns are known: maps may still be text. */
export interface RawTableOptions extends Omit<TableOptions, 'labels' | 'format' | 'totals'> {
  labels?: unknown;
  format?: unknown;
  totals?: unknown;
}

const TOTAL_LABELS: Record<Aggregate, string> = {
  sum: 'Total',
  avg: 'Average',
  min: 'Minimum',
  max: 'Maximum',
  count: 'Count',
  count_distinct: 'Distinct',
  median: 'Median',
};

function aggregateSql(agg: Aggregate, column: string): string {
  const quoted = quoteIdent(column);
  switch (agg) {
    case 'count':
      return `count(${quoted})`;
    case 'count_distinct':
      return `count(DISTINCT ${quoted})`;
    default:
      return `${agg}(${quoted})`;
  }
}

function selectExpression(column: ColumnInfo, kind: ColumnKind): string {
  const quoted = quoteIdent(column.name);
  if (kind === 'timestamp' && column.type.toUpperCase() !== 'TIMESTAMP')
    return `CAST(${quoted} AS TIMESTAMP)`;
  if (kind !== 'text') return quoted;
  const text = column.type.toUpperCase() === 'VARCHAR' ? quoted : `CAST(${quoted} AS VARCHAR)`;
  return `CASE WHEN length(${text}) > ${CELL_TEXT_LIMIT} THEN left(${text}, ${CELL_TEXT_LIMIT}) || '…' ELSE ${text} END`;
}

const DATE_TOKENS = /[yMdHhmsSLcEakqWoZz]/;

function checkFormat(column: TableColumn, spec: string, dataset: string, origin: Origin): void {
  const ok =
    spec === 'text' ||
    (column.kind === 'number' && isNumberFormat(spec)) ||
    ((column.kind === 'date' || column.kind === 'timestamp' || column.kind === 'timestamptz') &&
      DATE_TOKENS.test(spec));
  if (ok) return;
  throw new PwError(
    'PW_SPEC_TYPE',
    `${origin.label}: format of column '${column.name}' of '${dataset}': '${spec}' does not fit a ${column.kind} column`,
    {
      path: origin.path,
      expected:
        column.kind === 'number'
          ? 'a number format such as 0.0, #,##0, 0.0% or 0.0 °C'
          : column.kind === 'text' || column.kind === 'boolean'
            ? 'no format (text and boolean columns print as they are), or "text"'
            : 'luxon date tokens such as yyyy-MM-dd or dd.MM. HH:mm',
      found: spec,
    },
  );
}

export function formatValue(
  value: unknown,
  column: Pick<TableColumn, 'kind' | 'format'>,
  view: Presentation,
): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return formatNumber(value, column.format, view.locale);
  if (value instanceof Date) {
    const kind = column.kind === 'date' || column.kind === 'timestamptz' ? column.kind : 'timestamp';
    return formatDate(
      value,
      kind,
      column.format === 'text' ? undefined : column.format,
      view.zone,
      view.locale,
    );
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return value;
  return JSON.stringify(plainValue(value)) ?? String(value);
}

/** One dataset as a bounded, formatted table. */
export async function loadTable(
  ctx: StepContext,
  dataset: string,
  options: RawTableOptions,
  defaults: { maxRows: number },
  view: Presentation,
  origin: Origin,
): Promise<TableData> {
  await assertDataset(ctx, dataset, origin);
  const all = await ctx.datasets.columns(dataset);
  const chosen =
    options.columns === undefined
      ? all
      : options.columns.map((name) => columnOf(all, name, dataset, origin, 'columns'));
  const labels = new Map(
    readPairs(options.labels, all, 'labels', origin).map(([name, label]) => [
      columnOf(all, name, dataset, origin, 'labels').name,
      label,
    ]),
  );
  const formats = new Map(
    readPairs(options.format, all, 'format', origin).map(([name, spec]) => [
      columnOf(all, name, dataset, origin, 'format').name,
      spec,
    ]),
  );
  const columns: TableColumn[] = chosen.map((column) => ({
    name: column.name,
    label: labels.get(column.name) ?? column.name,
    kind: kindOf(column.type),
    format: formats.get(column.name),
  }));
  for (const column of columns)
    if (column.format !== undefined) checkFormat(column, column.format, dataset, origin);

  const totals = new Map<string, Aggregate>();
  for (const [name, agg] of readPairs(options.totals, all, 'totals', origin)) {
    const column = columnOf(all, name, dataset, origin, 'totals');
    if (!(AGGREGATES as readonly string[]).includes(agg)) {
      throw new PwError('PW_SPEC_TYPE', `${origin.label}: totals: '${agg}' is not an aggregate`, {
        path: origin.path,
        expected: `one of ${AGGREGATES.join(', ')}`,
        found: agg,
        hint:
          closestNames(agg, AGGREGATES).length > 0
            ? `Did you mean ${orList(closestNames(agg, AGGREGATES))}?`
            : undefined,
      });
    }
    const kind = kindOf(column.type);
    const numericOnly = agg === 'sum' || agg === 'avg' || agg === 'median';
    if (
      (numericOnly && kind !== 'number') ||
      ((agg === 'min' || agg === 'max') && (kind === 'text' || kind === 'boolean'))
    ) {
      throw new PwError(
        'PW_SPEC_TYPE',
        `${origin.label}: totals: cannot take the ${agg} of column '${column.name}' (${column.type})`,
        {
          path: origin.path,
          expected: numericOnly ? 'a numeric column' : 'a numeric or date column',
          found: `${column.name} ${column.type}`,
          hint: 'count and count_distinct work on any column.',
        },
      );
    }
    if (!chosen.some((shown) => shown.name === column.name)) {
      throw new PwError('PW_SPEC_TYPE', `${origin.label}: totals: column '${column.name}' is not shown`, {
        path: origin.path,
        hint: 'Add it to columns, or drop its total.',
      });
    }
    totals.set(column.name, agg as Aggregate);
  }

  const order = (options.order_by ?? []).map((entry) => {
    const match = /^(.*?)(?:\s+(asc|desc))?$/i.exec(entry.trim());
    const column = columnOf(all, match?.[1] ?? entry, dataset, origin, 'order_by');
    return `${quoteIdent(column.name)} ${(match?.[2] ?? 'asc').toUpperCase()}`;
  });

  const requested = options.max_rows ?? defaults.maxRows;
  const limit = Math.max(1, Math.min(requested, Math.floor(TABLE_CELL_LIMIT / Math.max(1, columns.length))));
  const source = quoteIdent(dataset);
  const totalExpressions = [...totals.entries()].map(
    ([name, agg], index) => `${aggregateSql(agg, name)} AS ${quoteIdent(`t${index}`)}`,
  );
  const [summary] = await ctx.datasets.query(
    `SELECT count(*) AS n${totalExpressions.map((expression) => `, ${expression}`).join('')} FROM ${source}`,
  );
  const total = Number(summary?.['n'] ?? 0);
  const select = chosen.map(
    (column, index) => `${selectExpression(column, kindOf(column.type))} AS ${quoteIdent(`c${index}`)}`,
  );
  const rows = await ctx.datasets.query(
    `SELECT ${select.join(', ')} FROM ${source}${order.length > 0 ? ` ORDER BY ${order.join(', ')}` : ''} LIMIT ${limit}`,
  );
  ctx.signal.throwIfAborted();

  // Number columns without a format get one from the values they show, so their decimals line up.
  const shownFormats = columns.map((column, index) =>
    column.kind === 'number' && column.format === undefined
      ? autoNumberFormat(
          chosen[index]?.type ?? '',
          rows.map((row) => row[`c${index}`]),
        )
      : column.format,
  );
  const cells = rows.map((row) =>
    columns.map((column, index) =>
      formatValue(row[`c${index}`], { kind: column.kind, format: shownFormats[index] }, view),
    ),
  );
  let totalsRow: (string | null)[] | undefined;
  let totalsAggregates: (Aggregate | undefined)[] | undefined;
  let totalsLabel: string | undefined;
  if (totals.size > 0) {
    const names = [...totals.keys()];
    totalsAggregates = columns.map((column) => totals.get(column.name));
    totalsRow = columns.map((column) => {
      const agg = totals.get(column.name);
      if (agg === undefined) return null;
      const value = plainValue(summary?.[`t${names.indexOf(column.name)}`]);
      const index = columns.indexOf(column);
      // Counts are whole numbers; an average of a whole-number column is not.
      const own =
        agg === 'count' || agg === 'count_distinct'
          ? undefined
          : column.format === undefined && (agg === 'avg' || agg === 'median')
            ? autoNumberFormat('DOUBLE', [value])
            : shownFormats[index];
      return formatValue(
        value,
        { kind: agg.startsWith('count') ? 'number' : column.kind, format: own },
        view,
      );
    });
    const kinds = new Set(totals.values());
    const [only] = [...kinds];
    totalsLabel = kinds.size === 1 && only !== undefined ? TOTAL_LABELS[only] : 'Totals';
  }
  return { dataset, columns, rows: cells, total, totals: totalsRow, totalsLabel, totalsAggregates };
}

export interface MetricValue {
  name: string;
  label: string;
  value: number | null;
}

/** Computes a metric: the first column of the first row of its query, or an aggregate of a dataset. */
export async function computeMetric(
  ctx: StepContext,
  name: string,
  metric: MetricConfig,
  paramsSet: { done: boolean },
): Promise<MetricValue> {
  const origin: Origin = { label: `metrics.${name}`, path: `with.metrics.${name}` };
  let sql: string;
  if (metric.query !== undefined) {
    if (!paramsSet.done) {
      await setParamVariables(ctx.datasets.connection, ctx.run.params);
      paramsSet.done = true;
    }
    sql = metric.query;
  } else {
    const dataset = metric.dataset ?? '';
    await assertDataset(ctx, dataset, { ...origin, path: `${origin.path}.dataset` });
    const agg = metric.agg ?? (metric.column === undefined ? 'count' : 'sum');
    let expression = 'count(*)';
    if (metric.column !== undefined) {
      const column = columnOf(
        await ctx.datasets.columns(dataset),
        metric.column,
        dataset,
        { ...origin, path: `${origin.path}.column` },
        'column',
      );
      expression = aggregateSql(agg, column.name);
    }
    sql = `SELECT ${expression} FROM ${quoteIdent(dataset)}${metric.where === undefined ? '' : ` WHERE (${metric.where})`}`;
  }
  let rows: Record<string, unknown>[];
  try {
    rows = await ctx.datasets.query(sql);
  } catch (error) {
    throw new PwError('PW_SQL_ERROR', `metrics.${name}: ${headline(errorText(error))}`, {
      path:
        metric.query !== undefined
          ? `${origin.path}.query`
          : metric.where !== undefined
            ? `${origin.path}.where`
            : origin.path,
      hint: 'The query runs in the run database: earlier steps are tables named after their ids.',
      cause: error,
    });
  }
  const first = rows[0] === undefined ? undefined : Object.values(rows[0])[0];
  const value = plainValue(first);
  if (value !== null && value !== undefined && (typeof value !== 'number' || Number.isNaN(value))) {
    throw new PwError('PW_SPEC_TYPE', `metrics.${name}: the value is not a number`, {
      path: origin.path,
      expected: 'a number (or NULL) in the first column of the first row',
      found: typeof value === 'string' ? `text '${value.slice(0, 40)}'` : String(value),
      hint: 'Cast it in SQL, e.g. CAST(x AS DOUBLE), or count/sum instead.',
    });
  }
  return { name, label: metric.label ?? humanize(name), value: (value as number | null | undefined) ?? null };
}

export interface ChartImage {
  id: string;
  src: string;
  width: number | undefined;
  height: number | undefined;
}

const SVG_TYPE = 'image/svg+xml';
const PNG_TYPE = 'image/png';

function isSvg(artifact: RunArtifact): boolean {
  return (
    artifact.contentType === SVG_TYPE ||
    (artifact.contentType === undefined && artifact.name.endsWith('.svg'))
  );
}

function isPng(artifact: RunArtifact): boolean {
  return (
    artifact.contentType === PNG_TYPE ||
    (artifact.contentType === undefined && artifact.name.endsWith('.png'))
  );
}

function svgSize(svg: string): { width: number | undefined; height: number | undefined } {
  const open = /<svg\b[^>]*>/i.exec(svg)?.[0] ?? '';
  const number = (name: string) => {
    const match = new RegExp(`\\s${name}\\s*=\\s*["']?([\\d.]+)(px)?["']?`, 'i').exec(open);
    return match ? Math.round(Number(match[1])) : undefined;
  };
  return { width: number('width'), height: number('height') };
}

function pngSize(bytes: Buffer): { width: number | undefined; height: number | undefined } {
  if (bytes.length < 24 || bytes.toString('ascii', 12, 16) !== 'IHDR')
    return { width: undefined, height: undefined };
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Reads the image a chart step registered (SVG or PNG, as preferred) as a data: URI. */
export async function loadChart(
  artifacts: readonly RunArtifact[],
  id: string,
  prefer: 'svg' | 'png',
  origin: Origin,
): Promise<ChartImage> {
  const own = artifacts.filter((artifact) => artifact.stepId === id);
  const svg = own.findLast(isSvg);
  const png = own.findLast(isPng);
  const chosen = prefer === 'svg' ? (svg ?? png) : (png ?? svg);
  if (chosen === undefined) {
    const drawn = [
      ...new Set(
        artifacts
          .filter((artifact) => isSvg(artifact) || isPng(artifact))
          .map((artifact) => artifact.stepId ?? ''),
      ),
    ].filter((step) => step !== '');
    const close = closestNames(id, drawn);
    throw new PwError(
      'PW_REPORT_CHART_MISSING',
      `${origin.label}: no step of this run drew a chart '${id}'`,
      {
        path: origin.path,
        expected: 'the id of a chart step that ran before the report',
        found: id,
        hint:
          close.length > 0
            ? `Did you mean ${orList(close)}?`
            : drawn.length > 0
              ? `Charts of this run: ${drawn.join(', ')}.`
              : 'No step of this run registered an SVG or PNG image; list the chart step under charts: so the report runs after it.',
      },
    );
  }
  const bytes = await readFile(chosen.path);
  if (isSvg(chosen)) {
    const text = bytes.toString('utf8');
    return { id, src: `data:${SVG_TYPE};base64,${bytes.toString('base64')}`, ...svgSize(text) };
  }
  return { id, src: `data:${PNG_TYPE};base64,${bytes.toString('base64')}`, ...pngSize(bytes) };
}
