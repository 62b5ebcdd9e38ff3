/** Tests for the report's value formatting: number formats, dates in the zone, metric changes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  autoNumberFormat,
  escapeHtml,
  formatDate,
  formatNumber,
  formatRunDate,
  humanize,
  isNumberFormat,
  metricChange,
  parseNumberFormat,
} from './report-format.js';

describe('report number formats', () => {
  it('writes fixed and optional decimals, separators, percent, prefix and suffix', () => {
    assert.equal(formatNumber(23.456, '0.0', 'en-US'), '23.5');
    assert.equal(formatNumber(23, '0.00', 'en-US'), '23.00');
    assert.equal(formatNumber(1234567.891, '#,##0', 'en-US'), '1,234,568');
    assert.equal(formatNumber(1234567.891, '0', 'en-US'), '1234568');
    assert.equal(formatNumber(1234.5, '$#,##0.00', 'en-US'), '$1,234.50');
    assert.equal(formatNumber(21.04, '0.0 °C', 'en-US'), '21.0 °C');
    assert.equal(formatNumber(0.1234, '0.0%', 'en-US'), '12.3%');
    assert.equal(formatNumber(0.0725, '0.0%', 'en-US'), '7.3%');
    assert.equal(formatNumber(0.5, '0.##', 'en-US'), '0.5');
    assert.equal(formatNumber(-1234.5, '#,##0.0', 'de'), '-1.234,5');
    assert.equal(formatNumber(42, 'text', 'en-US'), '42');
  });

  it('signs changes, never a zero, and has a readable default', () => {
    assert.equal(formatNumber(1.25, '0.0', 'en-US', true), '+1.3');
    assert.equal(formatNumber(-1.25, '$0.00', 'en-US', true), '-$1.25');
    assert.equal(formatNumber(-0.01, '0.0', 'en-US', true), '0.0');
    assert.equal(formatNumber(2026, undefined, 'en-US'), '2026');
    assert.equal(formatNumber(12345, undefined, 'en-US'), '12,345');
    assert.equal(formatNumber(3.14159, undefined, 'en-US'), '3.14');
    assert.equal(formatNumber(0.000123456, undefined, 'en-US'), '0.000123');
    assert.equal(formatNumber(Number.NaN, '0.0', 'en-US'), 'NaN');
  });

  it('tells number formats from anything else', () => {
    assert.ok(isNumberFormat('0.0 °C') && isNumberFormat('#,##0') && isNumberFormat('text'));
    assert.ok(!isNumberFormat('yyyy-MM-dd') && !isNumberFormat('abc'));
    assert.deepEqual(parseNumberFormat('€ #,##0.00 net'), {
      prefix: '€ ',
      suffix: ' net',
      grouping: true,
      minDecimals: 2,
      maxDecimals: 2,
      percent: false,
    });
  });

  it('gives a number column one format that lines its values up', () => {
    assert.equal(autoNumberFormat('DOUBLE', [20, 20.12, 21.6]), '0.00');
    assert.equal(autoNumberFormat('DOUBLE', [20, 20.5, null]), '0.0');
    assert.equal(autoNumberFormat('BIGINT', [2024, 2025]), '0');
    assert.equal(autoNumberFormat('BIGINT', [12_345, 7]), '#,##0');
    assert.equal(autoNumberFormat('DECIMAL(18,3)', [1.5]), '0.000');
    assert.equal(autoNumberFormat('DOUBLE', [0.001, 0.5]), undefined);
    assert.equal(autoNumberFormat('DOUBLE', []), undefined);
  });
});

describe('report dates', () => {
  it('shows DATE and TIMESTAMP as wall time and TIMESTAMPTZ in the pipeline zone', () => {
    const wall = new Date('2026-03-29T01:30:00Z'); // DuckDB hands wall times over as UTC instants
    assert.equal(formatDate(wall, 'timestamp', undefined, 'Europe/Berlin', 'en-US'), '2026-03-29 01:30');
    assert.equal(formatDate(wall, 'timestamptz', undefined, 'Europe/Berlin', 'en-US'), '2026-03-29 03:30');
    assert.equal(formatDate(wall, 'date', 'EEE d MMM', 'UTC', 'de'), 'So. 29 März');
    assert.equal(
      formatDate(new Date('2026-03-29T01:30:15Z'), 'timestamp', undefined, 'UTC', 'en-US'),
      '2026-03-29 01:30:15',
    );
    assert.equal(
      formatRunDate(new Date('2026-03-23T07:00:00Z'), 'Europe/Berlin', 'en-US'),
      'Mon 23 Mar 2026, 08:00 (Europe/Berlin)',
    );
  });
});

describe('metric changes', () => {
  it('says how much and which way, and whether that is good', () => {
    const up = metricChange(22.5, 20, '0.0 °C', 'en-US', 'higher');
    assert.deepEqual(
      { text: up.text, direction: up.direction, sentiment: up.sentiment, percent: up.percent },
      { text: '▲ +2.5 °C (+12.5%)', direction: 'up', sentiment: 'good', percent: 12.5 },
    );
    const down = metricChange(90, 120, '#,##0', 'en-US', 'higher');
    assert.equal(down.text, '▼ -30 (-25.0%)');
    assert.equal(down.sentiment, 'bad');
    assert.equal(metricChange(90, 120, undefined, 'en-US', 'lower').sentiment, 'good');
    assert.equal(metricChange(5, 5, undefined, 'en-US', 'lower').text, '■ no change');
    assert.equal(metricChange(3, 0, undefined, 'en-US', undefined).text, '▲ +3');
    assert.equal(metricChange(0.45, 0.4, '0.0%', 'en-US', undefined).text, '▲ +5.0 pp (+12.5%)');
  });

  it('escapes HTML and humanizes ids', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(humanize('weekly-temperature'), 'Weekly temperature');
    assert.equal(humanize('mean_temp'), 'Mean temp');
  });
});
