/**
 * Turning a fetched body into rows for `http.fetch`: JSON records found by a dotted path, and HTML
 * pages cut into rows and columns by CSS selectors (cheerio). Links taken from href, src and action
 * attributes are made absolute against the page's final URL, so a row can be followed or downloaded.
 */
import type * as cheerio from 'cheerio';
import type { AnyNode } from 'domhandler';
import { PwError } from '../../core/errors/pw-error.js';
import type { ColumnSpec, SelectConfig } from './http-fetch-schema.js';
import { redactUrl } from './http-request.js';

const LINK_ATTRIBUTES = new Set(['href', 'src', 'action']);

/** The value at a dotted path (`data.items`, `links.next`, `results.0`); undefined when missing. */
export function valueAt(document: unknown, path: string): unknown {
  let current = document;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

export function parseJsonText(text: string, url: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PwError(
      'PW_HTTP_RESPONSE',
      `${redactUrl(url)} did not answer with JSON: ${(error as Error).message}`,
      {
        found: text.slice(0, 80).replace(/\s+/g, ' '),
        hint: 'Check the URL and Accept header; use parse: html for web pages.',
      },
    );
  }
}

/** The records of one JSON answer: the array at `path`, the body if it is an array, else the body. */
export function jsonRecords(
  document: unknown,
  path: string | undefined,
  url: string,
): Record<string, unknown>[] {
  const found = path === undefined ? document : valueAt(document, path);
  if (path !== undefined && (found === undefined || (found !== null && typeof found !== 'object'))) {
    const keys =
      document !== null && typeof document === 'object' ? Object.keys(document).join(', ') : typeof document;
    throw new PwError('PW_HTTP_RESPONSE', `${redactUrl(url)}: no array of records at '${path}'`, {
      path: 'with.records',
      expected: 'a dotted path to an array, such as data.items',
      found: `top-level keys: ${keys}`,
    });
  }
  if (found === null || found === undefined) return [];
  const list = Array.isArray(found) ? (found as unknown[]) : [found];
  return list.map((entry) =>
    entry !== null && typeof entry === 'object' && !Array.isArray(entry)
      ? (entry as Record<string, unknown>)
      : { value: entry },
  );
}

function absolute(link: string, base: string): string {
  try {
    return new URL(link, base).toString();
  } catch {
    return link;
  }
}

function columnValue(
  $: cheerio.CheerioAPI,
  scope: cheerio.Cheerio<AnyNode>,
  spec: ColumnSpec,
  base: string,
): unknown {
  const matches = scope.find(spec.selector);
  if (spec.exists) return matches.length > 0;
  const read = (element: AnyNode): string | null => {
    const node = $(element);
    if (spec.attr !== undefined) {
      const value = node.attr(spec.attr);
      if (value === undefined) return null;
      return LINK_ATTRIBUTES.has(spec.attr.toLowerCase()) ? absolute(value.trim(), base) : value;
    }
    if (spec.html) return node.html();
    return node.text().replace(/\s+/g, ' ').trim();
  };
  if (spec.all)
    return matches
      .toArray()
      .map(read)
      .filter((value): value is string => value !== null);
  const first = matches.first()[0];
  return first === undefined ? null : read(first);
}

export function normaliseColumns(select: SelectConfig): Record<string, ColumnSpec> {
  return Object.fromEntries(
    Object.entries(select.columns).map(([name, spec]) => [
      name,
      typeof spec === 'string' ? { selector: spec, html: false, exists: false, all: false } : spec,
    ]),
  );
}

/** Rows from one HTML page: one per `rows` match, or one for the whole page. */
export async function htmlRows(
  html: string,
  select: SelectConfig,
  baseUrl: string,
): Promise<Record<string, unknown>[]> {
  // Loaded with the first HTML page: cheerio and its parser are large and most processes never parse HTML.
  const { load } = await import('cheerio');
  const $ = load(html, { baseURI: baseUrl });
  const columns = normaliseColumns(select);
  const scopes =
    select.rows === undefined
      ? [$.root()]
      : $(select.rows)
          .toArray()
          .map((element) => $(element));
  return scopes.map((scope) =>
    Object.fromEntries(
      Object.entries(columns).map(([name, spec]) => [name, columnValue($, scope, spec, baseUrl)]),
    ),
  );
}

/** The DuckDB type of a selected column. */
export function columnType(spec: ColumnSpec): string {
  if (spec.exists) return 'BOOLEAN';
  return spec.all ? 'VARCHAR[]' : 'VARCHAR';
}
