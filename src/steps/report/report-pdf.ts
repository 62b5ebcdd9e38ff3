/**
 * Prints the report's HTML to PDF with headless Chromium through playwright-core (loaded only when a
 * PDF is wanted: it is large, and most processes never render one). The page is set from the HTML
 * string, JavaScript is off, the context is offline and every request is aborted, so printing reads
 * nothing but the document itself. The browser is closed when the step's signal aborts, and on
 * every way out.
 */
import { writeFile } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { PwError } from '../../core/errors/pw-error.js';
import { findExecutable, isExecutable } from '../../engine/find-executable.js';
import { escapeHtml } from './report-format.js';
import type { PdfOptions } from './report-schema.js';

/** Where Chromium is looked for when neither chromium_path nor PIPEWRIGHT_CHROMIUM says. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_NAMES = [
  'chromium',
  'chromium-browser',
  'google-chrome',
  'google-chrome-stable',
] as const;

/** Longest a whole PDF render (start, load, print) may take before it counts as hung. */
export const PDF_TIMEOUT_MS = 120_000;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

const INSTALL_HINT =
  'Install Chromium (`apt-get install chromium` on Debian and Ubuntu), or set `chromium_path` in the step (or PIPEWRIGHT_CHROMIUM) to a Chrome or Chromium executable; `pdf: false` writes the HTML report only.';

/**
 * The Chromium to use: `configured` (chromium_path, resolved by the caller), else PIPEWRIGHT_CHROMIUM,
 * else /usr/bin/chromium, else the first of CHROMIUM_NAMES on PATH. PW_REPORT_BROWSER_MISSING when
 * the chosen or every candidate is missing.
 */
export async function findChromium(
  configured: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  target: string,
  htmlShown: string,
): Promise<string> {
  const explicit = configured ?? (env['PIPEWRIGHT_CHROMIUM'] || undefined);
  const origin = configured !== undefined ? 'chromium_path' : 'PIPEWRIGHT_CHROMIUM';
  if (explicit !== undefined) {
    if (await isExecutable(explicit)) return explicit;
    throw new PwError(
      'PW_REPORT_BROWSER_MISSING',
      `Cannot render ${target}: ${origin} names ${explicit}, which is not an executable file`,
      {
        path: configured !== undefined ? 'with.chromium_path' : undefined,
        expected: 'the path of a Chromium or Chrome executable',
        found: explicit,
        hint: `The HTML report was written: ${htmlShown}. ${INSTALL_HINT}`,
      },
    );
  }
  const found = await findExecutable(DEFAULT_CHROMIUM, CHROMIUM_NAMES, env);
  if (found !== undefined) return found;
  throw new PwError(
    'PW_REPORT_BROWSER_MISSING',
    `Cannot render ${target}: no Chromium found (tried ${DEFAULT_CHROMIUM}, ${CHROMIUM_NAMES.join(', ')} on PATH)`,
    {
      expected: 'a Chromium or Chrome executable',
      found: 'none',
      hint: `The HTML report was written: ${htmlShown}. ${INSTALL_HINT}`,
    },
  );
}

export interface PageText {
  title: string;
  date: string;
  pipeline: string;
  run: string;
}

const DEFAULT_HEADER = '{title}|{date}';
const DEFAULT_FOOTER = '{pipeline} · run {run}|Page {page} of {pages}';

/** Header or footer text → Chromium's template, with its page-number placeholders. */
export function headerFooterTemplate(
  text: string | false | undefined,
  fallback: string,
  page: PageText,
  sides: { left: string; right: string },
): string {
  if (text === false) return '<span></span>';
  const parts = (text ?? fallback).split('|').slice(0, 3);
  const fill = (part: string) =>
    escapeHtml(part)
      .replaceAll('{title}', escapeHtml(page.title))
      .replaceAll('{date}', escapeHtml(page.date))
      .replaceAll('{pipeline}', escapeHtml(page.pipeline))
      .replaceAll('{run}', escapeHtml(page.run))
      .replaceAll('{page}', '<span class="pageNumber"></span>')
      .replaceAll('{pages}', '<span class="totalPages"></span>');
  const aligns =
    parts.length === 1 ? ['center'] : parts.length === 2 ? ['left', 'right'] : ['left', 'center', 'right'];
  const cells = parts
    .map(
      (part, index) =>
        `<span style="flex:1;text-align:${aligns[index] ?? 'left'};white-space:nowrap;overflow:hidden;text-overflow:ellipsis">${fill(part.trim())}</span>`,
    )
    .join('');
  return `<div style="width:100%;display:flex;gap:12px;margin:0 ${sides.right} 0 ${sides.left};font-size:8px;color:#555;font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif">${cells}</div>`;
}

