/** Plain-text tables and status labels for terminal output (words, not colour alone). */
import type { Style } from './style.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').replace(ANSI, '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map(
        (cell, column) =>
          cell + ' '.repeat(Math.max(0, (widths[column] ?? 0) - cell.replace(ANSI, '').length)),
      )
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

export function statusLabel(status: string, style: Style): string {
  switch (status) {
    case 'succeeded':
      return style.green(status);
    case 'failed':
      return style.red(status);
    case 'cancelled':
    case 'skipped':
      return style.yellow(status);
    default:
      return style.cyan(status);
  }
}
