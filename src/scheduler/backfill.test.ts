/** Backfill against a real SQLite store: slots in a range, idempotence per slot, the size guard. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PwError } from '../core/errors/pw-error.js';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { StateStore } from '../store/state-store.js';
import { backfill, parseRangeBound } from './backfill.js';

let root: string;
let store: StateStore;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pw-backfill-'));
  store = await openSqliteStore(join(root, 'state.db'));
  await store.savePipelineRevision({
    pipelineId: 'daily',
    hash: definitionHash(daily),
    definition: daily,
    sourcePath: 'pipelines/daily.yaml',
    at: new Date('2026-01-01T00:00:00Z'),
  });
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

const daily = pipelineSchema.parse({
  id: 'daily',
  schedule: { cron: '0 6 * * *', timezone: 'Europe/Berlin' },
  params: { region: { default: 'north' } },
  steps: [{ id: 'q', uses: 'sql', with: { query: 'SELECT 1 AS one' } }],
});

describe('backfill', () => {
  it('parses dates as whole days in the zone and instants as given', () => {
    assert.equal(
      parseRangeBound('2026-03-01', 'Europe/Berlin', false, '--from').toISOString(),
      '2026-02-28T23:00:00.000Z',
    );
    assert.equal(
      parseRangeBound('2026-03-01', 'Europe/Berlin', true, '--to').toISOString(),
      '2026-03-01T22:59:59.999Z',
    );
    assert.equal(
      parseRangeBound('2026-03-01T06:00:00Z', 'Europe/Berlin', true, '--to').toISOString(),
      '2026-03-01T06:00:00.000Z',
    );
    assert.throws(
      () => parseRangeBound('yesterday', 'UTC', false, '--from'),
      (error: PwError) => error.code === 'PW_USAGE' && error.message.includes('--from'),
    );
  });

  it('queues every slot in the range once, oldest first, with trigger backfill and the defaults', async () => {
    const request = {
      store,
      spec: daily,
      revision: 1,
      projectTimezone: 'UTC',
      from: parseRangeBound('2026-03-27', 'Europe/Berlin', false, '--from'),
      to: parseRangeBound('2026-03-30', 'Europe/Berlin', true, '--to'),
      params: { region: 'north' },
      now: new Date('2026-04-01T10:00:00Z'),
    };
    const first = await backfill(request);
    // 06:00 Berlin is 05:00Z before the DST change on 29 March and 04:00Z after it.
    assert.deepEqual(
      first.queued.map((run) => run.scheduledFor.toISOString()),
      [
        '2026-03-27T05:00:00.000Z',
        '2026-03-28T05:00:00.000Z',
        '2026-03-29T04:00:00.000Z',
        '2026-03-30T04:00:00.000Z',
      ],
    );
    for (const run of first.queued) {
      assert.equal(run.trigger, 'backfill');
      assert.deepEqual(run.params, { region: 'north' });
      assert.equal(run.status, 'queued');
    }
    const queuedAt = first.queued.map((run) => run.queuedAt.getTime());
    assert.deepEqual(
      [...queuedAt].sort((a, b) => a - b),
      queuedAt,
      'claimed in slot order (queued_at)',
    );

    const again = await backfill({
      ...request,
      to: parseRangeBound('2026-03-31', 'Europe/Berlin', true, '--to'),
    });
    assert.deepEqual(
      again.queued.map((run) => run.scheduledFor.toISOString()),
      ['2026-03-31T04:00:00.000Z'],
    );
    assert.equal(again.existing.length, 4);
  });

  it('refuses large ranges without confirmation, reversed ranges and pipelines without a schedule', async () => {
    const base = {
      store,
      spec: daily,
      revision: 1,
      projectTimezone: 'UTC',
      params: {},
      now: new Date('2026-04-01T10:00:00Z'),
    };
    await assert.rejects(
      backfill({ ...base, from: new Date('2020-01-01T00:00:00Z'), to: new Date('2026-01-01T00:00:00Z') }),
      (error: PwError) => error.code === 'PW_USAGE' && /more than 1000 slots/.test(error.message),
    );
    assert.equal(await store.countRuns({ pipelineId: 'daily', status: 'queued' }), 5, 'nothing queued');
    await assert.rejects(
      backfill({ ...base, from: new Date('2026-01-02T00:00:00Z'), to: new Date('2026-01-01T00:00:00Z') }),
      (error: PwError) => error.code === 'PW_USAGE',
    );
    const unscheduled = pipelineSchema.parse({ id: 'adhoc', steps: daily.steps });
    await assert.rejects(
      backfill({ ...base, spec: unscheduled, from: new Date(0), to: new Date() }),
      (error: PwError) => error.code === 'PW_USAGE' && /no schedule/.test(error.message),
    );
  });
});
