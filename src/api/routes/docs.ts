/**
 * `GET /api/openapi.json` (the OpenAPI 3.1 document) and `GET /api/docs` (a self-contained HTML page
 * listing every operation of that document: no scripts, no CDN). Both are public: they describe the
 * API and carry no data.
 */
import { z } from 'zod';
import type { RouteContext } from '../app.js';
import { openApiDocument } from '../openapi.js';
import { defineRoute, type ApiRoute } from '../route.js';

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function docsPage(document: Record<string, unknown>): string {
  const info = document.info as { title: string; version: string; description: string };
  const paths = document.paths as Record<
    string,
    Record<string, { summary?: string; 'x-required-scope'?: string }>
  >;
  const rows: string[] = [];
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) {
      rows.push(
        `<tr><td class="m">${escape(method.toUpperCase())}</td><td><code>${escape(path)}</code></td>` +
          `<td>${escape(op['x-required-scope'] ?? 'public')}</td><td>${escape(op.summary ?? '')}</td></tr>`,
      );
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(info.title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35rem .6rem;text-align:left;vertical-align:top}.m{font-weight:600}
code{font-size:14px}</style></head><body>
<h1>${escape(info.title)} <small>${escape(info.version)}</small></h1>
<p>${escape(info.description)}</p>
<p>The full description, with request and response schemas: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
<table><thead><tr><th>method</th><th>path</th><th>scope</th><th>what it does</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></body></html>
`;
}

export function docsRoutes(context: RouteContext, allRoutes: () => readonly ApiRoute[]) {
  let document: Record<string, unknown> | undefined;
  const getDocument = () => (document ??= openApiDocument(allRoutes(), context.version));
  return [
    defineRoute({
      method: 'GET',
      url: '/api/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document',
      scope: 'public',
      responses: [{ status: 200, description: 'The document', schema: z.record(z.string(), z.unknown()) }],
      handler: () => Promise.resolve(getDocument()),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/docs',
      summary: 'A page listing every operation',
      scope: 'public',
      responses: [{ status: 200, description: 'HTML', contentType: 'text/html', schema: z.string() }],
      handler: ({ reply }) => reply.type('text/html; charset=utf-8').send(docsPage(getDocument())),
    }),
  ];
}
