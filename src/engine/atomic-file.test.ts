import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTemporaries, writeAtomically } from './atomic-file.js';

describe('atomic files', () => {
  it('removes temporaries a killed writer of the same target left, and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pw-atomic-'));
    const target = join(dir, 'hourly.parquet');
    const leftovers = ['.hourly.parquet.0a1b2c3d.tmp', '.hourly.parquet.ffffffff.tmp'];
    const unrelated = [
      '.other.parquet.0a1b2c3d.tmp',
      '.hourly.parquet.notours.tmp',
      'hourly.parquet.0a1b2c3d.tmp',
      'keep.csv',
    ];
    for (const name of [...leftovers, ...unrelated]) await writeFile(join(dir, name), 'x');

    const removed = await removeStaleTemporaries(target);

    assert.deepEqual(removed.sort(), leftovers.sort());
    assert.deepEqual((await readdir(dir)).sort(), unrelated.sort());
  });

  it('writes through a temporary name and leaves the old file when the write fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pw-atomic-'));
    const target = join(dir, 'out.csv');
    await writeAtomically(target, (temp) => writeFile(temp, 'first\n'), { mode: 0o640 });
    await assert.rejects(
      writeAtomically(target, async (temp) => {
        await writeFile(temp, 'half');
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.equal(await readFile(target, 'utf8'), 'first\n');
    assert.deepEqual(await readdir(dir), ['out.csv']);
  });
});
