/** The dead-man check (`expect: { success_within }`) in the scheduler tick, with an injected clock. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { StateStore } from '../store/state-store.js';
import { Scheduler } from './scheduler-loop.js';

let root: string;
let store: StateStore;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-expect-'));
  store = await openSqliteStore(join(root, 'state.db'));
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('dead-man check', () => {
  it('warns once per window without a success, only for pipelines older than the window', async () => {
    const spec = pipelineSchema.parse({
      id: 'weekly',
      expect: { success_within: '8d' },
      steps: [{ id: 'q', uses: 'sql', with: { query: 'SELECT 1 AS one' } }],
    });
    await store.savePipelineRevision({
      pipelineId: 'weekly',
      hash: definitionHash(spec),
      definition: spec,
      sourcePath: 'pipelines/weekly.yaml',
      at: new Date('2026-03-01T00:00:00Z'),
    });
    let now = new Date('2026-03-05T00:00:00Z');
    const lines: string[] = [];
    const scheduler = new Scheduler({
      store,
      projectTimezone: 'UTC',
      pipelineIds: () => ['weekly'],
      clock: () => now,
      log: (level, message) => lines.push(`${level} ${message}`),
    });
    const at = async (iso: string) => {
      now = new Date(iso);
      return (await scheduler.tick()).overdue.map((entry) => entry.pipelineId);
    };

    assert.deepEqual(await at('2026-03-05T00:00:00Z'), [], 'younger than the window');
    assert.deepEqual(await at('2026-03-10T00:00:00Z'), ['weekly']);
    assert.match(lines.at(-1) ?? '', /^warn weekly: no run succeeded within 8d .*no run has ever succeeded$/);
    assert.deepEqual(await at('2026-03-10T01:00:00Z'), [], 'once per window');
    assert.deepEqual(await at('2026-03-17T01:00:00Z'), ['weekly'], 'again after another window');

    const run = await store.enqueueRun({
      id: 'w-1',
      pipelineId: 'weekly',
      revision: 1,
      status: 'queued',
      trigger: 'manual:test',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });
    assert.ok(run);
    await store.updateRun('w-1', { status: 'succeeded', finishedAt: new Date('2026-03-17T02:00:00Z') });
    assert.deepEqual(await at('2026-03-20T00:00:00Z'), []);
    assert.deepEqual(await at('2026-03-26T00:00:00Z'), ['weekly']);
    assert.match(lines.at(-1) ?? '', /last success 2026-03-17T02:00:00.000Z$/);

    await store.setPipelinePaused('weekly', true);
    assert.deepEqual(await at('2026-04-26T00:00:00Z'), [], 'a paused pipeline is not checked');
  });
});
