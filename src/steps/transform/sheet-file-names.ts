/**
 * File names for the CSVs of a workbook: `<stem>.<sheet>.csv`, the stem being the workbook's name
 * without its extension. The same rule holds for a workbook of one sheet, so a name never depends on
 * how many sheets there are. A sheet name keeps its letters (any script) and digits, `-` and `_`;
 * every run of other characters (spaces, dots, punctuation) becomes one `_`, and `_` at either end
 * is dropped: "Sales, 2024" → `Sales_2024`, "Q1 (draft)" → `Q1_draft`. A name left empty becomes
 * `sheet<n>` (its tab position). Names that then collide, ignoring case, get `_2`, `_3` … in tab
 * order, so the first sheet keeps the plain name.
 */
import { basename, extname } from 'node:path';

export function workbookStem(path: string): string {
  const name = basename(path);
  const extension = extname(name);
  return extension === '' || extension === name ? name : name.slice(0, -extension.length);
}

export function sanitizeSheetName(name: string, position: number): string {
  const cleaned = name.replace(/[^\p{L}\p{N}_-]+/gu, '_').replace(/^_+|_+$/g, '');
  return cleaned === '' ? `sheet${position}` : cleaned;
}

/** The file-name part of every sheet, in the order given (tab order). */
export function sheetFileParts(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name, index) => {
    const base = sanitizeSheetName(name, index + 1);
    let candidate = base;
    for (let suffix = 2; taken.has(candidate.toLowerCase()); suffix += 1) candidate = `${base}_${suffix}`;
    taken.add(candidate.toLowerCase());
    return candidate;
  });
}
