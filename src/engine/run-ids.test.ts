/** Run ids: their readable format, their time order and their uniqueness. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newRunId } from './run-ids.js';

const FORMAT = /^\d{8}-\d{6}-[0-9a-z]{6}$/;

describe('newRunId', () => {
  it('is the UTC date and time to the second, then six lower-case letters or digits', () => {
    const id = newRunId(new Date('2026-11-23T03:45:12.789Z'));
    assert.match(id, FORMAT);
    assert.equal(id.slice(0, 16), '20261123-034512-');
  });

  it('uses the current time by default', () => {
    const before = new Date();
    const id = newRunId();
    assert.match(id, FORMAT);
    const stamp = id.slice(0, 15);
    const asIso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
    const at = Date.parse(asIso);
    assert.ok(at >= Math.floor(before.getTime() / 1000) * 1000 && at <= Date.now(), `${id} is not now`);
  });

  it('sorts as text in creation order for ids made at different seconds', () => {
    const instants = [
      '1999-12-31T23:59:59.999Z',
      '2000-01-01T00:00:00.000Z',
      '2026-01-09T09:59:59.000Z',
      '2026-01-09T10:00:00.000Z',
      '2026-01-10T00:00:01.000Z',
      '2026-11-23T03:45:12.000Z',
      '2026-11-23T03:45:13.000Z',
    ].map((text) => new Date(text));
    const ids = instants.map((at) => newRunId(at));
    assert.deepEqual([...ids].sort(), ids);
    // The same instants made in reverse still sort back into time order.
    const reversed = [...instants].reverse().map((at) => newRunId(at));
    assert.deepEqual(
      [...reversed].sort().map((id) => id.slice(0, 15)),
      ids.map((id) => id.slice(0, 15)),
    );
  });

  it('never repeats over 10,000 ids made in the same second', () => {
    const now = new Date('2026-11-23T03:45:12.000Z');
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i += 1) ids.add(newRunId(now));
    assert.equal(ids.size, 10_000);
    for (const id of ids) assert.match(id, FORMAT);
  });

  it('uses every character of the alphabet in the random part', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i += 1) for (const char of newRunId().slice(16)) seen.add(char);
    assert.equal(seen.size, 36);
  });
});
