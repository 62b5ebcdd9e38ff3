import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PwError } from '../core/errors/pw-error.js';
import { DROPPED_COUNT_CAP, slotsToQueue, type CatchUpInput, type CatchUpPlan } from './catch-up.js';

type Policy = 'none' | 'latest' | 'all';

const HOURLY = '0 * * * *';
const CREATED = new Date('2026-01-01T00:00:00Z');

function plan(
  policy: Policy,
  options: {
    cron?: string;
    lastSlot?: string;
    now: string;
    createdAt?: string;
    max?: number;
    timezone?: string;
  },
): CatchUpPlan {
  const input: CatchUpInput = {
    schedule: {
      cron: options.cron ?? HOURLY,
      catchup: policy,
      ...(options.timezone === undefined ? {} : { timezone: options.timezone }),
      ...(options.max === undefined ? {} : { max_catchup: options.max }),
    },
    projectTimezone: 'UTC',
    lastSlot: options.lastSlot === undefined ? undefined : new Date(options.lastSlot),
    now: new Date(options.now),
    createdAt: options.createdAt === undefined ? CREATED : new Date(options.createdAt),
  };
  return slotsToQueue(input);
}

const iso = (result: CatchUpPlan): string[] => result.slots.map((slot) => slot.toISOString());

describe('running normally', () => {
  it('every policy queues the slot that just became due, and only once', () => {
    for (const policy of ['none', 'latest', 'all'] as const) {
      const due = plan(policy, { lastSlot: '2026-03-02T09:00:00Z', now: '2026-03-02T10:00:00.250Z' });
      assert.deepEqual(iso(due), ['2026-03-02T10:00:00.000Z'], policy);
      assert.equal(due.dropped, 0, policy);
      assert.equal(due.next?.toISOString(), '2026-03-02T11:00:00.000Z', policy);
      const again = plan(policy, { lastSlot: '2026-03-02T10:00:00Z', now: '2026-03-02T10:00:05Z' });
      assert.deepEqual(iso(again), [], policy);
    }
  });

  it('none lets a slot through within the 60 s grace window but not after it', () => {
    assert.deepEqual(iso(plan('none', { lastSlot: '2026-03-02T09:00:00Z', now: '2026-03-02T10:00:59Z' })), [
      '2026-03-02T10:00:00.000Z',
    ]);
    const late = plan('none', { lastSlot: '2026-03-02T09:00:00Z', now: '2026-03-02T10:01:01Z' });
    assert.deepEqual(iso(late), []);
    assert.equal(late.dropped, 1);
  });
});

describe('after downtime (10:00 to 15:30, hourly slots 11:00 to 15:00 missed)', () => {
  const lastSlot = '2026-03-02T10:00:00Z';
  const now = '2026-03-02T15:30:00Z';

  it('none skips every missed slot', () => {
    const result = plan('none', { lastSlot, now });
    assert.deepEqual(iso(result), []);
    assert.equal(result.dropped, 5);
    assert.equal(result.next?.toISOString(), '2026-03-02T16:00:00.000Z');
  });

  it('latest runs the most recent missed slot only', () => {
    const result = plan('latest', { lastSlot, now });
    assert.deepEqual(iso(result), ['2026-03-02T15:00:00.000Z']);
    assert.equal(result.dropped, 4);
  });

  it('all runs every missed slot, oldest first', () => {
    const result = plan('all', { lastSlot, now });
    assert.deepEqual(iso(result), [
      '2026-03-02T11:00:00.000Z',
      '2026-03-02T12:00:00.000Z',
      '2026-03-02T13:00:00.000Z',
      '2026-03-02T14:00:00.000Z',
      '2026-03-02T15:00:00.000Z',
    ]);
    assert.equal(result.dropped, 0);
  });

  it('all keeps the most recent max_catchup slots and reports the older ones as dropped', () => {
    const result = plan('all', { lastSlot, now, max: 2 });
    assert.deepEqual(iso(result), ['2026-03-02T14:00:00.000Z', '2026-03-02T15:00:00.000Z']);
    assert.equal(result.dropped, 3);
    // Recording 15:00 as the last slot, the dropped ones are never picked up later.
    assert.deepEqual(
      iso(plan('all', { lastSlot: '2026-03-02T15:00:00Z', now: '2026-03-02T15:45:00Z', max: 2 })),
      [],
    );
  });

  it('downtime across a DST change in the schedule zone uses the DST rules', () => {
    // Berlin, daily 02:30, down from 27 to 31 March: 29 March's 02:30 ran at 03:00 CEST.
    const result = plan('all', {
      cron: '30 2 * * *',
      timezone: 'Europe/Berlin',
      lastSlot: '2026-03-27T01:30:00Z',
      now: '2026-03-31T12:00:00Z',
    });
    assert.deepEqual(iso(result), [
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ]);
  });
});

