/**
 * The HTML a report is made of: tables, metric cards, chart figures, the run's metadata and the page
 * around them. Every value from data, parameters or configuration is escaped here; what these functions
 * return is finished HTML. Helper output never contains a blank line, so Markdown passes it through as
 * one HTML block.
 */
import type { ChartImage, TableData } from './report-data.js';
import { escapeHtml, formatNumber, formatRunDate, type MetricChange } from './report-format.js';
import { REPORT_CSS } from './templates/default-template.js';

export interface MetricView {
  name: string;
  label: string;
  value: number | null;
  text: string;
  previous: number | null;
  previousText: string | null;
  change: MetricChange | undefined;
  /** Whether an earlier run existed to compare with. */
  compared: boolean;
}

const count = (value: number, locale: string) => formatNumber(value, '#,##0', locale);

export function tableHtml(
  table: TableData,
  options: { caption?: string | undefined; locale: string },
): string {
  const numeric = table.columns.map((column) => column.kind === 'number');
  const cls = (index: number, extra = '') => {
    const names = [numeric[index] ? 'pw-num' : '', extra].filter(Boolean).join(' ');
    return names === '' ? '' : ` class="${names}"`;
  };
  const head = table.columns.map(
    (column, index) => `<th scope="col"${cls(index)}>${escapeHtml(column.label)}</th>`,
  );
  const body = table.rows.map(
    (row) =>
      `<tr>${row
        .map((cell, index) =>
          cell === null ? `<td${cls(index, 'pw-null')}>–</td>` : `<td${cls(index)}>${escapeHtml(cell)}</td>`,
        )
        .join('')}</tr>`,
  );
  const lines = [
    `<div class="pw-table" data-dataset="${escapeHtml(table.dataset)}">`,
    '<div class="pw-scroll">',
    '<table>',
  ];
  if (options.caption !== undefined && options.caption !== '')
    lines.push(`<caption>${escapeHtml(options.caption)}</caption>`);
  lines.push(`<thead><tr>${head.join('')}</tr></thead>`, '<tbody>', ...body, '</tbody>');
  if (table.totals !== undefined) {
    const labelAt = table.totals.findIndex((cell) => cell === null);
    const cells = table.totals.map((cell, index) => {
      const agg = table.totalsAggregates?.[index];
      if (cell !== null)
        return `<td${cls(index)}${agg === undefined ? '' : ` title="${agg}"`}>${escapeHtml(cell)}</td>`;
      return index === labelAt ? `<td>${escapeHtml(table.totalsLabel ?? 'Total')}</td>` : '<td></td>';
    });
    lines.push(`<tfoot><tr>${cells.join('')}</tr></tfoot>`);
  }
  lines.push('</table>', '</div>');
  const shown = table.rows.length;
  if (shown < table.total) {
    const totals = table.totals === undefined ? '' : ' Totals cover all rows.';
    lines.push(
      `<p class="pw-note pw-truncated">Showing ${count(shown, options.locale)} of ${count(table.total, options.locale)} rows.${totals}</p>`,
    );
  } else if (table.total === 0) {
    lines.push('<p class="pw-note">No rows.</p>');
  }
  lines.push('</div>');
  return lines.join('\n');
}

export function metricHtml(metric: MetricView): string {
  const lines = [
    `<div class="pw-metric" data-metric="${escapeHtml(metric.name)}">`,
    `<div class="pw-metric-label">${escapeHtml(metric.label)}</div>`,
    `<div class="pw-metric-value">${escapeHtml(metric.text)}</div>`,
  ];
  if (metric.change !== undefined) {
    const title =
      metric.previousText === null ? '' : ` title="previous run: ${escapeHtml(metric.previousText)}"`;
    lines.push(
      `<div class="pw-change pw-${metric.change.sentiment}"${title}>${escapeHtml(metric.change.text)} <span class="pw-vs">vs. previous run</span></div>`,
    );
  } else if (metric.compared) {
    lines.push('<div class="pw-change">no earlier value</div>');
  } else {
    lines.push('<div class="pw-change">no earlier run to compare</div>');
  }
  lines.push('</div>');
  return lines.join('\n');
}

export function metricsHtml(metrics: readonly MetricView[]): string {
  if (metrics.length === 0) return '';
  return ['<div class="pw-metrics">', ...metrics.map(metricHtml), '</div>'].join('\n');
}

export function chartHtml(chart: ChartImage, caption: string | undefined): string {
  const size = [
    chart.width === undefined ? '' : ` width="${chart.width}"`,
    chart.height === undefined ? '' : ` height="${chart.height}"`,
  ].join('');
  const alt = caption ?? chart.id;
  return [
    `<figure class="pw-chart" data-chart="${escapeHtml(chart.id)}">`,
    `<img src="${chart.src}" alt="${escapeHtml(alt)}"${size}>`,
    ...(caption === undefined || caption === '' ? [] : [`<figcaption>${escapeHtml(caption)}</figcaption>`]),
    '</figure>',
  ].join('\n');
}

export interface RunMeta {
  pipeline: string;
  runId: string;
  scheduledFor: Date;
  trigger: string;
  params: Readonly<Record<string, unknown>>;
  previousRun: { id: string; scheduledFor: Date } | undefined;
  zone: string;
  locale: string;
}

function paramText(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

export function runInfoHtml(meta: RunMeta): string {
  const entries: [string, string][] = [
    ['Pipeline', meta.pipeline],
    ['Run', meta.runId],
    ['Scheduled for', formatRunDate(meta.scheduledFor, meta.zone, meta.locale)],
  ];
  const params = Object.entries(meta.params);
  if (params.length > 0)
    entries.push(['Parameters', params.map(([name, value]) => `${name} = ${paramText(value)}`).join(', ')]);
  if (meta.previousRun !== undefined)
    entries.push([
      'Compared with',
      `${meta.previousRun.id} (${formatRunDate(meta.previousRun.scheduledFor, meta.zone, meta.locale, false)})`,
    ]);
  return [
    '<dl class="pw-meta">',
    ...entries.map(([term, value]) => `<div><dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value)}</dd></div>`),
    '</dl>',
  ].join('\n');
}

/**
 * No resource may load from anywhere: images are data: URIs, styles inline, scripts none. The policy
 * makes that hold in a browser even for HTML a template author wrote by hand.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:";

export function documentHtml(options: {
  title: string;
  body: string;
  css?: string | undefined;
  locale: string;
}): string {
  const lang = escapeHtml(options.locale.split('-')[0] ?? 'en');
  return [
    '<!doctype html>',
    `<html lang="${lang}">`,
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">`,
    '<meta name="generator" content="Pipewright">',
    `<title>${escapeHtml(options.title)}</title>`,
    `<style>\n${REPORT_CSS}${options.css === undefined ? '' : `\n${options.css.replace(/<\/style/gi, '<\\/style')}`}\n</style>`,
    '</head>',
    '<body>',
    '<main class="pw-report">',
    options.body.trim(),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
