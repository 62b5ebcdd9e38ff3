/**
 * The `http.fetch` step against a local HTTP server (http-test-server.ts): JSON pagination in its
 * three forms, POST bodies and secret headers, the event-id scraping of the MeetMax checker with XLS
 * downloads, and the bad servers (timeout, 429 with Retry-After, 500s, a redirect loop, a 2 GB body).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError, rejectsWith } from '../../testing/assertions.js';
import { httpFetchStep } from './http-fetch.js';
import { httpFetchConfig } from './http-fetch-schema.js';
import { startTestHttpServer, XLS_BYTES, XLSX_BYTES, type TestHttpServer } from './http-test-server.js';

let server: TestHttpServer;
let harness: StepHarness;

before(async () => {
  server = await startTestHttpServer();
  harness = await createStepHarness();
});
after(async () => {
  await server.close();
  await harness.close();
});

const fast = { attempts: 2, delay: '10ms', max_delay: '2s' };

describe('http.fetch json', () => {
  it('follows next links in the body and reads records at a path', async () => {
    const result = await harness.runStep(
      httpFetchStep,
      { url: `${server.url}/api/next`, records: 'data.items', paginate: { next_link: 'links.next' } },
      { stepId: 'api_next' },
    );
    assert.equal(result.rows, 6);
    assert.equal(result.outputs?.['requests'], 3);
    const rows = await harness.query<{ id: bigint; name: string }>('SELECT id, name FROM api_next');
    assert.deepEqual(
      rows.map((row) => [Number(row.id), row.name]),
      [
        [11, 'a1'],
        [12, 'b1'],
        [21, 'a2'],
        [22, 'b2'],
        [31, 'a3'],
        [32, 'b3'],
      ],
    );
  });

  it('follows a cursor and stops when it is null', async () => {
    const result = await harness.runStep(
      httpFetchStep,
      {
        url: `${server.url}/api/cursor`,
        records: 'results',
        paginate: { cursor: { path: 'next_cursor', param: 'cursor' } },
      },
      { stepId: 'api_cursor' },
    );
    assert.equal(result.rows, 4);
    const rows = await harness.query<{ id: bigint }>('SELECT id FROM api_cursor');
    assert.deepEqual(
      rows.map((row) => Number(row.id)),
      [1, 2, 3, 4],
    );
  });

  it('counts pages until one is empty', async () => {
    const result = await harness.runStep(
      httpFetchStep,
      { url: `${server.url}/api/page`, paginate: { page: { param: 'p', start: 0 } } },
      { stepId: 'api_page' },
    );
    assert.equal(result.rows, 3);
    assert.equal(result.outputs?.['requests'], 4);
    assert.deepEqual(await harness.columnTypes('api_page'), { n: 'BIGINT', v: 'DOUBLE' });
  });

  it('POSTs a JSON body, sends headers and keeps their values out of the log', async () => {
    const token = 'tok-5f2a9c1e77';
    await harness.runStep(
      httpFetchStep,
      {
        url: `${server.url}/api/echo`,
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
        body: { query: 'events', limit: 2 },
        records: 'received',
      },
      { stepId: 'api_post' },
    );
    const rows = await harness.query<{ query: string }>('SELECT query FROM api_post');
    assert.equal(rows[0]?.query, 'events');
    assert.equal(server.lastHeaders.get('/api/echo')?.authorization, `Bearer ${token}`);
    assert.match(String(server.lastHeaders.get('/api/echo')?.['user-agent']), /^Pipewright\//);
    const logged = JSON.stringify(harness.logs);
    assert.ok(logged.includes('/api/echo'), 'the request is logged');
    assert.ok(!logged.includes(token), 'the header value is not logged');
  });

  it('masks secret query values in error messages', async () => {
    await rejectsWith(
      (error) => {
        const failure = asPwError(error);
        assert.equal(failure.code, 'PW_HTTP_STATUS');
        assert.match(failure.message, /api_key=\*\*\*/);
        assert.ok(!failure.message.includes('s3cr3t'));
      },
      harness.runStep(
        httpFetchStep,
        { url: `${server.url}/nothing-here?api_key=s3cr3t` },
        { stepId: 'masked' },
      ),
    );
  });
});

