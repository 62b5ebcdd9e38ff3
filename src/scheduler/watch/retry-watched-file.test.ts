/**
 * Retrying the run of a watched file against a real store (SQLite, and PostgreSQL when its server
 * answers) and a real folder: the file comes back from failed/ to where the run's trigger.file points,
 * its .error.txt goes, and the watcher files the retry's outcome exactly once (failed again, then
 * archived); a file no longer in failed/ is refused with PW_WATCH_FILE_MISSING and nothing changes; a
 * retry interrupted after the move is finished by the next one. Runs are ended through the store.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { pipelineSchema } from '../../core/spec/pipeline-schema.js';
import type { StateStore, WatchedFileRecord } from '../../store/state-store.js';
import { ADAPTERS } from '../../store/test-adapters.js';
import { retryRun } from '../run-control.js';
import { FolderWatcher } from './folder-watcher.js';

const roots: string[] = [];
after(async () => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

const spec = pipelineSchema.parse({
  id: 'ingest',
  triggers: [{ watch: { dir: 'inbox', pattern: '\\.csv$', stable_for: '1s' } }],
  steps: [{ id: 's', uses: 'sql', with: { query: 'select 1' } }],
});

const END = new Date('2026-11-23T10:00:00Z');

/** A store with the pipeline, a watched folder, and `name` claimed and queued by a watcher. */
async function arrived(store: StateStore, name: string, content: string) {
  const projectDir = await mkdtemp(join(tmpdir(), 'pw-watch-retry-'));
  roots.push(projectDir);
  const inbox = join(projectDir, 'inbox');
  await mkdir(inbox, { recursive: true });
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
  await writeFile(join(inbox, name), content);
  const past = new Date(Date.now() - 60_000);
  await utimes(join(inbox, name), past, past);
  const first = watcher();
  await first.scan();
  await first.scan();
  const [entry] = await store.listWatchedFiles({ dir: inbox });
  assert.equal(entry?.state, 'queued');
  return { inbox, watcher, entry };
}

async function fail(store: StateStore, runId: string, message: string): Promise<void> {
  await store.updateRun(runId, {
    status: 'failed',
    finishedAt: END,
    error: { code: 'PW_INPUT_MALFORMED', message, stepId: 'source' },
  });
}

async function ledger(store: StateStore, entry: WatchedFileRecord): Promise<WatchedFileRecord | undefined> {
  return (await store.listWatchedFiles({ runId: entry.runId }))[0];
}

