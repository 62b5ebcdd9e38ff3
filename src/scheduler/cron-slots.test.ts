import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PwError } from '../core/errors/pw-error.js';
import { compileSchedule, latestSlots, nextSlots, slotsBetween } from './cron-slots.js';

const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';

/** The slots in (from, to] as ISO strings. */
function slots(cron: string, timezone: string, from: string, to: string, limit = 1000): string[] {
  return slotsBetween({ cron, timezone }, 'UTC', new Date(from), new Date(to), limit).map((slot) =>
    slot.toISOString(),
  );
}

function hourlyCount(cron: string, timezone: string, from: string, to: string): number {
  return slots(cron, timezone, from, to).length;
}

// Transitions in 2026: Berlin springs forward at 01:00Z on 29 March (02:00 CET → 03:00 CEST) and falls
// back at 01:00Z on 25 October (03:00 CEST → 02:00 CET); New York springs forward at 07:00Z on 8 March
// (02:00 EST → 03:00 EDT) and falls back at 06:00Z on 1 November (02:00 EDT → 01:00 EST).

describe('daily 02:30 (and 01:30 in New York, whose repeated hour is 01:00-02:00)', () => {
  it('Berlin spring forward: the missing 02:30 runs once, at 03:00 CEST', () => {
    assert.deepEqual(slots('30 2 * * *', BERLIN, '2026-03-27T12:00:00Z', '2026-03-31T00:00:00Z'), [
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('Berlin fall back: the repeated 02:30 runs once, at its first occurrence (CEST)', () => {
    assert.deepEqual(slots('30 2 * * *', BERLIN, '2026-10-23T12:00:00Z', '2026-10-27T00:00:00Z'), [
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('New York spring forward: the missing 02:30 runs once, at 03:00 EDT', () => {
    assert.deepEqual(slots('30 2 * * *', NEW_YORK, '2026-03-06T12:00:00Z', '2026-03-10T00:00:00Z'), [
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
  });

  it('New York fall back: 02:30 exists once (EST); the repeated 01:30 runs once (EDT)', () => {
    assert.deepEqual(slots('30 2 * * *', NEW_YORK, '2026-10-30T12:00:00Z', '2026-11-03T00:00:00Z'), [
      '2026-10-31T06:30:00.000Z',
      '2026-11-01T07:30:00.000Z',
      '2026-11-02T07:30:00.000Z',
    ]);
    assert.deepEqual(slots('30 1 * * *', NEW_YORK, '2026-10-30T12:00:00Z', '2026-11-03T00:00:00Z'), [
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('a start inside the second pass of the repeated hour does not run the first pass again', () => {
    // 01:45Z is 02:45 CET, after the 02:30 CEST slot (00:30Z) has passed.
    assert.deepEqual(slots('30 2 * * *', BERLIN, '2026-10-25T00:30:00Z', '2026-10-26T12:00:00Z'), [
      '2026-10-26T01:30:00.000Z',
    ]);
    assert.deepEqual(slots('30 2 * * *', BERLIN, '2026-10-25T01:45:00Z', '2026-10-26T12:00:00Z'), [
      '2026-10-26T01:30:00.000Z',
    ]);
  });
});

describe('hourly at :00', () => {
  it('Berlin spring forward: 02:00 does not exist and merges with 03:00 CEST; 23 runs that day', () => {
    assert.deepEqual(slots('0 * * * *', BERLIN, '2026-03-28T22:30:00Z', '2026-03-29T03:30:00Z'), [
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T02:00:00.000Z',
      '2026-03-29T03:00:00.000Z',
    ]);
    // The local day 29 March is 2026-03-28T23:00Z .. 2026-03-29T22:00Z (exclusive).
    assert.equal(hourlyCount('0 * * * *', BERLIN, '2026-03-28T22:59:59Z', '2026-03-29T21:59:59Z'), 23);
  });

  it('Berlin fall back: 02:00 runs once (CEST); the second 02:00 (CET) has no run; 24 runs that day', () => {
    assert.deepEqual(slots('0 * * * *', BERLIN, '2026-10-24T22:30:00Z', '2026-10-25T03:30:00Z'), [
      '2026-10-24T23:00:00.000Z',
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
    // The local day 25 October is 2026-10-24T22:00Z .. 2026-10-25T23:00Z (25 hours).
    assert.equal(hourlyCount('0 * * * *', BERLIN, '2026-10-24T21:59:59Z', '2026-10-25T22:59:59Z'), 24);
  });

  it('New York spring forward: 23 runs, one of them at 03:00 EDT', () => {
    assert.deepEqual(slots('0 * * * *', NEW_YORK, '2026-03-08T05:30:00Z', '2026-03-08T08:30:00Z'), [
      '2026-03-08T06:00:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T08:00:00.000Z',
    ]);
    assert.equal(hourlyCount('0 * * * *', NEW_YORK, '2026-03-08T04:59:59Z', '2026-03-09T03:59:59Z'), 23);
  });

  it('New York fall back: 01:00 runs once (EDT); 24 runs', () => {
    assert.deepEqual(slots('0 * * * *', NEW_YORK, '2026-11-01T03:30:00Z', '2026-11-01T08:30:00Z'), [
      '2026-11-01T04:00:00.000Z',
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
      '2026-11-01T08:00:00.000Z',
    ]);
    assert.equal(hourlyCount('0 * * * *', NEW_YORK, '2026-11-01T03:59:59Z', '2026-11-02T04:59:59Z'), 24);
  });
});

describe('hourly at :30', () => {
  it('Berlin spring forward: 02:30 runs at 03:00 CEST, then 03:30 as usual; 24 runs', () => {
    assert.deepEqual(slots('30 * * * *', BERLIN, '2026-03-28T23:45:00Z', '2026-03-29T02:45:00Z'), [
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-29T02:30:00.000Z',
    ]);
    assert.equal(hourlyCount('30 * * * *', BERLIN, '2026-03-28T22:59:59Z', '2026-03-29T21:59:59Z'), 24);
  });

  it('Berlin fall back: 02:30 runs once (CEST), then 03:30 CET; 24 runs', () => {
    assert.deepEqual(slots('30 * * * *', BERLIN, '2026-10-24T23:45:00Z', '2026-10-25T02:45:00Z'), [
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T02:30:00.000Z',
    ]);
    assert.equal(hourlyCount('30 * * * *', BERLIN, '2026-10-24T21:59:59Z', '2026-10-25T22:59:59Z'), 24);
  });

  it('New York spring forward: 02:30 runs at 03:00 EDT; 24 runs', () => {
    assert.deepEqual(slots('30 * * * *', NEW_YORK, '2026-03-08T06:00:00Z', '2026-03-08T08:45:00Z'), [
      '2026-03-08T06:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T07:30:00.000Z',
      '2026-03-08T08:30:00.000Z',
    ]);
    assert.equal(hourlyCount('30 * * * *', NEW_YORK, '2026-03-08T04:59:59Z', '2026-03-09T03:59:59Z'), 24);
  });

  it('New York fall back: 01:30 runs once (EDT); 24 runs', () => {
    assert.deepEqual(slots('30 * * * *', NEW_YORK, '2026-11-01T04:00:00Z', '2026-11-01T08:45:00Z'), [
      '2026-11-01T04:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T07:30:00.000Z',
      '2026-11-01T08:30:00.000Z',
    ]);
    assert.equal(hourlyCount('30 * * * *', NEW_YORK, '2026-11-01T03:59:59Z', '2026-11-02T04:59:59Z'), 24);
  });

  it('a start inside the repeated hour continues after it', () => {
    // 01:15Z is 02:15 CET (second pass); 02:30 already ran at 00:30Z.
    assert.deepEqual(slots('30 * * * *', BERLIN, '2026-10-25T01:15:00Z', '2026-10-25T03:00:00Z'), [
      '2026-10-25T02:30:00.000Z',
    ]);
  });
});

describe('other shapes', () => {
  it('weekly Monday 08:00 keeps 08:00 local across both transitions in both zones', () => {
    const monday = '0 8 * * MON';
    assert.deepEqual(slots(monday, BERLIN, '2026-03-20T00:00:00Z', '2026-04-01T00:00:00Z'), [
      '2026-03-23T07:00:00.000Z',
      '2026-03-30T06:00:00.000Z',
    ]);
    assert.deepEqual(slots(monday, BERLIN, '2026-10-16T00:00:00Z', '2026-10-28T00:00:00Z'), [
      '2026-10-19T06:00:00.000Z',
      '2026-10-26T07:00:00.000Z',
    ]);
    assert.deepEqual(slots(monday, NEW_YORK, '2026-02-27T00:00:00Z', '2026-03-11T00:00:00Z'), [
      '2026-03-02T13:00:00.000Z',
      '2026-03-09T12:00:00.000Z',
    ]);
    assert.deepEqual(slots(monday, NEW_YORK, '2026-10-23T00:00:00Z', '2026-11-04T00:00:00Z'), [
      '2026-10-26T12:00:00.000Z',
      '2026-11-02T13:00:00.000Z',
    ]);
  });

  it('several times inside the gap collapse into one run at its end', () => {
    assert.deepEqual(slots('*/15 * * * *', NEW_YORK, '2026-03-08T06:40:00Z', '2026-03-08T07:20:00Z'), [
      '2026-03-08T06:45:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T07:15:00.000Z',
    ]);
  });

  it('uses the project zone when the schedule has none, and six-field expressions with seconds', () => {
    const found = slotsBetween(
      { cron: '15 0 7 * * *' },
      NEW_YORK,
      new Date('2026-06-01T00:00:00Z'),
      new Date('2026-06-03T00:00:00Z'),
      10,
    );
    assert.deepEqual(
      found.map((slot) => slot.toISOString()),
      ['2026-06-01T11:00:15.000Z', '2026-06-02T11:00:15.000Z'],
    );
  });

  it('from is exclusive, to is inclusive, and limit bounds the result', () => {
    assert.deepEqual(slots('0 * * * *', 'UTC', '2026-01-01T00:00:00Z', '2026-01-01T02:00:00Z'), [
      '2026-01-01T01:00:00.000Z',
      '2026-01-01T02:00:00.000Z',
    ]);
    assert.deepEqual(slots('0 * * * *', 'UTC', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 3).length, 3);
    assert.deepEqual(slots('0 * * * *', 'UTC', '2026-01-01T02:00:00Z', '2026-01-01T01:00:00Z'), []);
  });

  it('nextSlots continues across a transition without repeating an instant', () => {
    const next = nextSlots(
      { cron: '0 * * * *', timezone: BERLIN },
      'UTC',
      new Date('2026-03-29T00:30:00Z'),
      3,
    );
    assert.deepEqual(
      next.map((slot) => slot.toISOString()),
      ['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z', '2026-03-29T03:00:00.000Z'],
    );
  });

  it('an expression with a year field ends', () => {
    assert.deepEqual(
      nextSlots({ cron: '0 0 0 1 1 * 2027' }, 'UTC', new Date('2026-06-01T00:00:00Z'), 5).map((slot) =>
        slot.toISOString(),
      ),
      ['2027-01-01T00:00:00.000Z'],
    );
  });

  it('latestSlots finds the most recent slots after a long gap', () => {
    const compiled = compileSchedule({ cron: '*/10 * * * *' }, 'UTC');
    const found = latestSlots(
      compiled,
      new Date('2025-01-01T00:00:00Z'),
      new Date('2026-01-01T00:05:00Z'),
      3,
    );
    assert.deepEqual(
      found.map((slot) => slot.toISOString()),
      ['2025-12-31T23:40:00.000Z', '2025-12-31T23:50:00.000Z', '2026-01-01T00:00:00.000Z'],
    );
  });
});

describe('invalid input', () => {
  it('an invalid cron expression is PW_SPEC_CRON', () => {
    for (const cron of ['not a cron', '61 * * * *', '0 0 30 2 *']) {
      assert.throws(
        () => nextSlots({ cron }, 'UTC', new Date('2026-01-01T00:00:00Z'), 1),
        (error: unknown) =>
          error instanceof PwError && error.code === 'PW_SPEC_CRON' && error.hint !== undefined,
        cron,
      );
    }
  });

  it('an unknown time zone is PW_SPEC_TIMEZONE, from the schedule or the project', () => {
    assert.throws(
      () =>
        nextSlots(
          { cron: '0 * * * *', timezone: 'Europe/Berlim' },
          'UTC',
          new Date('2026-01-01T00:00:00Z'),
          1,
        ),
      (error: unknown) =>
        error instanceof PwError &&
        error.code === 'PW_SPEC_TIMEZONE' &&
        error.path === 'schedule.timezone' &&
        /Europe\/Berlin/.test(error.hint ?? ''),
    );
    assert.throws(
      () => slotsBetween({ cron: '0 * * * *' }, 'Mars/Olympus', new Date(0), new Date(3_600_000), 1),
      (error: unknown) => error instanceof PwError && error.code === 'PW_SPEC_TIMEZONE',
    );
  });
});
