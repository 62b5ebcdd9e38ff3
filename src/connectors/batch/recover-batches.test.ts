/**
 * Start-up recovery of inbox batches against a real store (SQLite, and PostgreSQL when its server
 * answers) and a real storage folder. Every point where a crash can interrupt receiving a batch is set
 * up as the folder and the store would be left; one recovery must finish each exactly once (files
 * stored once, the pipeline queued once, unrecorded payloads kept in .rejected/ and recorded), and a
 * second recovery must change nothing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { loadProject } from '../../project/load-project.js';
import type { InboxBatchRecord, StateStore } from '../../store/state-store.js';
import { ADAPTERS } from '../../store/test-adapters.js';
import { payloadChunks } from './build-payload.js';
import { batchTrigger } from './receive-batch.js';
import { recoverInboxBatches } from './recover-batches.js';
import { batchStamp, unpackPayload } from './unpack-payload.js';

const roots: string[] = [];
after(async () => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

async function payload(files: Record<string, string>): Promise<Buffer> {
  const described = Object.entries(files).map(([name, text]) => ({
    name,
    data: Buffer.from(text),
    bytes: Buffer.byteLength(text),
  }));
  const chunks: Buffer[] = [];
  for await (const chunk of payloadChunks(described, { sourceFolder: '/src', now: new Date() }))
    chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Everything under the storage folder, as sorted relative paths. */
async function listing(dir: string): Promise<string[]> {
  return ((await readdir(dir, { recursive: true })) as string[]).sort();
}

const at = (minute: number) => new Date(`2026-11-23T10:${String(minute).padStart(2, '0')}:07.000Z`);

