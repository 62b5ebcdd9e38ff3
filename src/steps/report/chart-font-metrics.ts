/**
 * Text widths from the shipped font's own metrics. Without a canvas, Vega guesses every text to be
 * 0.8 em per character, which is far wider than DejaVu Sans (about 0.6 em): axis labels then look as
 * if they overlapped and every other one is dropped, and legends and titles get more room than they
 * need. Reading the advance widths from the TrueType file (cmap format 4 and hmtx tables) gives the
 * widths resvg will actually draw, apart from kerning.
 */
import { readFile } from 'node:fs/promises';

export interface FontMetrics {
  /** Width of `text` at `size` pixels. */
  width(text: string, size: number): number;
}

function tables(font: Buffer): Map<string, { offset: number; length: number }> {
  const found = new Map<string, { offset: number; length: number }>();
  const count = font.readUInt16BE(4);
  for (let i = 0; i < count; i++) {
    const record = 12 + i * 16;
    found.set(font.toString('latin1', record, record + 4), {
      offset: font.readUInt32BE(record + 8),
      length: font.readUInt32BE(record + 12),
    });
  }
  return found;
}

/** The glyph of a BMP code point through a cmap format 4 subtable, or 0 (the missing glyph). */
function glyphLookup(font: Buffer, subtable: number): (codePoint: number) => number {
  const segments = font.readUInt16BE(subtable + 6) / 2;
  const ends = subtable + 14;
  const starts = ends + segments * 2 + 2;
  const deltas = starts + segments * 2;
  const rangeOffsets = deltas + segments * 2;
  return (codePoint) => {
    if (codePoint > 0xffff) return 0;
    for (let i = 0; i < segments; i++) {
      if (font.readUInt16BE(ends + i * 2) < codePoint) continue;
      const start = font.readUInt16BE(starts + i * 2);
      if (start > codePoint) return 0;
      const delta = font.readInt16BE(deltas + i * 2);
      const rangeOffset = font.readUInt16BE(rangeOffsets + i * 2);
      if (rangeOffset === 0) return (codePoint + delta) & 0xffff;
      const at = rangeOffsets + i * 2 + rangeOffset + (codePoint - start) * 2;
      const glyph = font.readUInt16BE(at);
      return glyph === 0 ? 0 : (glyph + delta) & 0xffff;
    }
    return 0;
  };
}

export function parseFontMetrics(font: Buffer): FontMetrics {
  const directory = tables(font);
  const head = directory.get('head');
  const hhea = directory.get('hhea');
  const hmtx = directory.get('hmtx');
  const cmap = directory.get('cmap');
  if (!head || !hhea || !hmtx || !cmap) throw new Error('not a TrueType font with head, hhea, hmtx and cmap');
  const unitsPerEm = font.readUInt16BE(head.offset + 18);
  const metricsCount = font.readUInt16BE(hhea.offset + 34);

  let subtable: number | undefined;
  const encodings = font.readUInt16BE(cmap.offset + 2);
  for (let i = 0; i < encodings; i++) {
    const record = cmap.offset + 4 + i * 8;
    const platform = font.readUInt16BE(record);
    const encoding = font.readUInt16BE(record + 2);
    const offset = cmap.offset + font.readUInt32BE(record + 4);
    if (font.readUInt16BE(offset) !== 4) continue;
    if ((platform === 3 && encoding === 1) || platform === 0) {
      subtable = offset;
      break;
    }
  }
  if (subtable === undefined) throw new Error('the font has no Unicode cmap of format 4');
  const glyphOf = glyphLookup(font, subtable);
  const advanceOf = (glyph: number): number =>
    font.readUInt16BE(hmtx.offset + Math.min(glyph, metricsCount - 1) * 4);

  const cache = new Map<number, number>();
  return {
    width(text, size) {
      let units = 0;
      for (const char of text) {
        const codePoint = char.codePointAt(0)!;
        let advance = cache.get(codePoint);
        if (advance === undefined) {
          advance = advanceOf(glyphOf(codePoint));
          cache.set(codePoint, advance);
        }
        units += advance;
      }
      return (units * size) / unitsPerEm;
    },
  };
}

let loaded: Promise<{ regular: FontMetrics; bold: FontMetrics }> | undefined;

/** Metrics of the regular and bold faces, read once per process. */
export function loadFontMetrics(
  regularFile: string,
  boldFile: string,
): Promise<{ regular: FontMetrics; bold: FontMetrics }> {
  loaded ??= Promise.all([readFile(regularFile), readFile(boldFile)]).then(([regular, bold]) => ({
    regular: parseFontMetrics(regular),
    bold: parseFontMetrics(bold),
  }));
  const pending = loaded;
  pending.catch(() => {
    if (loaded === pending) loaded = undefined;
  });
  return pending;
}

/** Vega's scenegraph text item, as far as measuring it goes. */
interface TextItem {
  fontSize?: number | string | null;
  fontWeight?: number | string | null;
  limit?: number | null;
}

function isBold(weight: TextItem['fontWeight']): boolean {
  if (weight === null || weight === undefined) return false;
  if (typeof weight === 'number') return weight >= 600;
  return weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
}

/** A replacement for Vega's `textMetrics.width(item, text)` backed by the font's metrics. */
export function vegaTextWidth(metrics: { regular: FontMetrics; bold: FontMetrics }) {
  return (item: TextItem, text: unknown): number => {
    const size = item.fontSize !== null && item.fontSize !== undefined ? Number(item.fontSize) || 0 : 11;
    const value = text === null || text === undefined ? '' : String(text).trim();
    if (size <= 0 || value === '') return 0;
    const width = (isBold(item.fontWeight) ? metrics.bold : metrics.regular).width(value, size);
    // Vega truncates a text to `limit` with an ellipsis; the drawn text is then no wider than that.
    const limit = Number(item.limit ?? 0);
    return limit > 0 ? Math.min(width, limit) : width;
  };
}
