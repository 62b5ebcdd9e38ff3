import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StabilityTracker } from './stability.js';

describe('StabilityTracker', () => {
  it('waits for a second scan and stable_for after the last change', () => {
    const tracker = new StabilityTracker(5000);
    const file = { size: 10, mtimeMs: 1000 };
    assert.equal(tracker.observe('a.csv', file, 2000), false, 'first sight is never arrival');
    assert.equal(tracker.observe('a.csv', file, 5999), false, 'unchanged but younger than stable_for');
    assert.equal(tracker.observe('a.csv', file, 6000), true);
  });

  it('starts over whenever size or mtime change (a file still being written)', () => {
    const tracker = new StabilityTracker(1000);
    assert.equal(tracker.observe('a.csv', { size: 10, mtimeMs: 0 }, 5000), false);
    assert.equal(tracker.observe('a.csv', { size: 20, mtimeMs: 0 }, 6000), false, 'grew');
    assert.equal(tracker.observe('a.csv', { size: 20, mtimeMs: 5500 }, 6200), false, 'touched');
    assert.equal(tracker.observe('a.csv', { size: 20, mtimeMs: 5500 }, 6400), false);
    assert.equal(tracker.observe('a.csv', { size: 20, mtimeMs: 5500 }, 6500), true);
  });

  it('accepts an old file present at start on the second scan', () => {
    const tracker = new StabilityTracker(5000);
    assert.equal(tracker.observe('old.csv', { size: 1, mtimeMs: 0 }, 100_000), false);
    assert.equal(tracker.observe('old.csv', { size: 1, mtimeMs: 0 }, 101_000), true);
  });

  it('uses its own clock when the mtime lies in the future (a folder whose clock runs ahead)', () => {
    const tracker = new StabilityTracker(1000);
    const file = { size: 5, mtimeMs: 60_000 };
    assert.equal(tracker.observe('f.csv', file, 10_000), false);
    assert.equal(tracker.observe('f.csv', file, 10_500), false);
    assert.equal(tracker.observe('f.csv', file, 11_000), true);
  });

  it('forgets files that left the folder', () => {
    const tracker = new StabilityTracker(0);
    tracker.observe('gone.csv', { size: 1, mtimeMs: 0 }, 10);
    tracker.retainOnly(new Set());
    assert.equal(tracker.observe('gone.csv', { size: 1, mtimeMs: 0 }, 20), false, 'seen afresh');
  });

  it('says when the earliest pending file turns stable, so the watcher can scan then', () => {
    const tracker = new StabilityTracker(1000);
    assert.equal(tracker.nextDueMs(), undefined, 'nothing pending');
    tracker.observe('late.csv', { size: 5, mtimeMs: 5_000 }, 5_100);
    tracker.observe('early.csv', { size: 5, mtimeMs: 4_800 }, 5_100);
    assert.equal(tracker.nextDueMs(), 5_800, 'early.csv: its mtime plus stable_for');
    assert.equal(tracker.observe('early.csv', { size: 5, mtimeMs: 4_800 }, 5_800), true, 'stable when due');
    tracker.forget('early.csv');
    assert.equal(tracker.nextDueMs(), 6_000);
    tracker.observe('old.csv', { size: 1, mtimeMs: 0 }, 5_200);
    assert.equal(tracker.nextDueMs(), 5_201, 'an old file: right after the scan that first saw it');
    tracker.observe('ahead.csv', { size: 1, mtimeMs: 90_000 }, 5_300);
    tracker.forget('old.csv');
    assert.equal(tracker.nextDueMs(), 6_000, 'a future mtime counts from the first sighting (6 300)');
  });
});