describe('http.fetch html: event ids', () => {
  it('checks a range of event ids, one row each, and downloads the XLS/XLSX links into a folder', async () => {
    const result = await harness.runStep(
      httpFetchStep,
      {
        url: `${server.url}/events/{item}`,
        for_each: { range: { from: 119179, to: 119184 } },
        parse: 'html',
        select: {
          columns: {
            title: 'title',
            private: { selector: '.private', exists: true },
            download_link: { selector: "a[href*='.xls'], a.dl", attr: 'href' },
          },
        },
        download: { from: 'download_link', to: 'file_watcher' },
        concurrency: 2,
        rate_limit: 50,
      },
      { stepId: 'meetmax' },
    );
    assert.equal(result.rows, 6);
    assert.equal(result.outputs?.['not_found'], 1);
    const rows = await harness.query<Record<string, unknown>>(
      'SELECT item, status, "exists", title, private, download_link, file, file_bytes FROM meetmax ORDER BY item',
    );
    assert.deepEqual(
      rows.map((row) => [Number(row['item']), row['status'], row['exists'], row['title'], row['private']]),
      [
        [119179, 200, true, 'Tech Conference 2026', false],
        [119180, 404, false, null, null],
        [119181, 200, true, 'Private Event', true],
        [119182, 200, true, 'Energy Forum', false],
        [119183, 200, true, 'Health Summit', false],
        [119184, 200, true, 'Evil Meetup', false],
      ],
    );
    assert.equal(rows[0]?.['download_link'], `${server.url}/files/attendees-119179.xlsx`);
    assert.equal(
      rows[3]?.['download_link'],
      `${server.url}/files/list.xls?x=1`,
      'relative links become absolute',
    );
    assert.equal(rows[4]?.['download_link'], null);
    assert.deepEqual(
      rows.map((row) => row['file']),
      [
        'file_watcher/attendees-119179.xlsx',
        null,
        null,
        'file_watcher/list.xls',
        null,
        'file_watcher/evil.xls',
      ],
    );
    const folder = join(harness.projectDir, 'file_watcher');
    assert.deepEqual((await readdir(folder)).sort(), ['attendees-119179.xlsx', 'evil.xls', 'list.xls']);
    assert.deepEqual(await readFile(join(folder, 'attendees-119179.xlsx')), XLSX_BYTES);
    assert.deepEqual(await readFile(join(folder, 'list.xls')), XLS_BYTES);
    // The hostile Content-Disposition (../../evil.xls) landed inside the folder, nowhere else.
    assert.deepEqual((await readdir(harness.projectDir)).sort(), ['.pipewright', 'file_watcher']);
    assert.deepEqual(await harness.columnTypes('meetmax'), {
      item: 'BIGINT',
      url: 'VARCHAR',
      status: 'INTEGER',
      exists: 'BOOLEAN',
      title: 'VARCHAR',
      private: 'BOOLEAN',
      download_link: 'VARCHAR',
      file: 'VARCHAR',
      file_bytes: 'BIGINT',
    });
  });

  it('cuts a page into rows by a row selector and fails on 404 when not iterating', async () => {
    const result = await harness.runStep(
      httpFetchStep,
      {
        url: `${server.url}/events/119179`,
        parse: 'html',
        select: { rows: 'a', columns: { text: 'a', links: { selector: 'a', attr: 'href', all: true } } },
      },
      { stepId: 'links' },
    );
    assert.equal(result.rows, 1);
    await rejectsWith(
      (error) => assert.equal(asPwError(error).code, 'PW_HTTP_STATUS'),
      harness.runStep(
        httpFetchStep,
        { url: `${server.url}/events/119180`, parse: 'html', select: { columns: { t: 'title' } } },
        { stepId: 'missing' },
      ),
    );
  });

  it('downloads the responses themselves into the artifacts with parse: none', async () => {
    const result = await harness.runStep(
      httpFetchStep,
      {
        url: '{item}',
        for_each: { items: [`${server.url}/files/list.xls`, `${server.url}/files/evil`] },
        parse: 'none',
        download: { name: 'NUL' },
      },
      { stepId: 'fetch_files' },
    );
    assert.equal(result.rows, 2);
    assert.deepEqual(result.outputs?.['files'], ['_NUL', '_NUL-2']);
    const saved = harness.artifacts.filter((artifact) => artifact.stepId === 'fetch_files');
    assert.equal(saved.length, 2);
    for (const artifact of saved) assert.deepEqual(await readFile(artifact.path), XLS_BYTES);
  });
});

describe('http.fetch over a dataset column', () => {
  it('requests one URL per value of an earlier step, json records tagged with item, url and status', async () => {
    await harness.query(`CREATE TABLE wanted AS SELECT * FROM (VALUES ('1'), (NULL), ('9')) AS t(p)`);
    const result = await harness.runStep(
      httpFetchStep,
      {
        url: `${server.url}/api/page?p={item}`,
        for_each: { dataset: 'wanted', column: 'p' },
        not_found: [404],
      },
      { stepId: 'by_dataset' },
    );
    assert.equal(result.outputs?.['items'], 2);
    const rows = await harness.query<Record<string, unknown>>('SELECT n, _item, _status FROM by_dataset');
    assert.deepEqual(rows, [{ n: 1, _item: '1', _status: 200 }]);
  });
});

describe('http.fetch pacing', () => {
  it('spaces requests by rate_limit across the pool and keeps item order', async () => {
    const started = Date.now();
    const result = await harness.runStep(
      httpFetchStep,
      {
        url: `${server.url}/api/page?p={item}`,
        for_each: { items: [2, 1, 0] },
        concurrency: 3,
        rate_limit: 5,
      },
      { stepId: 'paced' },
    );
    assert.ok(Date.now() - started >= 380, 'three requests at 5/s take at least 400 ms');
    assert.equal(result.rows, 3);
    const rows = await harness.query<{ n: number }>('SELECT n, _item FROM paced');
    assert.deepEqual(
      rows.map((row) => row.n),
      [2, 1, 0],
    );
  });
});

