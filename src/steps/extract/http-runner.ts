/**
 * The requests of one `http.fetch` step: sending with the step's retry and rate policy, reading
 * bodies within the size limit, turning pages and JSON answers (across their pages) into rows, and
 * saving files. Statuses listed in `not_found` are data, not errors.
 */
import { join, relative } from 'node:path';
import type { StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { parseDuration } from '../../core/duration.js';
import { parseByteSize } from '../deliver/deliver-common.js';
import type { HttpFetchConfig } from './http-fetch-schema.js';
import {
  readLimited,
  redactUrl,
  sendRequest,
  type HttpAnswer,
  type HttpRequest,
  type RequestPolicy,
} from './http-request.js';
import { htmlRows, jsonRecords, parseJsonText, valueAt } from './http-parse.js';
import { chooseFileName, saveBody } from './http-download.js';
import { buildRequest, substitute, type Item, type Row } from './http-items.js';
import { rateLimiter } from './http-pool.js';

interface Counters {
  requests: number;
  notFound: number;
  bytes: number;
  files: string[];
}

function requestFailure(answer: HttpAnswer, request: HttpRequest): PwError {
  return new PwError('PW_HTTP_STATUS', `${redactUrl(request.url)} answered HTTP ${answer.status}`, {
    hint:
      answer.status === 401 || answer.status === 403
        ? 'Check the credentials in headers (they are not shown here).'
        : answer.status === 404
          ? 'Check the URL; while iterating, add the status to not_found to record it as a row instead.'
          : 'The server refused the request; a status not listed in retry.on is not retried.',
  });
}

export class Runner {
  readonly counters: Counters = { requests: 0, notFound: 0, bytes: 0, files: [] };
  private readonly usedNames = new Set<string>();
  readonly policy: RequestPolicy;
  readonly notFound: readonly number[];
  readonly folder: string;

  constructor(
    readonly ctx: StepContext,
    readonly config: HttpFetchConfig,
    iterating: boolean,
  ) {
    const limiter = rateLimiter(config.rate_limit, ctx.signal);
    this.policy = {
      timeoutMs: parseDuration(config.timeout) ?? 30_000,
      attempts: config.retry.attempts,
      retryOn: config.retry.on,
      delayMs: parseDuration(config.retry.delay) ?? 1000,
      maxDelayMs: parseDuration(config.retry.max_delay) ?? 60_000,
      maxRedirects: config.max_redirects,
      signal: ctx.signal,
      ...(limiter ? { beforeAttempt: limiter } : {}),
      onRetry: (message) => ctx.log.warn(message),
    };
    this.notFound = config.not_found ?? (iterating ? [404, 410] : []);
    this.folder = config.download?.to === undefined ? ctx.artifacts.dir : ctx.resolvePath(config.download.to);
  }

  async send(request: HttpRequest): Promise<HttpAnswer> {
    this.counters.requests += 1;
    this.ctx.log.debug(`${request.method} ${redactUrl(request.url)}`, {
      headers: Object.keys(request.headers),
    });
    return sendRequest(request, this.policy);
  }

  /** The answer's body as text, or undefined (and a not-found count) for a `not_found` status. */
  async readOk(answer: HttpAnswer, request: HttpRequest): Promise<string | undefined> {
    if (answer.status >= 200 && answer.status < 300) {
      const body = await readLimited(answer, parseByteSize(this.config.max_size) ?? 20e6);
      this.counters.bytes += body.length;
      return body.toString('utf8');
    }
    await answer.body?.cancel().catch(() => undefined);
    answer.done();
    if (this.notFound.includes(answer.status)) {
      this.counters.notFound += 1;
      return undefined;
    }
    throw requestFailure(answer, request);
  }

  private uniqueName(name: string): string {
    let candidate = name;
    for (let n = 2; this.usedNames.has(candidate); n += 1) {
      const dot = name.lastIndexOf('.');
      candidate = dot > 0 ? `${name.slice(0, dot)}-${n}${name.slice(dot)}` : `${name}-${n}`;
    }
    this.usedNames.add(candidate);
    return candidate;
  }

  /** Saves a 2xx answer's body; returns the file as the row shows it and its size. */
  async save(answer: HttpAnswer, item: Item | undefined): Promise<{ file: string; bytes: number }> {
    const download = this.config.download;
    const configured = download?.name === undefined ? undefined : substitute(download.name, item, false);
    const name = this.uniqueName(
      chooseFileName(configured, answer, `download-${String(item ?? this.counters.requests)}`),
    );
    const bytes = await saveBody(
      answer,
      this.folder,
      name,
      parseByteSize(download?.max_size ?? '1GB') ?? 1e9,
    );
    this.counters.bytes += bytes;
    const path = join(this.folder, name);
    if (download?.to === undefined) {
      await this.ctx.artifacts.register(path, { name });
      this.counters.files.push(name);
      return { file: name, bytes };
    }
    const shown = relative(this.ctx.projectDir, path);
    this.counters.files.push(shown);
    return { file: shown, bytes };
  }

  /** Downloads the link in a row (html mode); the configured headers go only to the same origin. */
  async downloadLink(
    link: string,
    pageUrl: string,
    item: Item | undefined,
  ): Promise<{ file: string; bytes: number }> {
    const sameOrigin = new URL(link).origin === new URL(pageUrl).origin;
    const base = buildRequest(this.config, item);
    const headers = sameOrigin ? base.headers : { 'user-agent': base.headers['user-agent'] ?? 'Pipewright' };
    const request: HttpRequest = { url: link, method: 'GET', headers };
    const answer = await this.send(request);
    if (answer.status < 200 || answer.status >= 300) {
      await answer.body?.cancel().catch(() => undefined);
      answer.done();
      throw requestFailure(answer, request);
    }
    return this.save(answer, item);
  }

  /** html/none: the rows of one item. */
  async pageRows(item: Item | undefined): Promise<Row[]> {
    const request = buildRequest(this.config, item);
    const answer = await this.send(request);
    const meta = { item: item ?? null, url: redactUrl(request.url), status: answer.status };
    const download = this.config.download;
    if (this.config.parse === 'none') {
      const ok = answer.status >= 200 && answer.status < 300;
      if (ok && download !== undefined) {
        const saved = await this.save(answer, item);
        return [{ ...meta, exists: true, file: saved.file, file_bytes: saved.bytes }];
      }
      const text = await this.readOk(answer, request);
      return [{ ...meta, exists: text !== undefined }];
    }
    const html = await this.readOk(answer, request);
    const select = this.config.select;
    if (html === undefined || select === undefined) return [{ ...meta, exists: false }];
    const rows = await htmlRows(html, select, answer.url);
    const result: Row[] = [];
    for (const row of rows.length === 0 ? [{}] : rows) {
      const full: Row = { ...meta, exists: true, ...row };
      const link = download?.from === undefined ? undefined : row[download.from];
      if (typeof link === 'string' && /^https?:/i.test(link)) {
        const saved = await this.downloadLink(link, answer.url, item);
        full['file'] = saved.file;
        full['file_bytes'] = saved.bytes;
      }
      result.push(full);
    }
    return result;
  }

  /** json: the records of one item, following pages. */
  async jsonRows(item: Item | undefined, iterating: boolean): Promise<Row[]> {
    const paginate = this.config.paginate;
    const rows: Row[] = [];
    let extra: Record<string, string> = paginate?.page
      ? { [paginate.page.param]: String(paginate.page.start) }
      : {};
    let request = buildRequest(this.config, item, extra);
    const seen = new Set<string>();
    for (let page = 1; ; page += 1) {
      if (seen.has(request.url)) {
        throw new PwError(
          'PW_HTTP_RESPONSE',
          `Pagination loops: ${redactUrl(request.url)} was already fetched`,
          {
            path: 'with.paginate',
            hint: 'The API hands back a next page it already gave; check the next_link or cursor path.',
          },
        );
      }
      seen.add(request.url);
      const answer = await this.send(request);
      const text = await this.readOk(answer, request);
      if (text === undefined) return rows;
      const document = parseJsonText(text, answer.url);
      const records = jsonRecords(document, this.config.records, answer.url);
      const meta = iterating
        ? { _item: item ?? null, _url: redactUrl(request.url), _status: answer.status }
        : {};
      for (const record of records) rows.push({ ...record, ...meta });
      if (paginate === undefined) return rows;
      let next: HttpRequest | undefined;
      if (paginate.next_link !== undefined) {
        const link =
          paginate.next_link === 'header'
            ? /<([^>]+)>\s*;\s*rel="?next"?/i.exec(answer.headers.get('link') ?? '')?.[1]
            : valueAt(document, paginate.next_link);
        if (typeof link === 'string' && link !== '') {
          next = { ...request, url: new URL(link, answer.url).toString() };
        }
      } else if (paginate.cursor !== undefined) {
        const cursor = valueAt(document, paginate.cursor.path);
        if ((typeof cursor === 'string' && cursor !== '') || typeof cursor === 'number') {
          extra = { [paginate.cursor.param]: String(cursor) };
          next = buildRequest(this.config, item, extra);
        }
      } else if (paginate.page !== undefined && records.length > 0) {
        extra = { [paginate.page.param]: String(paginate.page.start + page) };
        next = buildRequest(this.config, item, extra);
      }
      if (next === undefined) return rows;
      if (page >= paginate.max_pages) {
        throw new PwError(
          'PW_HTTP_RESPONSE',
          `${redactUrl(this.config.url)} has more than ${paginate.max_pages} pages`,
          {
            path: 'with.paginate.max_pages',
            hint: 'Raise max_pages if the API really is this long; otherwise check that pagination ends.',
          },
        );
      }
      request = next;
    }
  }
}
