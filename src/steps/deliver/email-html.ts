/**
 * The HTML side of an e-mail: Markdown bodies, the plain-text alternative derived from HTML, and
 * images made visible to mail clients. Mail clients show neither SVG nor `data:` URIs reliably, so
 * every image of the HTML becomes a PNG attached inline and referenced as `cid:<name>.png`:
 *
 * - a chart of a report step, `<figure data-chart="hourly"><img src="data:image/svg+xml;…"></figure>`
 *   (what the `report` step writes), `<svg data-pw-chart="hourly">…</svg>` or
 *   `<img data-pw-chart="hourly" …>`: the PNG the `chart` step `hourly` registered beside its SVG
 *   (else the artifact `hourly.png`), else the embedded image itself, rendered to PNG if it is SVG;
 * - any other inline `<svg>…</svg>`: rendered to PNG (resvg, DejaVu fonts, twice the size for sharp
 *   text on high-density screens, shown at the SVG's own size);
 * - `<img src="hourly.svg">`, `<img src="charts/hourly.png">`: the run artifact of that file name
 *   (for an SVG, an artifact with the same name and `.png` is preferred, else it is rendered);
 * - `<img src="data:image/…">`: decoded (an SVG is rendered);
 * - `cid:`, `http:`, `https:` sources are left alone.
 *
 * The scanning is deliberately simple (tags found by pattern, `<svg>` nesting counted), which is enough
 * for generated report HTML; anything it cannot place is left as it was, with a warning.
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RunArtifact } from '../../core/step.js';

export interface InlineImage {
  cid: string;
  filename: string;
  content: Buffer;
  contentType: string;
}

export interface InlinedHtml {
  html: string;
  images: InlineImage[];
  warnings: string[];
}

/** A Markdown body (raw HTML inside it passes through) as a small, self-contained HTML document. */
export async function markdownToHtml(body: string): Promise<string> {
  // Loaded when a message has a Markdown body, not whenever notifications are possible.
  const { default: MarkdownIt } = await import('markdown-it');
  const content = new MarkdownIt({ html: true, linkify: true, breaks: false }).render(body);
  return `<!doctype html>\n<html><head><meta charset="utf-8"></head>\n<body style="font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 14px; line-height: 1.45; color: #1f2328;">\n${content}</body></html>\n`;
}

// ---- plain text from HTML ---------------------------------------------------------------------------

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  laquo: '«',
  raquo: '»',
  copy: '©',
  reg: '®',
  deg: '°',
  euro: '€',
  middot: '·',
  bull: '•',
  times: '×',
  minus: '−',
  le: '≤',
  ge: '≥',
  rarr: '→',
  larr: '←',
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code =
        entity[1] === 'x' || entity[1] === 'X'
          ? Number.parseInt(entity.slice(2), 16)
          : Number.parseInt(entity.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

/**
 * A readable plain-text version of an HTML message: headings and paragraphs on their own lines,
 * list items as `- …`, table cells separated by ` | `, links as `text <url>`, images as their alt text.
 */
export function htmlToText(html: string): string {
  let text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(head|style|script|title|svg)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(
      /<pre\b[^>]*>([\s\S]*?)<\/pre\s*>/gi,
      (_, inner: string) =>
        `\n${inner
          .replace(/<[^>]+>/g, '')
          .replace(/\n/g, '\uF8FF')
          .replace(/[ \t]/g, '\uF8FE')}\n`,
    )
    .replace(
      /<a\b[^>]*\bhref\s*=\s*("([^"]*)"|'([^']*)')[^>]*>([\s\S]*?)<\/a\s*>/gi,
      (...match: string[]) => {
        const href = match[2] ?? match[3] ?? '';
        const label = (match[4] ?? '').replace(/<[^>]+>/g, '').trim();
        if (href === '' || href.startsWith('#') || decodeEntities(label) === decodeEntities(href))
          return label;
        // Angle brackets as placeholders until the tags are stripped.
        return label ? `${label} \uF8FC${href}\uF8FD` : href;
      },
    )
    .replace(/<img\b[^>]*\balt\s*=\s*("([^"]*)"|'([^']*)')[^>]*>/gi, (...match: string[]) => {
      const alt = match[2] ?? match[3] ?? '';
      return alt ? `[${alt}]` : '';
    })
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<\/(td|th)\s*>\s*(?=<(td|th)\b)/gi, ' | ')
    .replace(/<tr\b[^>]*>/gi, '\n')
    .replace(
      /<\/?(p|div|h[1-6]|ul|ol|table|blockquote|section|article|header|footer|hr|dl|dt|dd|figure|figcaption|caption)\b[^>]*>/gi,
      '\n',
    )
    .replace(/<[^>]+>/g, '');
  text = decodeEntities(text)
    .split('\n')
    .map((line) => line.replace(/[ \t\r\f\v]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\uF8FF/g, '\n')
    .replace(/\uF8FE/g, ' ')
    .replace(/\uF8FC/g, '<')
    .replace(/\uF8FD/g, '>')
    .trim();
  return `${text}\n`;
}

