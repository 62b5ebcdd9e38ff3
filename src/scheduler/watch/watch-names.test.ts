import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { datedFolder, freeName, freePath, isIgnoredName } from './watch-names.js';

describe('watched folder names', () => {
  const scratch = mkdtemp(join(tmpdir(), 'pw-watch-names-'));
  after(async () => rm(await scratch, { recursive: true, force: true }));

  it('ignores dotfiles, temporary names and error reports', () => {
    for (const name of [
      '.hidden.csv',
      'a.csv.tmp',
      'a.csv.part',
      'a.crdownload',
      'a.csv~',
      '~$book.xlsx',
      'x.csv.error.txt',
    ])
      assert.equal(isIgnoredName(name), true, name);
    for (const name of ['a.csv', 'report.xlsx', 'tmp.csv', 'noext'])
      assert.equal(isIgnoredName(name), false, name);
  });

  it('adds a counter before the extension until the name is free', async () => {
    const taken = new Set(['a.csv', 'a-1.csv', 'noext']);
    assert.equal(await freeName('b.csv', async (name) => taken.has(name)), 'b.csv');
    assert.equal(await freeName('a.csv', async (name) => taken.has(name)), 'a-2.csv');
    assert.equal(await freeName('noext', async (name) => taken.has(name)), 'noext-1');
    assert.equal(await freeName('.env', async (name) => name === '.env'), '.env-1');
  });

  it('never picks a path that exists in the folder', async () => {
    const dir = await scratch;
    await writeFile(join(dir, 'x.csv'), '1');
    assert.equal(await freePath(dir, 'x.csv'), join(dir, 'x-1.csv'));
    assert.equal(await freePath(dir, 'y.csv'), join(dir, 'y.csv'));
  });

  it('dates the archive folder by the calendar of the project time zone', () => {
    const at = new Date('2026-11-23T23:30:00Z');
    assert.equal(datedFolder('/w/processed', at, 'UTC'), '/w/processed/2026/11/23');
    assert.equal(datedFolder('/w/processed', at, 'Europe/Berlin'), '/w/processed/2026/11/24');
  });
});