for (const adapter of ADAPTERS) {
  describe(`inbox batch recovery: ${adapter.name}`, () => {
    test('every crash point is finished once; a second recovery does nothing', async () => {
      const root = await mkdtemp(join(tmpdir(), 'pw-batch-recovery-'));
      roots.push(root);
      await mkdir(join(root, 'pipelines'));
      await writeFile(
        join(root, 'pipewright.yaml'),
        'inboxes:\n  health:\n    storage: _storage\n    pipeline: docs\n',
      );
      await writeFile(
        join(root, 'pipelines', 'docs.yaml'),
        'id: docs\nsteps:\n  - { id: s, uses: sql, with: { query: select 1 } }\n',
      );
      const project = await loadProject(root);
      const storage = join(root, '_storage');
      const incoming = join(storage, '.incoming');
      await mkdir(incoming, { recursive: true });
      const store: StateStore = await adapter.open();
      const received = (id: string, receivedAt: Date, bytes: number): InboxBatchRecord => ({
        id,
        inbox: 'health',
        receivedAt,
        bytes,
        status: 'received',
        files: [],
      });
      try {
        // 1. The body never finished arriving: a .part file, no record.
        await writeFile(join(incoming, 'b1-partial.json.part'), '{"batch_metadata": {"tim');
        // 2. The body was stored whole, the service stopped before recording it.
        const whole = await payload({ 'w.txt': 'whole' });
        await writeFile(join(incoming, 'b2-unrecorded.json'), whole);
        // 3. Recorded `received`, stopped while decoding: a half-written temporary folder.
        const three = await payload({ 'a.txt': 'alpha', 'b.json': '{"b": 1}' });
        await writeFile(join(incoming, 'b3-decoding.json'), three);
        await store.recordInboxBatch(received('b3-decoding', at(3), three.length));
        await mkdir(join(incoming, 'b3-decoding.tmp'));
        await writeFile(join(incoming, 'b3-decoding.tmp', '0'), 'alp');
        // 4. Stopped while linking the checked files into storage: c.txt is linked, d.txt is not.
        const four = await payload({ 'c.txt': 'gamma', 'd.txt': 'delta' });
        await writeFile(join(incoming, 'b4-linking.json'), four);
        await store.recordInboxBatch(received('b4-linking', at(4), four.length));
        await mkdir(join(incoming, 'b4-linking.tmp'));
        await writeFile(join(incoming, 'b4-linking.tmp', '0'), 'gamma');
        await writeFile(join(incoming, 'b4-linking.tmp', '1'), 'delta');
        await link(join(incoming, 'b4-linking.tmp', '0'), join(storage, `${batchStamp(at(4))}_c.txt`));
        // 5. The unpack finished (files and summary stored); stopped before the record said so.
        const five = await payload({ 'e.txt': 'epsilon' });
        await writeFile(join(incoming, 'b5-unpacked.json'), five);
        await store.recordInboxBatch(received('b5-unpacked', at(5), five.length));
        await unpackPayload(Readable.from([five]), {
          storageDir: storage,
          batchId: 'b5-unpacked',
          allowedTypes: ['txt', 'json'],
          maxFiles: 10,
          maxFileBytes: 1024,
          now: at(5),
          source: 'test',
        });
        // 6. Stored with its run id recorded; stopped before the run was queued.
        await store.recordInboxBatch({
          ...received('b6-unqueued', at(6), 10),
          status: 'stored',
          files: [{ name: 'f.txt', stored_as: 'x_f.txt', bytes: 1, sha256: 's' }],
          runId: '20261123-100600-planed',
        });
        // 7. Stored and queued: nothing to do. 8. Stored and queued, the payload not yet removed.
        await store.savePipelineRevision({
          pipelineId: 'docs',
          hash: 'h',
          definition: {},
          sourcePath: 'pipelines/docs.yaml',
          at: at(7),
        });
        for (const id of ['b7-done', 'b8-leftover']) {
          await store.recordInboxBatch({
            ...received(id, at(7), 10),
            status: 'stored',
            runId: `run-${id}`,
          });
          await store.enqueueRun({
            id: `run-${id}`,
            pipelineId: 'docs',
            revision: 1,
            status: 'queued',
            trigger: batchTrigger('health', id),
            params: {},
            scheduledFor: at(7),
            queuedAt: at(7),
          });
        }
        await writeFile(join(incoming, 'b8-leftover.json'), whole);
        // 9. Refused and moved to .rejected/, stopped before the record said so.
        await store.recordInboxBatch(received('b9-refused', at(9), 5));
        await mkdir(join(storage, '.rejected'));
        await writeFile(join(storage, '.rejected', 'b9-refused.json'), 'nope!');
        // 10. Recorded `received`, and the payload turns out to be refused.
        await writeFile(join(incoming, 'b10-invalid.json'), '{"files": {}}');
        await store.recordInboxBatch(received('b10-invalid', at(10), 13));

        const lines: string[] = [];
        const report = await recoverInboxBatches({
          project,
          store,
          log: (level, message) => lines.push(`${level} ${message}`),
          clock: () => new Date('2026-11-23T11:00:00Z'),
        });
        assert.deepEqual(report, {
          stored: ['b3-decoding', 'b4-linking', 'b5-unpacked'],
          queued: ['b6-unqueued'],
          rejected: ['b9-refused', 'b10-invalid', 'b1-partial', 'b2-unrecorded'],
          cleaned: ['b8-leftover'],
        });

        const stamp = (minute: number) => batchStamp(at(minute));
        assert.deepEqual(await listing(storage), [
          '.incoming',
          '.rejected',
          '.rejected/b1-partial.json.part',
          '.rejected/b10-invalid.json',
          '.rejected/b2-unrecorded.json',
          '.rejected/b9-refused.json',
          `${stamp(3)}_a.txt`,
          `${stamp(3)}_b.json`,
          `${stamp(3)}_batch-b3-decoding_summary.json`,
          `${stamp(4)}_batch-b4-linking_summary.json`,
          `${stamp(4)}_c.txt`,
          `${stamp(4)}_d.txt`,
          `${stamp(5)}_batch-b5-unpacked_summary.json`,
          `${stamp(5)}_e.txt`,
        ]);
        assert.equal(await readFile(join(storage, `${stamp(4)}_c.txt`), 'utf8'), 'gamma');
        assert.equal(await readFile(join(storage, `${stamp(3)}_a.txt`), 'utf8'), 'alpha');

        const record = async (id: string) => store.getInboxBatch(id);
        for (const id of ['b3-decoding', 'b4-linking', 'b5-unpacked']) {
          const batch = await record(id);
          assert.equal(batch?.status, 'stored', id);
          assert.ok(batch.runId, `${id} has its run`);
          const run = await store.getRun(batch.runId);
          assert.equal(run?.trigger, batchTrigger('health', id));
          assert.equal(run.queuedAt.toISOString(), '2026-11-23T11:00:00.000Z');
        }
        assert.deepEqual(
          (await record('b4-linking'))?.files.map((file) => file.stored_as),
          [`${stamp(4)}_c.txt`, `${stamp(4)}_d.txt`],
        );
        assert.deepEqual(
          (await record('b5-unpacked'))?.files.map((file) => [file.name, file.stored_as, file.bytes]),
          [['e.txt', `${stamp(5)}_e.txt`, 7]],
        );
        assert.equal(
          (await store.getRun('20261123-100600-planed'))?.trigger,
          batchTrigger('health', 'b6-unqueued'),
        );
        for (const [id, reason] of [
          ['b1-partial', /never finished arriving.*Kept as \.rejected\/b1-partial\.json\.part/],
          ['b2-unrecorded', /arrived whole, but the service stopped before recording it/],
          ['b9-refused', /before the reason was recorded; the payload is in \.rejected\//],
          ['b10-invalid', /refused: `batch_metadata` is missing/],
        ] as const) {
          const batch = await record(id);
          assert.equal(batch?.status, 'rejected', id);
          assert.match(batch.error ?? '', reason);
        }
        assert.equal((await record('b1-partial'))?.bytes, 24);
        const runs = await store.listRuns({ pipelineId: 'docs' });
        assert.equal(runs.length, 6, 'three recovered, one queued late, two that existed');
        assert.ok(
          lines.some((line) =>
            /batch b4-linking was received before the service stopped; unpacked now, 2 files; queued run/.test(
              line,
            ),
          ),
        );
        assert.ok(
          lines.some((line) => /batch b5-unpacked .*its unpack had finished, recorded 1 file/.test(line)),
        );

        // A second start finds nothing left to do.
        const before = {
          files: await listing(storage),
          batches: await store.listRecentInboxBatches(100),
          runs: runs.length,
        };
        const again = await recoverInboxBatches({ project, store });
        assert.deepEqual(again, { stored: [], queued: [], rejected: [], cleaned: [] });
        assert.deepEqual(await listing(storage), before.files);
        assert.deepEqual(await store.listRecentInboxBatches(100), before.batches);
        assert.equal((await store.listRuns({ pipelineId: 'docs' })).length, before.runs);
        assert.equal(existsSync(join(incoming, 'b3-decoding.tmp')), false);
      } finally {
        await store.close();
      }
    });
  });
}