// ---- images -----------------------------------------------------------------------------------------

/** Renders SVG markup to a PNG at `zoom` times its size. Loaded lazily: resvg is a native module. */
export async function svgToPng(
  svg: string,
  zoom = 2,
): Promise<{ png: Buffer; width: number; height: number }> {
  const { Resvg } = await import('@resvg/resvg-js');
  const fontDir = fontFolder();
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: zoom },
    background: 'white',
    font: {
      loadSystemFonts: fontDir === undefined,
      ...(fontDir === undefined ? {} : { fontDirs: [fontDir] }),
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
      serifFamily: 'DejaVu Serif',
      monospaceFamily: 'DejaVu Sans Mono',
    },
    logLevel: 'off',
  });
  const rendered = resvg.render();
  return { png: rendered.asPng(), width: resvg.width, height: resvg.height };
}

let fonts: string | null | undefined;
function fontFolder(): string | undefined {
  if (fonts === undefined) {
    try {
      fonts = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    } catch {
      fonts = null;
    }
  }
  return fonts ?? undefined;
}

interface Found {
  start: number;
  end: number;
  markup: string;
}

/** Outermost `<svg …>…</svg>` elements, nested ones counted so they stay inside their parent. */
export function findSvgElements(html: string): Found[] {
  const found: Found[] = [];
  const tag = /<(\/?)svg\b[^>]*?(\/?)>/gi;
  let depth = 0;
  let start = 0;
  for (let match = tag.exec(html); match !== null; match = tag.exec(html)) {
    const closing = match[1] === '/';
    const selfClosing = match[2] === '/';
    if (!closing) {
      if (depth === 0) start = match.index;
      if (selfClosing) {
        if (depth === 0) found.push({ start, end: tag.lastIndex, markup: html.slice(start, tag.lastIndex) });
        continue;
      }
      depth += 1;
    } else if (depth > 0) {
      depth -= 1;
      if (depth === 0) found.push({ start, end: tag.lastIndex, markup: html.slice(start, tag.lastIndex) });
    }
  }
  return found;
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  if (!match) return undefined;
  return decodeEntities(match[2] ?? match[3] ?? match[4] ?? '');
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** Width and height in CSS pixels from the svg's own attributes or its viewBox. */
function svgSize(openTag: string): { width?: number; height?: number } {
  const number = (value: string | undefined) => {
    if (value === undefined || !/^\s*[\d.]+\s*(px)?\s*$/.test(value)) return undefined;
    const parsed = Number.parseFloat(value);
    return Number.isFinite(parsed) && parsed > 0 ? Math.round(parsed) : undefined;
  };
  let width = number(attribute(openTag, 'width'));
  let height = number(attribute(openTag, 'height'));
  const viewBox = attribute(openTag, 'viewBox')
    ?.trim()
    .split(/[\s,]+/)
    .map(Number);
  if (viewBox?.length === 4 && viewBox.every(Number.isFinite)) {
    const [, , boxWidth = 0, boxHeight = 0] = viewBox;
    if (width === undefined && height === undefined && boxWidth > 0 && boxHeight > 0) {
      width = Math.round(boxWidth);
      height = Math.round(boxHeight);
    } else if (width !== undefined && height === undefined && boxWidth > 0) {
      height = Math.round((width * boxHeight) / boxWidth);
    } else if (height !== undefined && width === undefined && boxHeight > 0) {
      width = Math.round((height * boxWidth) / boxHeight);
    }
  }
  return { ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }) };
}

function imgTag(cid: string, alt: string, size: { width?: number; height?: number }, extra = ''): string {
  const dims = `${size.width === undefined ? '' : ` width="${size.width}"`}${size.height === undefined ? '' : ` height="${size.height}"`}`;
  return `<img src="cid:${escapeAttribute(cid)}" alt="${escapeAttribute(alt)}"${dims}${extra} style="max-width: 100%; height: auto;">`;
}

function svgTitle(markup: string): string | undefined {
  const title = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(markup)?.[1];
  return title === undefined ? undefined : decodeEntities(title.replace(/<[^>]+>/g, '')).trim() || undefined;
}