describe('first start (no slot recorded yet)', () => {
  const createdAt = '2026-03-02T15:20:00Z';

  it('latest runs the most recent slot at or before now once, even before createdAt', () => {
    const result = plan('latest', { createdAt, now: '2026-03-02T15:20:01Z' });
    assert.deepEqual(iso(result), ['2026-03-02T15:00:00.000Z']);
    assert.equal(result.dropped, 0);
    const daily = plan('latest', { cron: '0 7 * * *', createdAt, now: '2026-03-02T15:20:01Z' });
    assert.deepEqual(iso(daily), ['2026-03-02T07:00:00.000Z']);
  });

  it('none and all never backfill history before createdAt', () => {
    for (const policy of ['none', 'all'] as const) {
      const result = plan(policy, { createdAt, now: '2026-03-02T15:20:01Z' });
      assert.deepEqual(iso(result), [], policy);
      assert.equal(result.dropped, 0, policy);
    }
  });

  it('all runs the slots since createdAt when the first look comes late', () => {
    const result = plan('all', { createdAt, now: '2026-03-02T17:10:00Z' });
    assert.deepEqual(iso(result), ['2026-03-02T16:00:00.000Z', '2026-03-02T17:00:00.000Z']);
  });
});

describe('clock jumping forward three days', () => {
  const lastSlot = '2026-03-02T10:00:00Z';
  const now = '2026-03-05T10:00:30Z';

  it('none runs only the slot due now', () => {
    const result = plan('none', { lastSlot, now });
    assert.deepEqual(iso(result), ['2026-03-05T10:00:00.000Z']);
    assert.equal(result.dropped, 71);
  });

  it('latest runs one slot', () => {
    const result = plan('latest', { lastSlot, now });
    assert.deepEqual(iso(result), ['2026-03-05T10:00:00.000Z']);
    assert.equal(result.dropped, 71);
  });

  it('all runs the 72 missed hourly slots (under the default bound of 100)', () => {
    const result = plan('all', { lastSlot, now });
    assert.equal(result.slots.length, 72);
    assert.equal(result.slots[0]?.toISOString(), '2026-03-02T11:00:00.000Z');
    assert.equal(result.slots.at(-1)?.toISOString(), '2026-03-05T10:00:00.000Z');
    assert.equal(result.dropped, 0);
  });

  it('all is bounded by the default max_catchup of 100 for a denser schedule', () => {
    const result = plan('all', { cron: '*/15 * * * *', lastSlot, now });
    assert.equal(result.slots.length, 100);
    assert.equal(result.dropped, 3 * 24 * 4 - 100);
    assert.equal(result.slots[0]?.toISOString(), '2026-03-04T09:15:00.000Z');
    assert.equal(result.slots.at(-1)?.toISOString(), '2026-03-05T10:00:00.000Z');
    for (let index = 1; index < result.slots.length; index += 1) {
      assert.ok(
        result.slots[index - 1]!.getTime() < result.slots[index]!.getTime(),
        'oldest first, no duplicates',
      );
    }
  });

  it('an explicit max_catchup is honoured, and an enormous jump stays bounded and capped in counting', () => {
    assert.equal(plan('all', { lastSlot, now, max: 5 }).slots.length, 5);
    const years = plan('all', { cron: '* * * * *', lastSlot, now: '2029-03-05T10:00:30Z', max: 3 });
    assert.deepEqual(iso(years), [
      '2029-03-05T09:58:00.000Z',
      '2029-03-05T09:59:00.000Z',
      '2029-03-05T10:00:00.000Z',
    ]);
    assert.equal(years.dropped, DROPPED_COUNT_CAP);
    assert.equal(years.droppedCapped, true);
  });
});

describe('clock jumping backwards', () => {
  const lastSlot = '2026-03-05T10:00:00Z';

  it('no policy queues a slot at or before the last one', () => {
    for (const policy of ['none', 'latest', 'all'] as const) {
      for (const now of [
        '2026-03-02T10:00:30Z',
        '2026-03-05T09:00:00Z',
        '2026-03-05T10:00:00Z',
        '2026-03-05T10:00:30Z',
      ]) {
        const result = plan(policy, { lastSlot, now });
        assert.deepEqual(iso(result), [], `${policy} at ${now}`);
        assert.equal(result.dropped, 0, `${policy} at ${now}`);
      }
    }
  });

  it('after the clock catches up again, the next new slot is queued once', () => {
    for (const policy of ['none', 'latest', 'all'] as const) {
      assert.deepEqual(
        iso(plan(policy, { lastSlot, now: '2026-03-05T11:00:10Z' })),
        ['2026-03-05T11:00:00.000Z'],
        policy,
      );
    }
  });
});

it('an invalid schedule throws PW_SPEC_CRON or PW_SPEC_TIMEZONE', () => {
  assert.throws(
    () => plan('latest', { cron: '0 25 * * *', now: '2026-03-05T11:00:10Z' }),
    (error: unknown) => error instanceof PwError && error.code === 'PW_SPEC_CRON',
  );
  assert.throws(
    () => plan('latest', { timezone: 'Nowhere/Special', now: '2026-03-05T11:00:10Z' }),
    (error: unknown) => error instanceof PwError && error.code === 'PW_SPEC_TIMEZONE',
  );
});
