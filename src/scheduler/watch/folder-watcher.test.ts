/**
 * The watcher against a real store (SQLite, and PostgreSQL when its server answers) and a real
 * folder: every point a crash can interrupt a claim or a finish is set up as the ledger and the folder
 * would be left, and a fresh watcher (a restarted process) must finish it with exactly one run and
 * without losing the file. Runs are ended through the store here; test/e2e/watch.e2e.test.ts runs
 * them with a real service.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pipelineSchema } from '../../core/spec/pipeline-schema.js';
import type { StateStore, WatchedFileRecord } from '../../store/state-store.js';
import { ADAPTERS } from '../../store/test-adapters.js';
import { FolderWatcher } from './folder-watcher.js';

const roots: string[] = [];
after(async () => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

const spec = pipelineSchema.parse({
  id: 'ingest',
  triggers: [{ watch: { dir: 'inbox', pattern: '\\.csv$', stable_for: '1s' } }],
  steps: [{ id: 's', uses: 'sql', with: { query: 'select 1' } }],
});

async function setUp(store: StateStore) {
  const projectDir = await mkdtemp(join(tmpdir(), 'pw-watch-'));
  roots.push(projectDir);
  const inbox = join(projectDir, 'inbox');
  await mkdir(join(inbox, 'processing'), { recursive: true });
  await store.savePipelineRevision({
    pipelineId: 'ingest',
    hash: 'h',
    definition: spec,
    sourcePath: 'pipelines/ingest.yaml',
    at: new Date(),
  });
  const watcher = () =>
    new FolderWatcher({
      store,
      projectDir,
      timezone: 'UTC',
      pipelines: () => [{ id: 'ingest', revision: 1, spec }],
    });
  return { inbox, watcher };
}

function claimedEntry(inbox: string, name: string, size: number, runId: string): WatchedFileRecord {
  return {
    id: `entry-${runId}`,
    pipelineId: 'ingest',
    dir: inbox,
    name,
    size,
    mtime: new Date(),
    sha256: `sha-${name}`,
    state: 'claimed',
    runId,
    processingPath: join(inbox, 'processing', name),
    claimedAt: new Date(),
  };
}

async function old(path: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
}

for (const adapter of ADAPTERS) {
  describe(`folder watcher recovery: ${adapter.name}`, () => {
    test('a claim interrupted before the move or before queuing is completed once at start', async () => {
      const store = await adapter.open();
      try {
        const { inbox, watcher } = await setUp(store);
        // Crash after the ledger row, before the rename: the file is still in the folder.
        await writeFile(join(inbox, 'a.csv'), 'id\n1\n');
        await store.recordWatchedFile(claimedEntry(inbox, 'a.csv', 5, 'run-a'));
        // Crash after the rename, before queuing.
        await writeFile(join(inbox, 'processing', 'b.csv'), 'id\n2\n');
        await store.recordWatchedFile(claimedEntry(inbox, 'b.csv', 5, 'run-b'));

        const first = watcher();
        await first.scan();
        await first.scan();
        await watcher().scan(); // a second restart must not queue again
        const runs = await store.listRuns({ pipelineId: 'ingest' });
        assert.deepEqual(runs.map((run) => run.id).sort(), ['run-a', 'run-b']);
        const a = runs.find((run) => run.id === 'run-a');
        assert.equal(a?.triggerData?.file, join(inbox, 'processing', 'a.csv'));
        assert.equal(a?.trigger, 'watch:a.csv');
        assert.deepEqual((await readdir(join(inbox, 'processing'))).sort(), ['a.csv', 'b.csv']);
        assert.equal(existsSync(join(inbox, 'a.csv')), false);
        const states = (await store.listWatchedFiles({ dir: inbox })).map((entry) => entry.state);
        assert.deepEqual(states, ['queued', 'queued']);
      } finally {
        await store.close();
      }
    });

    test('a file in processing/ with no ledger row is queued, never lost; an old file is picked up', async () => {
      const store = await adapter.open();
      try {
        const { inbox, watcher } = await setUp(store);
        await writeFile(join(inbox, 'processing', 'orphan.csv'), 'id\n3\n');
        await writeFile(join(inbox, 'present.csv'), 'id\n4\n');
        await writeFile(join(inbox, 'notes.txt'), 'not matched');
        await writeFile(join(inbox, '.hidden.csv'), 'ignored');
        await old(join(inbox, 'present.csv'));
        const running = watcher();
        await running.scan(); // recovery + first sight
        await running.scan(); // second sight of an old file: arrived
        const entries = await store.listWatchedFiles({ dir: inbox });
        assert.deepEqual(entries.map((entry) => [entry.name, entry.state]).sort(), [
          ['orphan.csv', 'queued'],
          ['present.csv', 'queued'],
        ]);
        assert.equal((await store.listRuns({ pipelineId: 'ingest' })).length, 2);
        assert.ok(existsSync(join(inbox, 'notes.txt')) && existsSync(join(inbox, '.hidden.csv')));
      } finally {
        await store.close();
      }
    });

    test('ended runs are finished; a finish interrupted after the move is completed, not repeated', async () => {
      const store = await adapter.open();
      try {
        const { inbox, watcher } = await setUp(store);
        await writeFile(join(inbox, 'ok.csv'), 'id\n1\n');
        await writeFile(join(inbox, 'bad.csv'), 'id\nx\n');
        await old(join(inbox, 'ok.csv'));
        await old(join(inbox, 'bad.csv'));
        const first = watcher();
        await first.scan();
        await first.scan();
        const entries = await store.listWatchedFiles({ dir: inbox });
        const ok = entries.find((entry) => entry.name === 'ok.csv');
        const bad = entries.find((entry) => entry.name === 'bad.csv');
        assert.ok(ok && bad);
        const end = new Date('2026-11-23T10:00:00Z');
        await store.updateRun(ok.runId, { status: 'succeeded', finishedAt: end });
        await store.updateRun(bad.runId, {
          status: 'failed',
          finishedAt: end,
          error: { code: 'PW_FILE_PARSE', message: 'bad.csv line 2: x is not a BIGINT', stepId: 'source' },
        });
        // A name already taken in failed/ gets a suffix, never an overwrite.
        await mkdir(join(inbox, 'failed'), { recursive: true });
        await writeFile(join(inbox, 'failed', 'bad.csv'), 'an earlier failure');
        await watcher().scan();
        assert.equal(
          await readFile(join(inbox, 'processed', '2026', '11', '23', 'ok.csv'), 'utf8'),
          'id\n1\n',
        );
        assert.equal(await readFile(join(inbox, 'failed', 'bad-1.csv'), 'utf8'), 'id\nx\n');
        assert.equal(await readFile(join(inbox, 'failed', 'bad.csv'), 'utf8'), 'an earlier failure');
        const report = await readFile(join(inbox, 'failed', 'bad-1.csv.error.txt'), 'utf8');
        assert.match(report, /error: PW_FILE_PARSE in step source/);
        assert.match(report, /x is not a BIGINT/);
        const after = await store.listWatchedFiles({ dir: inbox });
        assert.deepEqual(after.map((entry) => [entry.name, entry.state]).sort(), [
          ['bad.csv', 'failed'],
          ['ok.csv', 'succeeded'],
        ]);

        // Crash after the move, before the ledger said so: the next start only records it.
        await writeFile(join(inbox, 'late.csv'), 'id\n9\n');
        await old(join(inbox, 'late.csv'));
        const second = watcher();
        await second.scan();
        await second.scan();
        const late = (await store.listWatchedFiles({ dir: inbox, states: ['queued'] }))[0];
        assert.ok(late);
        await store.updateRun(late.runId, { status: 'succeeded', finishedAt: end });
        const target = join(inbox, 'processed', '2026', '11', '23', 'late.csv');
        await store.updateWatchedFile(late.id, { state: 'finishing', finalPath: target });
        await rm(late.processingPath);
        await writeFile(target, 'id\n9\n');
        await watcher().scan();
        const finished = (await store.listWatchedFiles({ dir: inbox })).find((entry) => entry.id === late.id);
        assert.equal(finished?.state, 'succeeded');
        assert.equal(finished.finalPath, target);
        assert.deepEqual(await readdir(join(inbox, 'processed', '2026', '11', '23')), ['late.csv', 'ok.csv']);
      } finally {
        await store.close();
      }
    });

    test('queuing the run of a ledger entry twice adds one run', async () => {
      const store = await adapter.open();
      try {
        const { inbox } = await setUp(store);
        await store.recordWatchedFile(claimedEntry(inbox, 'c.csv', 1, 'run-c'));
        const run = {
          id: 'run-c',
          pipelineId: 'ingest',
          revision: 1,
          status: 'queued' as const,
          trigger: 'watch:c.csv',
          params: {},
          scheduledFor: new Date(),
          queuedAt: new Date(),
          triggerData: { file: 'x' },
        };
        await store.queueWatchedFileRun('entry-run-c', run);
        await store.queueWatchedFileRun('entry-run-c', run);
        assert.equal((await store.listRuns({ pipelineId: 'ingest' })).length, 1);
        assert.deepEqual((await store.getRun('run-c'))?.triggerData, { file: 'x' });
        assert.equal(
          (await store.findWatchedFileByHash('ingest', 'sha-c.csv', ['queued']))?.id,
          'entry-run-c',
        );
        assert.equal(await store.findWatchedFileByHash('ingest', 'sha-c.csv', ['succeeded']), undefined);
      } finally {
        await store.close();
      }
    });
  });
}

describe('folder watcher timing', () => {
  test('scans again when a pending file turns stable, not only at the next poll', async () => {
    const adapter = ADAPTERS[0];
    assert.ok(adapter, 'the SQLite adapter');
    const store = await adapter.open();
    const slowPoll = pipelineSchema.parse({
      id: 'ingest',
      triggers: [{ watch: { dir: 'inbox', pattern: '\\.csv$', stable_for: '300ms', poll: '10m' } }],
      steps: [{ id: 's', uses: 'sql', with: { query: 'select 1' } }],
    });
    const projectDir = await mkdtemp(join(tmpdir(), 'pw-watch-'));
    roots.push(projectDir);
    await mkdir(join(projectDir, 'inbox', 'processing'), { recursive: true });
    await store.savePipelineRevision({
      pipelineId: 'ingest',
      hash: 'h',
      definition: slowPoll,
      sourcePath: 'pipelines/ingest.yaml',
      at: new Date(),
    });
    await writeFile(join(projectDir, 'inbox', 'fresh.csv'), 'id\n1\n');
    const watcher = new FolderWatcher({
      store,
      projectDir,
      timezone: 'UTC',
      pipelines: () => [{ id: 'ingest', revision: 1, spec: slowPoll }],
    });
    try {
      watcher.start();
      // The first scan sees the file while it is not yet stable; with a 10-minute poll only the
      // scan timed for its stable moment can queue it within this test's time.
      let runs = 0;
      for (let waited = 0; waited < 15_000 && runs === 0; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        runs = (await store.listRuns({ pipelineId: 'ingest' })).length;
      }
      assert.equal(runs, 1, 'the file was queued once it turned stable');
    } finally {
      await watcher.stop();
      await store.close();
    }
  });
});
