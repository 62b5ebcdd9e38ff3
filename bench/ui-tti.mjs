// Benchmark: time to interactive of the web UI's pipelines page with 200 pipelines and 100,000 runs in a
// SQLite store (seeded through the store API), measured in Chromium against a local `pipewright serve`.
// Each load is a fresh navigation to `/` with a signed-in session cookie; the time is read in the page
// (performance.now(), from navigation start): the moment the table holds all pipelines, then the first
// macrotask after it (the main thread is free to answer input). Median of --loads loads after one warm-up.
// Goal (issue 7): ≤ 1 s. Then the run history is paged through from the newest run to the oldest
// (GET /api/runs, 50 a page), every page timed. Goal: each page ≤ 50 ms.
//
//   node bench/ui-tti.mjs [--pipelines 200] [--runs 100000] [--loads 7]
/* global document, setTimeout -- in the functions that run in the page */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  CLI,
  REPO_DIR,
  WORK_DIR,
  ensureBuilt,
  fail,
  fmt,
  freshDir,
  machineInfo,
  markdownTable,
  median,
  parseOptions,
} from './lib.mjs';

const options = parseOptions(
  {
    pipelines: { default: 200, help: 'pipelines in the project' },
    runs: { default: 100_000, help: 'finished runs in the store, spread over the pipelines' },
    loads: { default: 7, help: 'measured page loads' },
  },
  'node bench/ui-tti.mjs — time to interactive of the web UI pipelines page on a large store',
);
ensureBuilt();
if (!existsSync(join(REPO_DIR, 'dist', 'ui', 'index.html'))) fail('dist/ui is missing: run `npm run build`');
const CHROMIUM = process.env.PIPEWRIGHT_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: apt-get install chromium`);

const dist = (path) => import(pathToFileURL(join(REPO_DIR, 'dist', 'src', path)).href);
const { openStateStore } = await dist('store/open-store.js');
const { hashApiToken, newApiToken } = await dist('api/tokens.js');

const work = join(WORK_DIR, 'ui-tti');
const project = join(work, 'project');
freshDir(work);
mkdirSync(join(project, 'pipelines'), { recursive: true });
writeFileSync(join(project, 'pipewright.yaml'), 'name: ui-tti\ntimezone: UTC\n');
const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo'];
const ids = [];
for (let index = 0; index < options.pipelines; index += 1) {
  const id = `pipeline-${String(index).padStart(3, '0')}`;
  ids.push(id);
  writeFileSync(
    join(project, 'pipelines', `${id}.yaml`),
    `id: ${id}\ndescription: Benchmark pipeline ${index}\n` +
      `schedule: { cron: "${index % 60} ${index % 24} * * *", timezone: ${zones[index % zones.length]}, catchup: none }\n` +
      `steps:\n  - id: one\n    uses: sql\n    with: { query: "SELECT 1 AS n" }\n`,
  );
}

// Seed through the store API, as the engine writes them.
const seedStarted = performance.now();
const store = await openStateStore('.pipewright/state.db', project);
await store.migrate();
const token = newApiToken();
await store.createApiToken({ name: 'bench', scope: 'operate', hash: hashApiToken(token), at: new Date() });
const now = Date.now();
const perPipeline = Math.ceil(options.runs / ids.length);
let made = 0;
for (const [index, id] of ids.entries()) {
  const { revision } = await store.savePipelineRevision({
    pipelineId: id,
    hash: `seed-${id}`,
    definition: { id },
    sourcePath: `pipelines/${id}.yaml`,
    at: new Date(now - 400 * 86_400_000),
  });
  for (let run = 0; run < perPipeline && made < options.runs; run += 1, made += 1) {
    const queuedAt = new Date(now - (perPipeline - run) * 3_600_000 - index * 1000);
    const runId = `seed-${String(index).padStart(3, '0')}-${String(run).padStart(6, '0')}`;
    const status = (run * 7 + index) % 20 === 0 ? 'failed' : 'succeeded';
    await store.createRun({
      id: runId,
      pipelineId: id,
      revision: revision.revision,
      status: 'running',
      trigger: 'schedule',
      params: {},
      scheduledFor: queuedAt,
      queuedAt,
      startedAt: queuedAt,
    });
    await store.updateRun(runId, {
      status,
      finishedAt: new Date(queuedAt.getTime() + 2000 + (run % 50) * 100),
    });
  }
}
await store.close();
const seedSeconds = (performance.now() - seedStarted) / 1000;
process.stdout.write(`seeded ${made} runs over ${ids.length} pipelines in ${fmt(seedSeconds, 1)} s\n`);

const port = await new Promise((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    server.close(() => resolve(address.port));
  });
});
const base = `http://127.0.0.1:${port}`;
const serve = spawn(process.execPath, [CLI, '--project', project, 'serve', '--port', String(port)], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
let serveErrors = '';
serve.stderr.on('data', (chunk) => (serveErrors += chunk));
try {
  const deadline = Date.now() + 60_000;
  while ((await globalThis.fetch(`${base}/ready`).catch(() => undefined))?.status !== 200) {
    if (Date.now() > deadline) fail(`serve did not become ready:\n${serveErrors}`);
    await sleep(200);
  }
  const signIn = await globalThis.fetch(`${base}/ui/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (!signIn.ok) fail(`sign-in failed: ${signIn.status} ${await signIn.text()}`);
  const cookie = /pw_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1];
  if (!cookie) fail('no session cookie');
  const apiStarted = performance.now();
  const api = await globalThis.fetch(`${base}/api/pipelines`, {
    headers: { Cookie: `pw_session=${cookie}` },
  });
  const apiBytes = (await api.text()).length;
  const apiMs = performance.now() - apiStarted;

  // The run history: every page of GET /api/runs (50 runs, keyset cursor) from the newest to the
  // oldest run, one request at a time, each timed from sending to the last byte.
  const pageMs = [];
  let cursor = null;
  let paged = 0;
  do {
    const started = performance.now();
    const response = await globalThis.fetch(
      `${base}/api/runs?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      { headers: { Cookie: `pw_session=${cookie}` } },
    );
    const body = await response.json();
    pageMs.push(performance.now() - started);
    if (!response.ok) fail(`GET /api/runs failed: ${response.status} ${JSON.stringify(body)}`);
    paged += body.runs.length;
    cursor = body.next;
  } while (cursor);
  if (paged !== made) fail(`paging through the runs gave ${paged}, expected ${made}`);
  const sortedPages = [...pageMs].sort((a, b) => a - b);
  const pagePercentile = (p) =>
    sortedPages[Math.min(sortedPages.length - 1, Math.floor(p * sortedPages.length))];

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addCookies([
    { name: 'pw_session', value: cookie, url: base, httpOnly: true, sameSite: 'Strict' },
  ]);
  const rendered = [];
  const interactive = [];
  for (let load = 0; load <= options.loads; load += 1) {
    const page = await context.newPage();
    await page.goto(`${base}/`, { waitUntil: 'commit' });
    // Functions run in the page (its document and clock; the CSP forbids evaluating strings there).
    const renderedAt = await page.waitForFunction(
      (count) => document.querySelectorAll('table.pipelines tbody tr').length >= count && performance.now(),
      ids.length,
      { polling: 'raf', timeout: 30_000 },
    );
    const renderedMs = await renderedAt.jsonValue();
    const idleMs = await page.evaluate(
      () => new Promise((done) => setTimeout(() => done(performance.now()), 0)),
    );
    await page.close();
    if (load === 0) continue; // warm-up: the browser's first start of its caches
    rendered.push(renderedMs);
    interactive.push(idleMs);
  }
  await browser.close();

  const info = machineInfo();
  const rows = [
    [
      'pipelines table rendered (ms)',
      fmt(median(rendered), 0),
      fmt(Math.min(...rendered), 0),
      fmt(Math.max(...rendered), 0),
    ],
    [
      'time to interactive (ms)',
      fmt(median(interactive), 0),
      fmt(Math.min(...interactive), 0),
      fmt(Math.max(...interactive), 0),
    ],
  ];
  process.stdout.write(
    `\n${ids.length} pipelines, ${made} runs (SQLite); GET /api/pipelines: ${fmt(apiMs, 0)} ms, ${fmt(apiBytes / 1024, 0)} KB (one request, warm)\n` +
      `${options.loads} loads after a warm-up; machine: ${JSON.stringify(info)}\n\n` +
      markdownTable(['measure', 'median', 'min', 'max'], rows) +
      `\ngoal: time to interactive ≤ 1000 ms → ${median(interactive) <= 1000 ? 'met' : 'NOT met'}\n` +
      `\nrun history: ${pageMs.length} pages of GET /api/runs?limit=50 through ${paged} runs: ` +
      `p50 ${fmt(pagePercentile(0.5), 1)} ms, p99 ${fmt(pagePercentile(0.99), 1)} ms, max ${fmt(sortedPages.at(-1), 1)} ms\n` +
      `goal: every page ≤ 50 ms → ${sortedPages.at(-1) <= 50 ? 'met' : 'NOT met'}\n`,
  );
} finally {
  serve.kill('SIGTERM');
}
