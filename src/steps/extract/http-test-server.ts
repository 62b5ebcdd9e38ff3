/**
 * A local HTTP server for the `http.fetch` tests, on 127.0.0.1 and a free port: JSON APIs paged by
 * next link, cursor and page number; MeetMax-like event pages by id (found, missing, private, with
 * XLS/XLSX links, one link whose Content-Disposition tries to climb out of the folder); and the bad
 * servers: one that never answers, 429 with Retry-After, 500s, a redirect loop and a 2 GB body that is
 * generated chunk by chunk as the client reads (never allocated).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestHttpServer {
  url: string;
  /** Requests seen, by path without query. */
  hits: Map<string, number>;
  /** Headers of the last request per path. */
  lastHeaders: Map<string, IncomingMessage['headers']>;
  /** Bytes of the huge body actually written before the client stopped reading. */
  hugeBytesSent: () => number;
  close(): Promise<void>;
}

export const XLSX_BYTES = Buffer.from('PK\u0003\u0004fake-xlsx-content');
export const XLS_BYTES = Buffer.from('\u00d0\u00cf\u0011\u00e0fake-xls-content', 'latin1');
const HUGE = 2 * 1024 ** 3;

function json(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><title>${title}</title></head><body>${body}</body></html>`;
}

function eventPage(id: number): { status: number; html: string } {
  switch (id) {
    case 119179:
      return {
        status: 200,
        html: page(
          'Tech Conference 2026',
          `<h1>Tech Conference</h1><a class="dl" href="/files/attendees-119179.xlsx">Download XLSX</a>`,
        ),
      };
    case 119180:
      return { status: 404, html: page('Not found', '<p>No such event</p>') };
    case 119181:
      return { status: 200, html: page('Private Event', '<div class="private">This event is private</div>') };
    case 119182:
      return {
        status: 200,
        html: page('Energy Forum', `<a class="dl" href="../files/list.xls?x=1">Download XLS</a>`),
      };
    case 119183:
      return { status: 200, html: page('Health Summit', '<p>No download yet</p>') };
    case 119184:
      return {
        status: 200,
        html: page('Evil Meetup', `<a class="dl" href="/files/evil">Get list (xls)</a>`),
      };
    default:
      return { status: 404, html: page('Not found', '') };
  }
}

function streamHuge(res: ServerResponse, chunked: boolean, counter: { sent: number }): void {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    ...(chunked ? {} : { 'content-length': String(HUGE) }),
  });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  const pump = (): void => {
    while (!closed && counter.sent < HUGE) {
      counter.sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!closed) res.end();
  };
  pump();
}

export async function startTestHttpServer(): Promise<TestHttpServer> {
  const hits = new Map<string, number>();
  const lastHeaders = new Map<string, IncomingMessage['headers']>();
  const huge = { sent: 0 };
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    lastHeaders.set(path, req.headers);
    const query = (name: string): string | null => url.searchParams.get(name);

    if (path === '/api/next') {
      const n = Number(query('page') ?? '1');
      const next = n < 3 ? `/api/next?page=${n + 1}` : null;
      json(res, {
        data: {
          items: [
            { id: n * 10 + 1, name: `a${n}` },
            { id: n * 10 + 2, name: `b${n}` },
          ],
        },
        links: { next },
      });
    } else if (path === '/api/cursor') {
      const cursor = query('cursor');
      const pages: Record<string, { rows: unknown[]; next: string | null }> = {
        start: { rows: [{ id: 1 }, { id: 2 }], next: 'c2' },
        c2: { rows: [{ id: 3 }], next: 'c3' },
        c3: { rows: [{ id: 4 }], next: null },
      };
      const current = pages[cursor ?? 'start'] ?? { rows: [], next: null };
      json(res, { results: current.rows, next_cursor: current.next });
    } else if (path === '/api/page') {
      const n = Number(query('p') ?? '0');
      json(res, n <= 2 ? [{ n, v: n * 1.5 }] : []);
    } else if (path === '/api/echo' && req.method === 'POST') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (part: string) => (body += part));
      req.on('end', () =>
        json(res, { received: JSON.parse(body) as unknown, auth: req.headers.authorization ?? null }),
      );
    } else if (path === '/api/echo') {
      json(res, [{ auth: req.headers.authorization ?? null, agent: req.headers['user-agent'] ?? null }]);
    } else if (path.startsWith('/events/')) {
      const { status, html } = eventPage(Number(path.slice('/events/'.length)));
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    } else if (path === '/files/attendees-119179.xlsx') {
      res.writeHead(200, {
        'content-type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      });
      res.end(XLSX_BYTES);
    } else if (path === '/files/list.xls') {
      res.writeHead(200, { 'content-type': 'application/vnd.ms-excel' });
      res.end(XLS_BYTES);
    } else if (path === '/files/evil') {
      res.writeHead(200, {
        'content-type': 'application/vnd.ms-excel',
        'content-disposition': 'attachment; filename="../../evil.xls"',
      });
      res.end(XLS_BYTES);
    } else if (path === '/slow') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
    } else if (path === '/flaky429') {
      if (count === 1) json(res, { error: 'slow down' }, 429, { 'retry-after': '1' });
      else json(res, [{ ok: true }]);
    } else if (path === '/always500') {
      json(res, { error: 'boom' }, 500);
    } else if (path === '/loop/a') {
      res.writeHead(302, { location: '/loop/b' }).end();
    } else if (path === '/loop/b') {
      res.writeHead(301, { location: '/loop/a' }).end();
    } else if (path === '/huge') {
      streamHuge(res, false, huge);
    } else if (path === '/huge-chunked') {
      streamHuge(res, true, huge);
    } else {
      json(res, { error: 'no route' }, 404);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    lastHeaders,
    hugeBytesSent: () => huge.sent,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