interface Margins {
  top: string;
  right: string;
  bottom: string;
  left: string;
}

export function margins(options: PdfOptions): Margins {
  const defaults: Margins = { top: '18mm', right: '15mm', bottom: '18mm', left: '15mm' };
  if (options.margin === undefined) return defaults;
  if (typeof options.margin === 'string')
    return { top: options.margin, right: options.margin, bottom: options.margin, left: options.margin };
  return {
    ...defaults,
    ...Object.fromEntries(Object.entries(options.margin).filter(([, value]) => value !== undefined)),
  };
}

export interface RenderPdfRequest {
  html: string;
  /** Where the PDF bytes go (a temporary name; the caller renames it). */
  path: string;
  executablePath: string;
  options: PdfOptions;
  page: PageText;
  /** The artifact name, for messages. */
  target: string;
  htmlShown: string;
  signal: AbortSignal;
  timeoutMs?: number;
  /** For tests: runs after the page is loaded, before printing. */
  beforePrint?: (browser: Browser) => Promise<void>;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n').find((line) => line.trim() !== '') ?? text).trim();
}

export async function renderPdf(request: RenderPdfRequest): Promise<{ ms: number }> {
  const started = performance.now();
  const { chromium } = await import('playwright-core');
  const timeoutMs = request.timeoutMs ?? PDF_TIMEOUT_MS;
  let browser: Browser | undefined;
  let closing: Promise<void> | undefined;
  // Before the browser exists there is nothing to close; the launch checks the signal afterwards.
  const close = (): Promise<void> => {
    if (browser === undefined) return Promise.resolve();
    closing ??= browser.close().catch(() => undefined);
    return closing;
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void close();
  }, timeoutMs);
  const onAbort = () => void close();
  request.signal.addEventListener('abort', onAbort, { once: true });
  try {
    request.signal.throwIfAborted();
    browser = await chromium.launch({
      executablePath: request.executablePath,
      args: CHROMIUM_ARGS,
      timeout: timeoutMs,
      // The CLI and the service handle signals themselves; the browser is closed through ours.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    // A signal that fired while the browser was starting found nothing to close yet.
    if (request.signal.aborted || timedOut) await close();
    request.signal.throwIfAborted();
    const context = await browser.newContext({
      javaScriptEnabled: false,
      offline: true,
      colorScheme: 'light',
    });
    const page = await context.newPage();
    await page.route('**/*', (route) => route.abort());
    await page.setContent(request.html, { waitUntil: 'load', timeout: timeoutMs });
    if (request.beforePrint) await request.beforePrint(browser);
    const margin = margins(request.options);
    const header = request.options.header;
    const footer = request.options.footer;
    const bytes = await page.pdf({
      format: request.options.page,
      landscape: request.options.landscape,
      margin,
      printBackground: true,
      displayHeaderFooter: header !== false || footer !== false,
      headerTemplate: headerFooterTemplate(header, DEFAULT_HEADER, request.page, margin),
      footerTemplate: headerFooterTemplate(footer, DEFAULT_FOOTER, request.page, margin),
      outline: true,
    });
    await writeFile(request.path, bytes);
    return { ms: performance.now() - started };
  } catch (error) {
    if (request.signal.aborted) throw request.signal.reason;
    if (timedOut) {
      throw new PwError(
        'PW_REPORT_BROWSER',
        `Chromium did not finish ${request.target} within ${Math.round(timeoutMs / 1000)} s`,
        {
          hint: `The HTML report was written: ${request.htmlShown}. Make the report smaller (max_table_rows), or check that Chromium runs on this machine.`,
          cause: error,
        },
      );
    }
    throw new PwError(
      'PW_REPORT_BROWSER',
      `Chromium failed while rendering ${request.target}: ${firstLine(error)}`,
      {
        found: request.executablePath,
        hint: `The HTML report was written: ${request.htmlShown}. Run \`${request.executablePath} --headless --no-sandbox --dump-dom about:blank\` as this user to see Chromium's own error.`,
        cause: error,
      },
    );
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener('abort', onAbort);
    await close();
  }
}
