import { test } from 'node:test';
import assert from 'node:assert/strict';
import { didYouMean, didYouMeanHint, editDistance, listQuoted } from './hints.js';

const TYPES = ['check', 'files.read', 'files.write', 'http.get', 'sql'];

test('edit distance counts insertions, deletions, substitutions and transpositions', () => {
  assert.equal(editDistance('', ''), 0);
  assert.equal(editDistance('abc', ''), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('file.read', 'files.read'), 1);
  assert.equal(editDistance('files.raed', 'files.read'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('sql', 'sql'), 0);
});

test('suggests the closest candidate', () => {
  assert.equal(didYouMean('file.read', TYPES), 'files.read');
  assert.equal(didYouMean('files.wirte', TYPES), 'files.write');
  assert.equal(didYouMean('sq', TYPES), 'sql');
  assert.equal(didYouMean('shedule', ['id', 'schedule', 'steps']), 'schedule');
  assert.equal(didYouMean('need', ['needs', 'uses', 'with']), 'needs');
});

test('ignores case', () => {
  assert.equal(didYouMean('Files.Read', TYPES), 'files.read');
  assert.equal(didYouMean('SQL', TYPES), 'sql');
});

test('suggests nothing when nothing is close, and keeps short words strict', () => {
  assert.equal(didYouMean('postgres.query', TYPES), undefined);
  assert.equal(didYouMean('x', ['id', 'if']), undefined);
  assert.equal(didYouMean('ab', ['id']), undefined);
  assert.equal(didYouMean('anything', []), undefined);
});

test('suggests a unique candidate whose last segment is the word', () => {
  assert.equal(didYouMean('read', TYPES), 'files.read');
  assert.equal(didYouMean('Berlin', ['Europe/Berlin', 'Europe/Paris']), 'Europe/Berlin');
  assert.equal(didYouMean('read', ['files.read', 'sftp.read']), undefined);
});

test('breaks ties by candidate order', () => {
  assert.equal(didYouMean('ab', ['ac', 'ad']), 'ac');
  assert.equal(didYouMean('ab', ['ad', 'ac']), 'ad');
});

test('formats hints and lists', () => {
  assert.equal(didYouMeanHint('file.read', TYPES), "did you mean 'files.read'?");
  assert.equal(didYouMeanHint('zzz', TYPES), undefined);
  assert.equal(listQuoted(['a']), "'a'");
  assert.equal(listQuoted(['a', 'b', 'c']), "'a', 'b' or 'c'");
  assert.equal(listQuoted([1, 'two'], 'and'), "1 and 'two'");
});