describe('http.fetch bad servers', () => {
  it('gives up on a server that does not answer within the timeout', async () => {
    const started = Date.now();
    await rejectsWith(
      (error) => {
        const failure = asPwError(error);
        assert.equal(failure.code, 'PW_HTTP_UNAVAILABLE');
        assert.match(failure.message, /did not answer within 200 ms \(after 2 attempts\)/);
      },
      harness.runStep(
        httpFetchStep,
        { url: `${server.url}/slow`, timeout: '200ms', retry: fast },
        { stepId: 'slow' },
      ),
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('stops a request in flight when the step is cancelled', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled by test')), 100);
    await rejectsWith(
      (error) => assert.equal(asPwError(error).code, 'PW_CANCELLED'),
      harness.runStep(
        httpFetchStep,
        { url: `${server.url}/slow`, timeout: '30s' },
        { stepId: 'cancelled', signal: controller.signal },
      ),
    );
  });

  it('waits as Retry-After asks after a 429 and then succeeds', async () => {
    const started = Date.now();
    const result = await harness.runStep(
      httpFetchStep,
      { url: `${server.url}/flaky429`, retry: fast },
      { stepId: 'flaky' },
    );
    assert.equal(result.rows, 1);
    assert.ok(Date.now() - started >= 950, 'waited the second Retry-After asked for');
    assert.ok(
      harness.logs.some(
        (entry) => entry.stepId === 'flaky' && /HTTP 429.*attempt 2 of 2 in 1000 ms/.test(entry.message),
      ),
    );
  });

  it('fails after the attempts on a server that keeps answering 500', async () => {
    await rejectsWith(
      (error) => {
        const failure = asPwError(error);
        assert.equal(failure.code, 'PW_HTTP_UNAVAILABLE');
        assert.match(
          failure.message,
          /always500 answered HTTP 500 Internal Server Error \(after 3 attempts\)/,
        );
      },
      harness.runStep(
        httpFetchStep,
        { url: `${server.url}/always500`, retry: { ...fast, attempts: 3 } },
        { stepId: 'e500' },
      ),
    );
    assert.equal(server.hits.get('/always500'), 3);
  });

  it('refuses a redirect loop', async () => {
    await rejectsWith(
      (error) => {
        const failure = asPwError(error);
        assert.equal(failure.code, 'PW_HTTP_REDIRECT');
        assert.match(failure.message, /redirects in a loop \(back to .*\/loop\/a\)/);
      },
      harness.runStep(httpFetchStep, { url: `${server.url}/loop/a` }, { stepId: 'loop' }),
    );
  });

  it('refuses a 2 GB body by its declared length and while streaming, keeping nothing', async () => {
    await rejectsWith(
      (error) => {
        const failure = asPwError(error);
        assert.equal(failure.code, 'PW_HTTP_TOO_LARGE');
        assert.match(failure.message, /declares 2147483648 bytes/);
      },
      harness.runStep(httpFetchStep, { url: `${server.url}/huge`, max_size: '1MB' }, { stepId: 'huge' }),
    );
    await rejectsWith(
      (error) => {
        const failure = asPwError(error);
        assert.equal(failure.code, 'PW_HTTP_TOO_LARGE');
        assert.match(failure.message, /more than 1000000 bytes arrived/);
      },
      harness.runStep(
        httpFetchStep,
        { url: `${server.url}/huge-chunked`, parse: 'none', download: { to: 'big', max_size: '1MB' } },
        { stepId: 'huge_download' },
      ),
    );
    assert.ok(
      server.hugeBytesSent() < 200 * 1024 ** 2,
      `the server stopped early (${server.hugeBytesSent()} bytes)`,
    );
    assert.deepEqual(await readdir(join(harness.projectDir, 'big')), [], 'no partial file is left');
  });
});

describe('http.fetch config', () => {
  it('explains misplaced and missing fields', () => {
    const issues = (config: unknown): string[] => {
      const parsed = httpFetchConfig.safeParse(config);
      return parsed.success
        ? []
        : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    assert.deepEqual(issues({ url: 'http://x', parse: 'html' }), ['select: parse: html needs select']);
    assert.deepEqual(issues({ url: 'http://x', body: { a: 1 } }), ['body: a body needs method: POST']);
    assert.deepEqual(issues({ url: 'http://x', for_each: { range: { from: 5, to: 1 } } }), [
      'for_each.range.to: to must not be less than from',
    ]);
    assert.deepEqual(issues({ url: 'http://x', parse: 'html', select: { columns: { url: 'a' } } }), [
      "select.columns.url: 'url' is a column the step adds itself (item, url, status, exists, file, file_bytes); pick another name",
    ]);
  });
});
