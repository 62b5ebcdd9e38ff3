/**
 * Watched folders with a real `pipewright serve` on SQLite (fixture test/fixtures/watch): a file
 * present before start, a file written slowly by a child process, the same file dropped twice, a file
 * that fails conversion, and a service killed with SIGKILL while a file's run executes, restarted:
 * every accepted file is processed exactly once (ledger, runs and the pipeline's own side effect).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  copyFixtureProject,
  killGroup,
  listFiles,
  listRuns,
  removeDir,
  waitFor,
  writeFiles,
} from './cli-harness.js';
import { startService, type Service } from './service-harness.js';
import { openStateStore } from '../../src/store/open-store.js';
import type { WatchedFileRecord } from '../../src/store/state-store.js';

const ENV = { PIPEWRIGHT_POLL_MS: '200', PIPEWRIGHT_TICK_MS: '500', PIPEWRIGHT_LEASE_MS: '2000' };

function csv(rows: number, start = 1): string {
  const lines = ['id,amount'];
  for (let id = start; id < start + rows; id += 1) lines.push(`${id},${(id * 0.5).toFixed(1)}`);
  return `${lines.join('\n')}\n`;
}

async function loaded(project: string): Promise<string[]> {
  const text = await readFile(join(project, 'loaded.log'), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '');
}

async function ledger(project: string): Promise<WatchedFileRecord[]> {
  const store = await openStateStore('.pipewright/state.db', project, {});
  try {
    return await store.listWatchedFiles({});
  } finally {
    await store.close();
  }
}

function serve(project: string): Service {
  return startService(['serve', '--port', '0'], project, ENV);
}

describe('watched folders with pipewright serve', { timeout: 170_000 }, () => {
  let project: string;
  let service: Service | undefined;
  const inbox = () => join(project, 'inbox');
  const today = () => new Date().toISOString().slice(0, 10).replaceAll('-', '/');

  before(async () => {
    project = await copyFixtureProject('watch');
    await writeFiles(project, { 'inbox/early.csv': csv(3) });
  });
  after(async () => {
    if (service) killGroup(service.child, 'SIGKILL');
    await removeDir(project);
  });

  it('picks up a file present at start and a file written slowly, each once, after it is complete', async () => {
    service = serve(project);
    // A child process writes 600 rows in 6 chunks over ~2.4 s (stable_for is 1 s in the fixture).
    const body = csv(600);
    const chunks = Array.from({ length: 6 }, (_, index) => body.slice(index * 1000, (index + 1) * 1000));
    chunks.push(body.slice(6000));
    const script = `
      const { appendFileSync } = require('node:fs');
      const chunks = ${JSON.stringify(chunks)};
      let index = 0;
      const next = () => { appendFileSync(${JSON.stringify(join(inbox(), 'slow.csv'))}, chunks[index++]);
        if (index < chunks.length) setTimeout(next, 400); };
      next();`;
    const writer = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    const writerDone = new Promise<number | null>((resolve) => writer.on('exit', resolve));

    const done = await waitFor(async () => (await loaded(project)).length >= 2, 60_000, 200);
    assert.equal(await writerDone, 0, 'the writer finished');
    assert.ok(done, `both files loaded within 60 s\n${service.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // room for a wrong second load to show
    const lines = await loaded(project);
    assert.deepEqual(
      lines.map((line) => line.split(',').slice(0, 2).join(',')).sort(),
      ['early.csv,3', 'slow.csv,600'],
      'each file loaded exactly once and slow.csv only once complete',
    );
    for (const line of lines) assert.match(line, /[/\\]inbox[/\\]processing[/\\](early|slow)\.csv$/);
    await waitFor(async () => (await listFiles(join(inbox(), 'processed'))).length === 2, 10_000);
    assert.deepEqual((await listFiles(join(inbox(), 'processed'))).sort(), [
      `${today()}/early.csv`,
      `${today()}/slow.csv`,
    ]);
    assert.deepEqual(await readdir(join(inbox(), 'processing')), []);
    const runs = (await listRuns(project)).filter((run) => run.pipeline === 'ingest');
    assert.deepEqual(runs.map((run) => run.trigger).sort(), ['watch:early.csv', 'watch:slow.csv']);
    assert.ok(runs.every((run) => run.status === 'succeeded'));
  });

  it('moves the same content dropped again to duplicates/ without a second run', async () => {
    await writeFile(join(inbox(), 'early-again.csv'), csv(3));
    const moved = await waitFor(() => existsSync(join(inbox(), 'duplicates', 'early-again.csv')), 20_000);
    assert.ok(moved, `duplicate moved within 20 s\n${service?.output() ?? ''}`);
    assert.equal((await loaded(project)).length, 2);
    assert.equal((await listRuns(project)).length, 2);
    const duplicate = (await ledger(project)).find((entry) => entry.name === 'early-again.csv');
    assert.equal(duplicate?.state, 'duplicate');
    assert.match(duplicate.message ?? '', /same content .* as early\.csv/);
  });

  it('moves a file that fails conversion to failed/ with an .error.txt beside it', async () => {
    await writeFile(join(inbox(), 'bad.csv'), 'id,amount\n1,2.5\nnot-a-number,3\n');
    const failed = await waitFor(() => existsSync(join(inbox(), 'failed', 'bad.csv.error.txt')), 30_000);
    assert.ok(failed, `bad.csv failed within 30 s\n${service?.output() ?? ''}`);
    assert.ok(existsSync(join(inbox(), 'failed', 'bad.csv')));
    const text = await readFile(join(inbox(), 'failed', 'bad.csv.error.txt'), 'utf8');
    assert.match(text, /pipeline: ingest/);
    assert.match(text, /error: PW_\w+ in step source/);
    assert.match(text, /not-a-number/);
    const run = (await listRuns(project)).find((candidate) => candidate.trigger === 'watch:bad.csv');
    assert.equal(run?.status, 'failed');
    const entry = (await ledger(project)).find((candidate) => candidate.name === 'bad.csv');
    assert.equal(entry?.state, 'failed');
    assert.equal(entry.runId, run.id);
    // Nothing was written outside the watched folder but the pipeline's own loaded.log.
    assert.equal((await loaded(project)).length, 2);
  });

  it('processes a file exactly once when the service is killed with SIGKILL during its run', async () => {
    await writeFiles(project, { hold: '' });
    await writeFile(join(inbox(), 'crash.csv'), csv(10, 100));
    const started = await waitFor(() => existsSync(join(project, 'record.started')), 30_000);
    assert.ok(started, `the run for crash.csv reached its held step\n${service?.output() ?? ''}`);
    assert.ok(existsSync(join(inbox(), 'processing', 'crash.csv')));
    killGroup(service!.child, 'SIGKILL');
    const killed = await service!.done;
    assert.equal(killed.signal, 'SIGKILL');
    const during = (await ledger(project)).filter((entry) => entry.name === 'crash.csv');
    assert.deepEqual(
      during.map((entry) => entry.state),
      ['queued'],
    );

    await writeFiles(project, { 'record.release': '', 'inbox/late.csv': csv(4, 500) });
    service = serve(project);
    const done = await waitFor(
      () =>
        existsSync(join(inbox(), 'processed', today(), 'crash.csv')) &&
        existsSync(join(inbox(), 'processed', today(), 'late.csv')),
      60_000,
      200,
    );
    assert.ok(done, `crash.csv and late.csv processed after the restart\n${service.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const names = (await loaded(project)).map((line) => line.split(',')[0]);
    assert.equal(names.filter((name) => name === 'crash.csv').length, 1, 'crash.csv loaded once');
    assert.equal(names.filter((name) => name === 'late.csv').length, 1, 'late.csv loaded once');
    const entries = (await ledger(project)).filter((entry) => entry.name === 'crash.csv');
    assert.deepEqual(
      entries.map((entry) => entry.state),
      ['succeeded'],
    );
    const runs = (await listRuns(project)).filter((run) => run.trigger === 'watch:crash.csv');
    assert.equal(runs.length, 1, 'one run for crash.csv');
    assert.equal(runs[0]?.status, 'succeeded');
    assert.ok(
      (runs[0]?.attempt ?? 0) >= 2,
      'the run was resumed after the lease of the killed process expired',
    );
    assert.deepEqual(await readdir(join(inbox(), 'processing')), []);
  });
});
