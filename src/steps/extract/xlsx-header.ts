/**
 * Column names from an XLSX header row. The table spans from the first to the last named header cell
 * (or exactly the columns of `range`). A blank header cell inside that span does not stop the read:
 * the column is named `column_<n>` (n = its 1-based position in the table) and a warning names the
 * sheet and cell, because a missing label in a report export is common and its data is still wanted.
 * Names that repeat (ignoring case, as DuckDB does) get `_2`, `_3` … appended.
 */
import type { Row } from 'exceljs';
import { columnLetters, readCell, type CellRange } from './xlsx-cells.js';

export interface Header {
  names: string[];
  /** Sheet column number of the first table column; the table's columns are contiguous from here. */
  first: number;
}

export function dedupeNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    let candidate = name;
    for (let suffix = 2; taken.has(candidate.toLowerCase()); suffix += 1) candidate = `${name}_${suffix}`;
    taken.add(candidate.toLowerCase());
    return candidate;
  });
}

/** Returns undefined when the row holds no header text at all within the range. */
export function buildHeader(
  row: Row,
  range: CellRange | undefined,
  date1904: boolean,
  where: string,
  warn: (message: string) => void,
): Header | undefined {
  const texts = new Map<number, string>();
  row.eachCell((cell, column) => {
    if (range && (column < range.left || column > range.right)) return;
    const reading = readCell(cell, date1904);
    if (reading.kind === 'blank' || reading.kind === 'error') return;
    const text = reading.text.trim();
    if (text !== '') texts.set(column, text);
  });
  if (texts.size === 0) return undefined;
  const named = [...texts.keys()];
  const first = range ? range.left : Math.min(...named);
  const last = range ? range.right : Math.max(...named);
  const raw: string[] = [];
  for (let column = first; column <= last; column += 1) {
    const text = texts.get(column);
    if (text !== undefined) {
      raw.push(text);
      continue;
    }
    const position = column - first + 1;
    raw.push(`column_${position}`);
    warn(
      `${where}: header cell ${columnLetters(column)}${row.number} is blank; the column is named column_${position}`,
    );
  }
  return { names: dedupeNames(raw), first };
}
