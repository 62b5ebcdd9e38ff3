import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from './duration.js';

test('parses single and combined units', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('30m'), 1_800_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('8d'), 691_200_000);
  assert.equal(parseDuration('1w'), 604_800_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1m30s500ms'), 90_500);
});

test('accepts decimals and surrounding spaces, rounding to whole milliseconds', () => {
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('0.5s'), 500);
  assert.equal(parseDuration('1.5ms'), 2);
  assert.equal(parseDuration('  10s '), 10_000);
});

test('rejects bare numbers, words, spaces inside, zero and junk', () => {
  for (const text of [
    '30',
    '5 minutes',
    '1h 30m',
    '10sec',
    '10S',
    '',
    '   ',
    '0s',
    '0ms',
    '-5s',
    '.5s',
    '1e3s',
    '10s!',
    's',
  ]) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

test('rejects values too large to represent', () => {
  assert.equal(parseDuration(`${'9'.repeat(400)}s`), undefined);
});

test('is not confused by state left from an earlier call', () => {
  assert.equal(parseDuration('nonsense'), undefined);
  assert.equal(parseDuration('5s'), 5_000);
  assert.equal(parseDuration('5s'), 5_000);
});

test('formats each range with the right unit', () => {
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(850), '850ms');
  assert.equal(formatDuration(4_250), '4.25s');
  assert.equal(formatDuration(12_500), '12.5s');
  assert.equal(formatDuration(187_000), '3m07s');
  assert.equal(formatDuration(7_500_000), '2h05m');
  assert.equal(formatDuration(3 * 86_400_000), '72h00m');
});

test('chooses the unit after rounding, so no value reads as 60 of a unit', () => {
  assert.equal(formatDuration(999.6), '1.00s');
  assert.equal(formatDuration(9_996), '10.0s');
  assert.equal(formatDuration(59_999), '1m00s');
  assert.equal(formatDuration(119_700), '2m00s');
  assert.equal(formatDuration(3_599_999), '1h00m');
});

test('formats negative durations with a sign', () => {
  assert.equal(formatDuration(-1_500), '-1.50s');
});
