/**
 * The `with:` block of an `http.fetch` step: one request (url, method, params, headers, body), an
 * optional iteration (`for_each`: a list, a numeric range or a column of an earlier dataset), an
 * optional `paginate` for JSON APIs, how the answer becomes rows (`parse: json | html | none`), and
 * optional downloads. Every place that takes the current item writes it as `{item}`: pipeline
 * templates (`{{ }}`) are rendered before the step runs, so the item needs a syntax of its own.
 */
import { z } from 'zod';
import { IDENTIFIER, durationSchema } from '../../core/spec/pipeline-schema.js';
import { byteSizeSchema } from '../deliver/deliver-common.js';

const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Columns every html/none row carries; selected columns may not reuse them. */
export const META_COLUMNS = ['item', 'url', 'status', 'exists'] as const;
/** Columns a download adds. */
export const DOWNLOAD_COLUMNS = ['file', 'file_bytes'] as const;

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const columnSpec = z
  .strictObject({
    selector: z
      .string()
      .min(1)
      .describe('CSS selector, searched inside the row element (or the whole page without `rows`).'),
    attr: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Take this attribute instead of the text. href, src and action are resolved to absolute URLs.',
      ),
    html: z.boolean().default(false).describe('Take the inner HTML instead of the text (default false).'),
    exists: z
      .boolean()
      .default(false)
      .describe('A BOOLEAN column: whether the selector matches anything (default false).'),
    all: z
      .boolean()
      .default(false)
      .describe('A VARCHAR[] column with every match, instead of the first match only (default false).'),
  })
  .superRefine((spec, context) => {
    const modes = [spec.attr !== undefined, spec.html, spec.exists].filter(Boolean).length;
    if (modes > 1) {
      context.addIssue({ code: 'custom', message: 'choose one of attr, html and exists' });
    }
    if (spec.exists && spec.all) {
      context.addIssue({ code: 'custom', path: ['all'], message: 'exists gives one BOOLEAN; drop all' });
    }
  });

export type ColumnSpec = z.output<typeof columnSpec>;

const selectSchema = z
  .strictObject({
    rows: z
      .string()
      .min(1)
      .optional()
      .describe(
        'CSS selector of the elements that each become a row (e.g. "table.events tr"). Default: one row per page.',
      ),
    columns: z
      .record(
        z.string().regex(COLUMN_NAME, 'a column name: letters, digits and underscores'),
        z.union([z.string().min(1), columnSpec]),
      )
      .refine((columns) => Object.keys(columns).length > 0, { message: 'name at least one column' })
      .describe(
        'Column name → CSS selector (the text of the first match) or { selector, attr | html | exists, all }.',
      ),
  })
  .describe('html: how a page becomes rows.');

const forEachSchema = z
  .strictObject({
    items: z.array(scalar).min(1).optional().describe('A list of values; each replaces {item}.'),
    range: z
      .strictObject({
        from: z.int().describe('First value.'),
        to: z.int().describe('Last value (included).'),
        step: z.int().min(1).default(1).describe('Increment (default 1).'),
      })
      .optional()
      .describe('A numeric range, both ends included, such as event ids 119179 to 119184.'),
    dataset: z
      .string()
      .regex(IDENTIFIER, 'a step id')
      .optional()
      .describe('An earlier step whose `column` holds the items (nulls and empty strings are left out).'),
    column: z.string().min(1).optional().describe('With dataset: the column holding the items.'),
  })
  .superRefine((value, context) => {
    const given = [value.items, value.range, value.dataset].filter((entry) => entry !== undefined).length;
    if (given !== 1) {
      context.addIssue({ code: 'custom', message: 'give exactly one of items, range and dataset' });
    }
    if (value.dataset !== undefined && value.column === undefined) {
      context.addIssue({ code: 'custom', path: ['column'], message: 'dataset needs column' });
    }
    if (value.dataset === undefined && value.column !== undefined) {
      context.addIssue({ code: 'custom', path: ['column'], message: 'column belongs to dataset' });
    }
    if (value.range && value.range.to < value.range.from) {
      context.addIssue({ code: 'custom', path: ['range', 'to'], message: 'to must not be less than from' });
    }
  })
  .describe('Repeat the request once per item; {item} in url, params, headers and body is replaced.');