for (const adapter of ADAPTERS) {
  describe(`retrying a watched file's run: ${adapter.name}`, () => {
    test('the file comes back to processing/, fails again once, then is archived once', async () => {
      const store = await adapter.open();
      try {
        const { inbox, watcher, entry } = await arrived(store, 'orders.csv', 'id\n1\n');
        const processing = join(inbox, 'processing', 'orders.csv');
        await fail(store, entry.runId, 'line 2: x is not a BIGINT');
        await watcher().scan();
        assert.ok(existsSync(join(inbox, 'failed', 'orders.csv')));
        assert.ok(existsSync(join(inbox, 'failed', 'orders.csv.error.txt')));

        const retried = await retryRun(store, (await store.getRun(entry.runId))!);
        assert.equal(retried.status, 'queued');
        assert.equal(retried.attempt, 2);
        assert.equal(retried.triggerData?.file, processing);
        assert.equal(await readFile(processing, 'utf8'), 'id\n1\n');
        assert.deepEqual(
          await readdir(join(inbox, 'failed')),
          [],
          'the file and its .error.txt left failed/',
        );
        const requeued = await ledger(store, entry);
        assert.equal(requeued?.state, 'queued');
        assert.equal(requeued.finalPath, undefined);
        assert.equal(requeued.message, undefined);

        // While the retry is queued the watcher leaves the file alone, and claims nothing new.
        await watcher().scan();
        assert.ok(existsSync(processing));

        // The retry fails too: filed in failed/ again, under the same name, with a fresh report.
        await fail(store, entry.runId, 'still broken');
        await watcher().scan();
        assert.deepEqual((await readdir(join(inbox, 'failed'))).sort(), [
          'orders.csv',
          'orders.csv.error.txt',
        ]);
        const report = await readFile(join(inbox, 'failed', 'orders.csv.error.txt'), 'utf8');
        assert.match(report, /attempt 2\) failed/);
        assert.match(report, /still broken/);

        // Retried again, it succeeds: archived once, the ledger says so, and there is still one run.
        await retryRun(store, (await store.getRun(entry.runId))!);
        await store.updateRun(entry.runId, { status: 'succeeded', finishedAt: END });
        const finishing = watcher();
        await finishing.scan();
        await finishing.scan();
        assert.deepEqual(await readdir(join(inbox, 'processed', '2026', '11', '23')), ['orders.csv']);
        assert.deepEqual(await readdir(join(inbox, 'failed')), []);
        assert.deepEqual(await readdir(join(inbox, 'processing')), []);
        const done = await ledger(store, entry);
        assert.equal(done?.state, 'succeeded');
        assert.equal(done.finalPath, join(inbox, 'processed', '2026', '11', '23', 'orders.csv'));
        assert.equal((await store.listWatchedFiles({ dir: inbox })).length, 1);
        assert.equal((await store.listRuns({ pipelineId: 'ingest' })).length, 1);
        await assert.rejects(retryRun(store, (await store.getRun(entry.runId))!), {
          code: 'PW_RUN_NOT_RESUMABLE',
        });
      } finally {
        await store.close();
      }
    });

    test('a file no longer in failed/ is refused with PW_WATCH_FILE_MISSING; nothing changes', async () => {
      const store = await adapter.open();
      try {
        const { inbox, watcher, entry } = await arrived(store, 'gone.csv', 'id\n2\n');
        await fail(store, entry.runId, 'bad');
        await watcher().scan();
        await rm(join(inbox, 'failed', 'gone.csv'));
        const run = (await store.getRun(entry.runId))!;
        await assert.rejects(retryRun(store, run), (error: unknown) => {
          assert.ok(error instanceof PwError);
          assert.equal(error.code, 'PW_WATCH_FILE_MISSING');
          assert.match(error.message, /its file gone\.csv is no longer at inbox\/failed\/gone\.csv/);
          assert.match(error.hint ?? '', /Put the file back at inbox\/failed\/gone\.csv/);
          return true;
        });
        assert.equal((await store.getRun(entry.runId))?.status, 'failed');
        assert.equal((await store.getRun(entry.runId))?.attempt, 1);
        assert.equal((await ledger(store, entry))?.state, 'failed');
        assert.ok(existsSync(join(inbox, 'failed', 'gone.csv.error.txt')), 'nothing was touched');
      } finally {
        await store.close();
      }
    });

    test('before the watcher filed the failure it says to wait; a retry cut short after the move is finished', async () => {
      const store = await adapter.open();
      try {
        const { inbox, watcher, entry } = await arrived(store, 'late.csv', 'id\n3\n');
        await fail(store, entry.runId, 'bad');
        await assert.rejects(retryRun(store, (await store.getRun(entry.runId))!), (error: unknown) => {
          assert.ok(error instanceof PwError);
          assert.equal(error.code, 'PW_RUN_NOT_RESUMABLE');
          assert.match(error.message, /has not moved its file late\.csv to failed\/ yet/);
          return true;
        });
        await watcher().scan();
        // A retry that stopped after moving the file back, before its transaction.
        await rename(join(inbox, 'failed', 'late.csv'), join(inbox, 'processing', 'late.csv'));
        const retried = await retryRun(store, (await store.getRun(entry.runId))!);
        assert.equal(retried.status, 'queued');
        assert.equal((await ledger(store, entry))?.state, 'queued');
        assert.deepEqual(await readdir(join(inbox, 'failed')), []);
        assert.ok(existsSync(join(inbox, 'processing', 'late.csv')));
      } finally {
        await store.close();
      }
    });

    test('another file holding the name in processing/ is not overwritten', async () => {
      const store = await adapter.open();
      try {
        const { inbox, watcher, entry } = await arrived(store, 'same.csv', 'id\n4\n');
        await fail(store, entry.runId, 'bad');
        await watcher().scan();
        // A corrected file with the same name arrives and is claimed while the old one is in failed/.
        await writeFile(join(inbox, 'same.csv'), 'id\n5\n');
        const past = new Date(Date.now() - 60_000);
        await utimes(join(inbox, 'same.csv'), past, past);
        const next = watcher();
        await next.scan();
        await next.scan();
        const newer = (await store.listWatchedFiles({ dir: inbox, states: ['queued'] }))[0];
        assert.equal(newer?.processingPath, join(inbox, 'processing', 'same.csv'));
        await assert.rejects(retryRun(store, (await store.getRun(entry.runId))!), (error: unknown) => {
          assert.ok(error instanceof PwError);
          assert.equal(error.code, 'PW_RUN_NOT_RESUMABLE');
          assert.match(
            error.message,
            new RegExp(`belongs to another file that arrived since \\(run ${newer.runId}\\)`),
          );
          return true;
        });
        assert.equal(await readFile(join(inbox, 'processing', 'same.csv'), 'utf8'), 'id\n5\n');
        assert.equal(await readFile(join(inbox, 'failed', 'same.csv'), 'utf8'), 'id\n4\n');
      } finally {
        await store.close();
      }
    });
  });
}
