/**
 * The items an `http.fetch` step iterates over (a list, a numeric range, a dataset column) and the
 * request built for each: `{item}` replaced in url (URL-encoded), params, headers and body strings.
 */
import { PwError } from '../../core/errors/pw-error.js';
import type { StepContext } from '../../core/step.js';
import { quoteIdent } from '../../core/sql-identifiers.js';
import { VERSION } from '../../version.js';
import type { HttpFetchConfig } from './http-fetch-schema.js';
import { redactUrl, type HttpRequest } from './http-request.js';

export type Item = string | number | boolean;
export type Row = Record<string, unknown>;
const PLACEHOLDER = '{item}';

export function substitute(text: string, item: Item | undefined, encode: boolean): string {
  if (item === undefined || !text.includes(PLACEHOLDER)) return text;
  const value = String(item);
  return text.replaceAll(PLACEHOLDER, encode ? encodeURIComponent(value) : value);
}

function substituteDeep(value: unknown, item: Item | undefined): unknown {
  if (typeof value === 'string') return substitute(value, item, false);
  if (Array.isArray(value)) return value.map((entry) => substituteDeep(entry, item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [key, substituteDeep(entry, item)]),
    );
  }
  return value;
}

/** The request for one item; a url that is exactly `{item}` takes the item as the whole URL. */
export function buildRequest(
  config: HttpFetchConfig,
  item: Item | undefined,
  extraParams: Record<string, string> = {},
): HttpRequest {
  const raw =
    config.url.trim() === PLACEHOLDER && item !== undefined
      ? String(item)
      : substitute(config.url, item, true);
  let url: URL;
  try {
    url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new PwError('PW_SPEC_TYPE', `url ${redactUrl(raw)} is not an http(s) URL`, {
      path: 'with.url',
      expected: 'http://… or https://…',
      hint: item === undefined ? undefined : `This was the URL for item ${String(item)}.`,
    });
  }
  for (const [name, value] of Object.entries(config.params ?? {})) {
    url.searchParams.set(name, substitute(String(value), item, false));
  }
  for (const [name, value] of Object.entries(extraParams)) url.searchParams.set(name, value);
  const headers: Record<string, string> = { 'user-agent': config.user_agent ?? `Pipewright/${VERSION}` };
  for (const [name, value] of Object.entries(config.headers ?? {}))
    headers[name] = substitute(value, item, false);
  let body: string | undefined;
  if (config.body !== undefined) {
    body = JSON.stringify(substituteDeep(config.body, item));
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  return { url: url.toString(), method: config.method, headers, body };
}

export async function resolveItems(ctx: StepContext, config: HttpFetchConfig): Promise<Item[] | undefined> {
  const each = config.for_each;
  if (each === undefined) return undefined;
  if (each.items !== undefined) return each.items;
  if (each.range !== undefined) {
    const items: number[] = [];
    for (let value = each.range.from; value <= each.range.to; value += each.range.step) items.push(value);
    return items;
  }
  const dataset = each.dataset ?? '';
  const column = each.column ?? '';
  if (!(await ctx.datasets.exists(dataset))) {
    throw new PwError('PW_DATASET_UNKNOWN', `for_each.dataset: no dataset '${dataset}'`, {
      path: 'with.for_each.dataset',
      hint: 'Name an earlier step that produces a dataset.',
    });
  }
  const columns = (await ctx.datasets.columns(dataset)).map((info) => info.name);
  if (!columns.includes(column)) {
    throw new PwError('PW_SPEC_TYPE', `for_each.column: '${column}' is not a column of ${dataset}`, {
      path: 'with.for_each.column',
      expected: `one of ${columns.join(', ')}`,
    });
  }
  const rows = await ctx.datasets.query<{ item: string | null }>(
    `SELECT CAST(${quoteIdent(column)} AS VARCHAR) AS item FROM ${quoteIdent(dataset)} WHERE ${quoteIdent(column)} IS NOT NULL`,
  );
  return rows.map((row) => row.item ?? '').filter((item) => item !== '');
}