const paginateSchema = z
  .strictObject({
    next_link: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Dotted path to the next page URL in the JSON body (e.g. links.next), or "header" for a Link: <…>; rel="next" header.',
      ),
    cursor: z
      .strictObject({
        path: z.string().min(1).describe('Dotted path to the next cursor in the JSON body.'),
        param: z.string().min(1).describe('Query parameter that sends it.'),
      })
      .optional()
      .describe('Cursor pagination; stops when the cursor is missing, null or empty.'),
    page: z
      .strictObject({
        param: z.string().min(1).describe('Query parameter holding the page number.'),
        start: z.int().min(0).default(1).describe('First page number (default 1).'),
      })
      .optional()
      .describe('Page-number pagination; stops at the first page without records.'),
    max_pages: z
      .int()
      .min(1)
      .default(1000)
      .describe('Stop with an error after this many pages (default 1000): a guard against endless paging.'),
  })
  .superRefine((value, context) => {
    const given = [value.next_link, value.cursor, value.page].filter((entry) => entry !== undefined).length;
    if (given !== 1) {
      context.addIssue({ code: 'custom', message: 'give exactly one of next_link, cursor and page' });
    }
  })
  .describe('json: follow further pages.');

const downloadSchema = z
  .strictObject({
    from: z
      .string()
      .regex(COLUMN_NAME, 'a column name from select.columns')
      .optional()
      .describe(
        'html: the column holding the link to download (rows where it is empty download nothing). Default: the response body itself (parse: none).',
      ),
    to: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A folder, relative to the project folder, to save the files in. Default: the run's artifacts.",
      ),
    name: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File name, with {item} replaced, e.g. "event_{item}.xls". Default: from Content-Disposition, else the URL path.',
      ),
    max_size: byteSizeSchema
      .default('1GB')
      .describe('Largest file accepted (default 1GB); a larger one fails the step and leaves no file.'),
  })
  .describe('Save files: the linked files of html rows, or the responses themselves.');