export interface InlineOptions {
  /** The run's artifacts; those of `preferStep` win when names collide. */
  artifacts: readonly RunArtifact[];
  preferStep?: string | undefined;
  /** Most images to inline (default 50); beyond it, images are left as they are, with a warning. */
  maxImages?: number;
}

/** Replaces every image a mail client could not show by a `cid:` reference to an inline PNG. */
export async function inlineImages(html: string, options: InlineOptions): Promise<InlinedHtml> {
  const images: InlineImage[] = [];
  const warnings: string[] = [];
  const maxImages = options.maxImages ?? 50;
  const byCid = new Map<string, InlineImage>();
  const byArtifactPath = new Map<string, string>();

  const uniqueCid = (wanted: string): string => {
    const safe = wanted.replace(/[^A-Za-z0-9._-]/g, '_') || 'image.png';
    if (!byCid.has(safe)) return safe;
    const dot = safe.lastIndexOf('.');
    const stem = dot > 0 ? safe.slice(0, dot) : safe;
    const ext = dot > 0 ? safe.slice(dot) : '';
    for (let n = 2; ; n += 1) if (!byCid.has(`${stem}-${n}${ext}`)) return `${stem}-${n}${ext}`;
  };
  const add = (wanted: string, content: Buffer, contentType: string): string | undefined => {
    if (images.length >= maxImages) {
      warnings.push(`more than ${maxImages} images: the rest are left as they are`);
      return undefined;
    }
    const cid = uniqueCid(wanted);
    const image = { cid, filename: cid, content, contentType };
    images.push(image);
    byCid.set(cid, image);
    return cid;
  };
  const artifact = (name: string): RunArtifact | undefined => {
    const matches = options.artifacts.filter((candidate) => candidate.name === name);
    return matches.find((candidate) => candidate.stepId === options.preferStep) ?? matches[0];
  };
  /** The PNG a chart step registered: its own PNG artifact, else any artifact `<id>.png`. */
  const chartPng = (id: string): RunArtifact | undefined =>
    options.artifacts.findLast(
      (candidate) =>
        candidate.stepId === id && (candidate.contentType === 'image/png' || /\.png$/i.test(candidate.name)),
    ) ?? artifact(`${id}.png`);
  const fromArtifact = async (found: RunArtifact): Promise<string | undefined> => {
    const known = byArtifactPath.get(found.path);
    if (known !== undefined) return known;
    const content = await readFile(found.path);
    const isSvg = /\.svg$/i.test(found.name) || found.contentType === 'image/svg+xml';
    const cid = isSvg
      ? add(
          found.name.replace(/\.svg$/i, '.png'),
          (await svgToPng(content.toString('utf8'))).png,
          'image/png',
        )
      : add(found.name, content, found.contentType ?? contentTypeOf(found.name));
    if (cid !== undefined) byArtifactPath.set(found.path, cid);
    return cid;
  };

  // 1. Inline <svg> elements, last first so earlier offsets stay valid.
  let out = html;
  let rendered = 0;
  for (const element of findSvgElements(html).reverse()) {
    const openTag = /^<svg\b[^>]*>/i.exec(element.markup)?.[0] ?? '<svg>';
    const chart = attribute(openTag, 'data-pw-chart') ?? attribute(openTag, 'data-chart');
    const size = svgSize(openTag);
    const alt = attribute(openTag, 'aria-label') ?? svgTitle(element.markup) ?? chart ?? 'chart';
    let cid: string | undefined;
    try {
      const png = chart === undefined ? undefined : chartPng(chart);
      if (png !== undefined) cid = await fromArtifact(png);
      else {
        rendered += 1;
        const name = chart ?? attribute(openTag, 'id') ?? `chart-${rendered}`;
        const image = await svgToPng(withNamespace(element.markup));
        cid = add(`${name}.png`, image.png, 'image/png');
        if (size.width === undefined && size.height === undefined) {
          size.width = Math.round(image.width / 2);
          size.height = Math.round(image.height / 2);
        }
      }
    } catch (error) {
      warnings.push(
        `an inline SVG${chart ? ` (chart ${chart})` : ''} could not be turned into a PNG: ${(error as Error).message}`,
      );
    }
    if (cid === undefined) continue;
    const tag = imgTag(
      cid,
      alt,
      size,
      chart === undefined ? '' : ` data-pw-chart="${escapeAttribute(chart)}"`,
    );
    out = out.slice(0, element.start) + tag + out.slice(element.end);
  }

  // 2. A chart figure of a report (<figure data-chart="id"><img src="data:…"></figure>, or
  //    data-pw-chart on the img): the chart step's own PNG instead of the embedded image.
  const figurePattern = /<figure\b[^>]*>[\s\S]*?<\/figure\s*>/gi;
  const figureReplacements: Array<{ start: number; end: number; markup: string }> = [];
  for (let match = figurePattern.exec(out); match !== null; match = figurePattern.exec(out)) {
    const figure = match[0];
    const openTag = /^<figure\b[^>]*>/i.exec(figure)?.[0] ?? '';
    const chart = attribute(openTag, 'data-chart') ?? attribute(openTag, 'data-pw-chart');
    const png = chart === undefined ? undefined : chartPng(chart);
    if (png === undefined) continue;
    const img = /<img\b[^>]*>/i.exec(figure);
    const src = img === null ? undefined : attribute(img[0], 'src');
    if (img === null || src === undefined || /^(cid|https?):/i.test(src)) continue;
    const cid = await fromArtifact(png).catch((error: unknown) => {
      warnings.push(`chart ${chart ?? ''}: ${(error as Error).message}`);
      return undefined;
    });
    if (cid === undefined) continue;
    const tag = img[0].replace(/(\ssrc\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)/i, `$1"cid:${escapeAttribute(cid)}"`);
    const markup = figure.slice(0, img.index) + tag + figure.slice(img.index + img[0].length);
    figureReplacements.push({ start: match.index, end: match.index + figure.length, markup });
  }
  for (const { start, end, markup } of figureReplacements.reverse())
    out = out.slice(0, start) + markup + out.slice(end);

  // 3. <img src="…"> referring to data: URIs or to files of the run.
  const imgPattern = /<img\b[^>]*>/gi;
  const replacements: Array<{ start: number; end: number; tag: string }> = [];
  for (let match = imgPattern.exec(out); match !== null; match = imgPattern.exec(out)) {
    const tag = match[0];
    const src = attribute(tag, 'src');
    if (src === undefined || /^(cid|https?|mailto):/i.test(src)) continue;
    let cid: string | undefined;
    try {
      const marked = attribute(tag, 'data-pw-chart');
      const png = marked === undefined ? undefined : chartPng(marked);
      if (png !== undefined) {
        cid = await fromArtifact(png);
      } else if (/^data:/i.test(src)) {
        const data = /^data:([^;,]+)(;base64)?,(.*)$/is.exec(src);
        if (!data) continue;
        const type = (data[1] ?? '').toLowerCase();
        const bytes = data[2]
          ? Buffer.from(data[3] ?? '', 'base64')
          : Buffer.from(decodeURIComponent(data[3] ?? ''), 'utf8');
        cid =
          type === 'image/svg+xml'
            ? add('image.png', (await svgToPng(bytes.toString('utf8'))).png, 'image/png')
            : add(`image${extensionOf(type)}`, bytes, type);
      } else {
        const name = basename(decodeURIComponent(src.split(/[?#]/)[0] ?? src));
        const png = /\.svg$/i.test(name) ? artifact(name.replace(/\.svg$/i, '.png')) : undefined;
        const found = png ?? artifact(name);
        if (found === undefined) {
          warnings.push(`image '${src}' is not an artifact of this run: left as it is (it will not show)`);
          continue;
        }
        cid = await fromArtifact(found);
      }
    } catch (error) {
      warnings.push(`image '${src.slice(0, 80)}' could not be inlined: ${(error as Error).message}`);
    }
    if (cid === undefined) continue;
    const replaced = tag.replace(
      /(\ssrc\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)/i,
      `$1"cid:${escapeAttribute(cid)}"`,
    );
    replacements.push({ start: match.index, end: match.index + tag.length, tag: replaced });
  }
  for (const { start, end, tag } of replacements.reverse()) out = out.slice(0, start) + tag + out.slice(end);
  return { html: out, images, warnings: [...new Set(warnings)] };
}

/** Inline SVG in HTML may omit the namespace that a stand-alone SVG document needs. */
function withNamespace(markup: string): string {
  return /^<svg\b[^>]*\sxmlns\s*=/i.test(markup)
    ? markup
    : markup.replace(/^<svg\b/i, '<svg xmlns="http://www.w3.org/2000/svg"');
}

const TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  html: 'text/html',
  txt: 'text/plain',
  zip: 'application/zip',
  gz: 'application/gzip',
};

export function contentTypeOf(name: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase() ?? '';
  return TYPES[ext] ?? 'application/octet-stream';
}

function extensionOf(type: string): string {
  const entry = Object.entries(TYPES).find(([, value]) => value === type);
  return entry ? `.${entry[0]}` : '';
}
