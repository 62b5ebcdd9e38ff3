/**
 * Tests for the central-directory zip reader (yauzl plus a CRC-32 check): archives built byte by byte in the layouts workbooks
 * come in (deflated or stored, sizes in data descriptors, Zip64), and damage that must fail rather than
 * yield wrong bytes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipBytes, type ZipLayout, type ZipPart } from '../../testing/zip-fixtures.js';
import { ZipArchive } from './zip-archive.js';

let folder: string;
let count = 0;

async function archiveFile(bytes: Buffer): Promise<string> {
  count += 1;
  const path = join(folder, `archive-${count}.zip`);
  await writeFile(path, bytes);
  return path;
}

async function readAll(archive: ZipArchive, name: string): Promise<string> {
  const entry = archive.entry(name);
  assert.ok(entry, `${name} is listed`);
  const chunks: Buffer[] = [];
  for await (const chunk of archive.chunks(entry)) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const PARTS: ZipPart[] = [
  { name: 'xl/worksheets/sheet1.xml', data: '<worksheet>' + 'x'.repeat(200_000) + '</worksheet>' },
  { name: 'empty.txt', data: '' },
  { name: 'xl/sharedStrings.xml', data: '<sst><si><t>Müller</t></si></sst>' },
];

before(async () => {
  folder = await mkdtemp(join(tmpdir(), 'pw-zip-'));
});
after(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('ZipArchive', () => {
  const layouts: [string, ZipLayout][] = [
    ['deflated', {}],
    ['stored', { deflate: false }],
    ['with data descriptors', { dataDescriptors: true }],
    ['in Zip64 form with data descriptors', { zip64: true, dataDescriptors: true }],
  ];
  for (const [label, layout] of layouts) {
    it(`lists the parts in stored order and reads each by name: ${label}`, async () => {
      const archive = await ZipArchive.open(await archiveFile(zipBytes(PARTS, layout)));
      try {
        assert.deepEqual(
          archive.entries.map((entry) => entry.name),
          PARTS.map((part) => part.name),
        );
        // Read out of stored order, as the workbook reader does.
        assert.equal(await readAll(archive, 'xl/sharedStrings.xml'), PARTS[2]?.data);
        assert.equal(await readAll(archive, 'empty.txt'), '');
        assert.equal(await readAll(archive, 'xl/worksheets/sheet1.xml'), PARTS[0]?.data);
        assert.equal(archive.entry('xl/styles.xml'), undefined);
      } finally {
        await archive.close();
      }
    });
  }

  it('stops reading a part early and goes on with another', async () => {
    const archive = await ZipArchive.open(await archiveFile(zipBytes(PARTS)));
    const entry = archive.entry('xl/worksheets/sheet1.xml');
    assert.ok(entry);
    let first = '';
    for await (const chunk of archive.chunks(entry)) {
      first = chunk.subarray(0, 11).toString('utf8');
      break;
    }
    assert.equal(first, '<worksheet>');
    // The part's stream is gone, the archive is still open for the next part.
    assert.equal(await readAll(archive, 'xl/sharedStrings.xml'), PARTS[2]?.data);
    await archive.close();
  });

  it('fails on a damaged part instead of handing out wrong bytes', async () => {
    const bytes = zipBytes([{ name: 'a.xml', data: '<a>some text</a>' }], { deflate: false });
    const at = bytes.indexOf('some text');
    bytes[at] = 'S'.charCodeAt(0);
    const archive = await ZipArchive.open(await archiveFile(bytes));
    try {
      await assert.rejects(readAll(archive, 'a.xml'), {
        message: 'the part a.xml is damaged (its checksum or length does not match)',
      });
    } finally {
      await archive.close();
    }
  });

  it('refuses what is not a zip archive, a truncated one and unknown compression', async () => {
    await assert.rejects(ZipArchive.open(await archiveFile(Buffer.from('id,name\n1,a\n'))), {
      message: 'the file is not a zip archive (or it is truncated)',
    });
    await assert.rejects(ZipArchive.open(await archiveFile(Buffer.alloc(0))), {
      message: 'the file is not a zip archive (or it is truncated)',
    });

    const whole = zipBytes(PARTS);
    const cut = Buffer.concat([whole.subarray(0, 100), whole.subarray(whole.length - 22)]);
    await assert.rejects(ZipArchive.open(await archiveFile(cut)), {
      message: /^the zip archive is damaged: /,
    });

    const odd = zipBytes([{ name: 'a.xml', data: '<a/>' }], { deflate: false });
    odd.writeUInt16LE(12, odd.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 10);
    const archive = await ZipArchive.open(await archiveFile(odd));
    try {
      await assert.rejects(readAll(archive, 'a.xml'), {
        message: 'the part a.xml uses compression method 12, which is not supported',
      });
    } finally {
      await archive.close();
    }
  });
});