export const httpFetchConfig = z
  .strictObject({
    url: z.string().min(1).describe('The URL (http or https); {item} is replaced when iterating.'),
    method: z.enum(['GET', 'POST']).default('GET').describe('GET (default) or POST.'),
    params: z
      .record(z.string().min(1), scalar)
      .optional()
      .describe('Query parameters added to the URL; {item} is replaced in values.'),
    headers: z
      .record(z.string().regex(HEADER_NAME, 'an HTTP header name'), z.string())
      .optional()
      .describe(
        'Request headers, e.g. Authorization: "Bearer ${env:API_TOKEN}"; values never appear in logs.',
      ),
    body: z
      .union([z.record(z.string(), z.unknown()), z.array(z.unknown())])
      .optional()
      .describe('POST: a JSON body (YAML mapping or list); {item} is replaced in its strings.'),
    for_each: forEachSchema.optional(),
    parse: z
      .enum(['json', 'html', 'none'])
      .default('json')
      .describe(
        'json: records from the body; html: rows by CSS selectors; none: one status row per request.',
      ),
    records: z
      .string()
      .min(1)
      .optional()
      .describe(
        'json: dotted path to the array of records (e.g. data.items). Default: the body if it is an array, else the body as one record.',
      ),
    paginate: paginateSchema.optional(),
    select: selectSchema.optional(),
    download: downloadSchema.optional(),
    not_found: z
      .array(z.int().min(400).max(499))
      .optional()
      .describe(
        'Statuses that mean "no such item" (a row with exists = false) instead of an error. Default: [404, 410] when iterating, none otherwise.',
      ),
    allow_empty: z
      .boolean()
      .default(false)
      .describe('json: accept no records at all and produce an empty dataset (default false).'),
    concurrency: z.int().min(1).max(16).default(1).describe('Requests in flight at once (default 1).'),
    rate_limit: z
      .number()
      .positive()
      .max(1000)
      .optional()
      .describe(
        'Most requests per second across all of them, retries included (0.5 = one every 2 s). Default: no limit.',
      ),
    timeout: durationSchema
      .default('30s')
      .describe('Longest time for one request, from sending to the last body byte (default 30s).'),
    retry: z
      .strictObject({
        attempts: z.int().min(1).max(10).default(3).describe('Attempts per request (default 3).'),
        on: z
          .array(z.int().min(400).max(599))
          .default([408, 429, 500, 502, 503, 504])
          .describe(
            'Statuses retried (default 408, 429, 500, 502, 503, 504); network errors and timeouts always are.',
          ),
        delay: durationSchema
          .default('1s')
          .describe('Wait before the second attempt, doubling after, upper half random (default 1s).'),
        max_delay: durationSchema
          .default('60s')
          .describe('Longest wait between attempts, also the cap on Retry-After (default 60s).'),
      })
      .prefault({})
      .describe('Per-request retries.'),
    max_redirects: z
      .int()
      .min(0)
      .max(20)
      .default(5)
      .describe('Redirects followed per request (default 5); a loop fails at once.'),
    max_size: byteSizeSchema
      .default('20MB')
      .describe('Largest response body read for json or html (default 20MB).'),
    user_agent: z
      .string()
      .min(1)
      .optional()
      .describe('The User-Agent header. Default: Pipewright/<version>.'),
  })
  .superRefine((config, context) => {
    if (config.parse === 'html' && config.select === undefined) {
      context.addIssue({ code: 'custom', path: ['select'], message: 'parse: html needs select' });
    }
    if (config.parse !== 'html' && config.select !== undefined) {
      context.addIssue({ code: 'custom', path: ['select'], message: 'select belongs to parse: html' });
    }
    if (config.parse !== 'json') {
      for (const field of ['records', 'paginate'] as const) {
        if (config[field] !== undefined) {
          context.addIssue({ code: 'custom', path: [field], message: `${field} belongs to parse: json` });
        }
      }
    }
    if (config.method === 'GET' && config.body !== undefined) {
      context.addIssue({ code: 'custom', path: ['body'], message: 'a body needs method: POST' });
    }
    if (config.paginate !== undefined && config.for_each !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['paginate'],
        message: 'paginate and for_each cannot be combined; use two steps',
      });
    }
    const columns = Object.keys(config.select?.columns ?? {});
    for (const name of columns) {
      if (
        (META_COLUMNS as readonly string[]).includes(name) ||
        (DOWNLOAD_COLUMNS as readonly string[]).includes(name)
      ) {
        context.addIssue({
          code: 'custom',
          path: ['select', 'columns', name],
          message: `'${name}' is a column the step adds itself (${[...META_COLUMNS, ...DOWNLOAD_COLUMNS].join(', ')}); pick another name`,
        });
      }
    }
    const download = config.download;
    if (download !== undefined) {
      if (config.parse === 'json') {
        context.addIssue({
          code: 'custom',
          path: ['download'],
          message: 'download needs parse: html or none',
        });
      } else if (config.parse === 'html' && download.from === undefined) {
        context.addIssue({
          code: 'custom',
          path: ['download', 'from'],
          message: 'with parse: html, name the column holding the link',
        });
      } else if (config.parse === 'none' && download.from !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['download', 'from'],
          message: 'parse: none downloads the response itself; from belongs to parse: html',
        });
      }
      if (download.from !== undefined && config.parse === 'html' && !columns.includes(download.from)) {
        context.addIssue({
          code: 'custom',
          path: ['download', 'from'],
          message: `'${download.from}' is not one of select.columns (${columns.join(', ')})`,
        });
      }
    }
  })
  .describe(
    'Fetches JSON APIs (with pagination) or HTML pages (CSS selectors) into the step dataset, and downloads files.',
  );

export type HttpFetchConfig = z.output<typeof httpFetchConfig>;
export type ForEach = NonNullable<HttpFetchConfig['for_each']>;
export type Paginate = NonNullable<HttpFetchConfig['paginate']>;
export type DownloadConfig = NonNullable<HttpFetchConfig['download']>;
export type SelectConfig = NonNullable<HttpFetchConfig['select']>;
