// Service benchmark: watched folders. A `serve` process watches inbox/ with a pipeline that reads each
// dropped CSV (`files.read` of `{{ trigger.file }}`, typed columns, the file name as a column) and
// appends it to a SQLite table (`sql.load`).
//
// Burst: N small CSV files (5 rows each) are written at once into inbox/ (each to a dotted temporary
// name, then renamed, so none is seen half-written); the clock runs from the first drop until the
// ledger says every file succeeded. Reported: files/s, and per file the delay from the moment it became
// stable (mtime + stable_for) to its run being queued (the watcher's part) and to its run starting
// (queued behind the burst), p50/p99.
// Trickle: files dropped one at a time at a jittered pace, so no queue builds up: the same delays show
// what a single arrival waits for.
// Afterwards the table is checked: every file's rows exactly once, no other rows.
//
//   node bench/watch.mjs [--files 1000] [--trickle 30] [--interval 700] [--stable-for 1s] [--concurrency 1]
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import {
  WORK_DIR,
  ensureBuilt,
  fmt,
  machineInfo,
  markdownTable,
  note,
  parseOptions,
  percentile,
} from './lib.mjs';
import { distModule, startCli, until } from './service-lib.mjs';

const options = parseOptions(
  {
    files: { default: 1000, help: 'files dropped at once (burst)' },
    trickle: { default: 30, help: 'files dropped one at a time afterwards (0: skip)' },
    interval: { default: 700, help: 'mean ms between two trickled files (each 0.5× to 1.5× of it)' },
    'stable-for': { default: '1s', help: 'stable_for of the watch trigger' },
    poll: { default: '1s', help: 'poll of the watch trigger' },
    // 1: two loads into one SQLite target file from one process contend for its lock (see docs/benchmarks.md).
    concurrency: { default: '1', help: 'serve --concurrency' },
  },
  'node bench/watch.mjs [options]',
);
ensureBuilt();

const project = join(WORK_DIR, 'watch');
rmSync(project, { recursive: true, force: true });
mkdirSync(join(project, 'pipelines'), { recursive: true });
mkdirSync(join(project, 'inbox'), { recursive: true });
mkdirSync(join(project, 'data'), { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  'name: bench-watch\ntimezone: UTC\nconnections:\n  target: { type: sqlite, path: data/target.db }\n',
);
writeFileSync(
  join(project, 'pipelines', 'load.yaml'),
  `id: load
triggers:
  - watch: { dir: inbox, pattern: '\\.csv$', stable_for: ${options['stable-for']}, poll: ${options.poll} }
steps:
  - id: source
    uses: files.read
    with:
      path: '{{ trigger.file }}'
      columns: { id: BIGINT, value: DOUBLE }
      source_column: source_file
  - id: store
    uses: sql.load
    with: { connection: target, input: source, table: readings, mode: append }
    retries: { attempts: 5, delay: 500ms }
`,
);

// Created beforehand: two runs creating it at once would race.
const setup = new Database(join(project, 'data', 'target.db'));
setup.exec('CREATE TABLE readings (id BIGINT, value DOUBLE, source_file TEXT)');
setup.close();

const ROWS_PER_FILE = 5;
function drop(name, index) {
  const lines = ['id,value'];
  for (let row = 0; row < ROWS_PER_FILE; row += 1) lines.push(`${index * 100 + row},${(index + row) * 0.5}`);
  const temporary = join(project, 'inbox', `.${name}.tmp`);
  writeFileSync(temporary, `${lines.join('\n')}\n`);
  renameSync(temporary, join(project, 'inbox', name));
}

const { openStateStore } = await distModule('store/open-store.js');
const { parseDuration } = await distModule('core/duration.js');
const stableForMs = parseDuration(options['stable-for']);

async function ledgerAndRuns() {
  const store = await openStateStore('.pipewright/state.db', project, {});
  try {
    const entries = await store.listWatchedFiles({ dir: join(project, 'inbox') });
    const runs = new Map();
    for (const entry of entries) runs.set(entry.runId, await store.getRun(entry.runId));
    return { entries, runs };
  } finally {
    await store.close();
  }
}

async function waitForSucceeded(names) {
  return until(
    `${names.size} files processed`,
    async () => {
      const { entries, runs } = await ledgerAndRuns();
      const mine = entries.filter((entry) => names.has(entry.name));
      const failed = mine.filter((entry) => entry.state === 'failed' || entry.state === 'lost');
      if (failed.length > 0) throw new Error(`files failed: ${failed.map((entry) => entry.name).join(', ')}`);
      return mine.filter((entry) => entry.state === 'succeeded').length === names.size
        ? { entries: mine, runs }
        : undefined;
    },
    { timeoutMs: 900_000, everyMs: 500 },
  );
}

function delays({ entries, runs }) {
  const toQueued = [];
  const toStarted = [];
  for (const entry of entries) {
    const run = runs.get(entry.runId);
    const stable = entry.mtime.getTime() + stableForMs;
    toQueued.push(run.queuedAt.getTime() - stable);
    toStarted.push(run.startedAt.getTime() - stable);
  }
  return { toQueued, toStarted };
}

const service = startCli(['serve', '--port', '0', '--concurrency', options.concurrency], {
  cwd: project,
});
const rows = [];
try {
  await service.waitFor(/Stop with Ctrl-C/, 60_000);
  note(`burst: dropping ${options.files} files`);
  const burst = new Set();
  const startedAt = performance.now();
  for (let index = 0; index < options.files; index += 1) {
    const name = `burst-${String(index).padStart(5, '0')}.csv`;
    drop(name, index);
    burst.add(name);
  }
  const burstResult = await waitForSucceeded(burst);
  const seconds = (performance.now() - startedAt) / 1000;
  const burstDelays = delays(burstResult);
  rows.push([
    `burst of ${options.files}`,
    fmt(options.files / seconds, 1),
    fmt(seconds, 1),
    fmt(percentile(burstDelays.toQueued, 50) / 1000, 2),
    fmt(percentile(burstDelays.toQueued, 99) / 1000, 2),
    fmt(percentile(burstDelays.toStarted, 50) / 1000, 2),
    fmt(percentile(burstDelays.toStarted, 99) / 1000, 2),
  ]);

  if (options.trickle > 0) {
    note(`trickle: ${options.trickle} files, one every ~${options.interval} ms`);
    const trickle = new Set();
    const trickleStart = performance.now();
    for (let index = 0; index < options.trickle; index += 1) {
      const name = `trickle-${String(index).padStart(5, '0')}.csv`;
      drop(name, options.files + index);
      trickle.add(name);
      await sleep(options.interval * (0.5 + Math.random()));
    }
    const trickleResult = await waitForSucceeded(trickle);
    const trickleSeconds = (performance.now() - trickleStart) / 1000;
    const trickleDelays = delays(trickleResult);
    rows.push([
      `trickle of ${options.trickle}`,
      fmt(options.trickle / trickleSeconds, 1),
      fmt(trickleSeconds, 1),
      fmt(percentile(trickleDelays.toQueued, 50) / 1000, 2),
      fmt(percentile(trickleDelays.toQueued, 99) / 1000, 2),
      fmt(percentile(trickleDelays.toStarted, 50) / 1000, 2),
      fmt(percentile(trickleDelays.toStarted, 99) / 1000, 2),
    ]);
  }
} finally {
  await service.stop();
}

// Exactly once: every file's rows once, nothing else.
const db = new Database(join(project, 'data', 'target.db'), { readonly: true });
const perFile = db.prepare('SELECT source_file, count(*) AS n FROM readings GROUP BY source_file').all();
const total = db.prepare('SELECT count(*) AS n FROM readings').get().n;
db.close();
const expectedFiles = options.files + options.trickle;
const wrong = perFile.filter((row) => row.n !== ROWS_PER_FILE);
if (perFile.length !== expectedFiles || wrong.length > 0 || total !== expectedFiles * ROWS_PER_FILE) {
  console.error(
    `CHECK FAILED: ${perFile.length} files in the table (expected ${expectedFiles}), ${total} rows, ${wrong.length} files with ≠ ${ROWS_PER_FILE} rows`,
  );
  process.exitCode = 1;
} else {
  note(`check: ${perFile.length} files × ${ROWS_PER_FILE} rows, each loaded exactly once`);
}

const machine = machineInfo();
console.log(
  [
    `machine: ${machine.cpu}; ${machine.memory}; node ${machine.node}; ${machine.commit}; load ${machine.load}`,
    `serve --concurrency ${options.concurrency}, SQLite state store, stable_for ${options['stable-for']}, poll ${options.poll}`,
    '',
    markdownTable(
      ['drop', 'files/s', 'total s', 'stable→queued p50 s', 'p99 s', 'stable→started p50 s', 'p99 s'],
      rows,
    ),
  ].join('\n'),
);
