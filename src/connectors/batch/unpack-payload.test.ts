/**
 * The streaming payload reader on real temp folders: a payload built by payloadChunks comes back
 * byte for byte under timestamped names; every kind of bad input is refused with PW_BATCH_INVALID
 * naming the file and the problem, and leaves nothing in the storage folder.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { payloadChunks } from './build-payload.js';
import { DEFAULT_ALLOWED_TYPES, contentTypeFor } from './file-names.js';
import { unpackPayload, type UnpackOptions } from './unpack-payload.js';

const scratch = mkdtempSync(join(tmpdir(), 'pw-batch-unpack-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(40, 7),
]);
let counter = 0;

function options(overrides: Partial<UnpackOptions> = {}): UnpackOptions {
  counter += 1;
  return {
    storageDir: join(scratch, `storage-${counter}`),
    batchId: `b${counter}`,
    allowedTypes: DEFAULT_ALLOWED_TYPES,
    maxFiles: 100,
    maxFileBytes: 1024 * 1024,
    now: new Date('2026-11-23T09:30:05Z'),
    source: 'test',
    ...overrides,
  };
}

async function payloadText(files: { name: string; data: Buffer }[]): Promise<string> {
  const chunks: Buffer[] = [];
  const described = files.map((file) => ({ ...file, bytes: file.data.length }));
  for await (const chunk of payloadChunks(described, {
    sourceFolder: '/data',
    batchName: 'n',
    now: new Date(),
  }))
    chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function good(): Record<string, unknown> {
  const json = Buffer.from('{"a": 1}');
  return {
    batch_metadata: {
      timestamp: '2024-01-15T10:30:00Z',
      source_folder: '/x',
      total_files: 1,
      files: [{ filename: 'data.json', size: json.length, extension: '.json' }],
    },
    files: {
      'data.json': {
        filename: 'data.json',
        size: json.length,
        extension: '.json',
        content_type: 'application/json',
        content: json.toString('base64'),
      },
    },
  };
}

/** A payload with one file called `name` holding `data`, declared consistently. */
function withFile(name: string, data: Buffer, contentType = contentTypeFor(name)): string {
  return JSON.stringify({
    batch_metadata: { total_files: 1, files: [{ filename: name, size: data.length }] },
    files: {
      [name]: {
        filename: name,
        size: data.length,
        content_type: contentType,
        content: data.toString('base64'),
      },
    },
  });
}

function chunked(text: string, size = 7): Readable {
  const pieces: Buffer[] = [];
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) pieces.push(bytes.subarray(at, at + size));
  return Readable.from(pieces);
}

async function refused(text: string, pattern: RegExp, overrides: Partial<UnpackOptions> = {}) {
  const opts = options(overrides);
  await assert.rejects(unpackPayload(chunked(text), opts), (error: unknown) => {
    assert.ok(error instanceof PwError, String(error));
    assert.equal(error.code, 'PW_BATCH_INVALID');
    assert.match(error.message, pattern);
    return true;
  });
  const left = readdirSync(opts.storageDir).filter((name) => name !== '.incoming');
  assert.deepEqual(left, [], 'nothing stored outside .incoming');
  assert.deepEqual(readdirSync(join(opts.storageDir, '.incoming')), [], 'temporaries removed');
}

describe('unpackPayload', () => {
  test('a built payload comes back byte for byte under timestamped names, with a summary', async () => {
    const files = [
      { name: 'data.json', data: Buffer.from('{"x": [1, 2, 3]}') },
      { name: 'plot.png', data: PNG },
      { name: 'notes.txt', data: Buffer.from('héllo\n'.repeat(1000)) },
      { name: 'one.csv', data: Buffer.from('a') },
      { name: 'empty.csv', data: Buffer.alloc(0) },
    ];
    const opts = options();
    const result = await unpackPayload(chunked(await payloadText(files), 5), opts);
    assert.equal(result.files.length, files.length);
    for (const file of files) {
      const stored = result.files.find((entry) => entry.name === file.name);
      assert.ok(stored);
      assert.equal(stored.storedAs, `20261123-093005_${file.name}`);
      assert.deepEqual(readFileSync(stored.path), file.data);
    }
    const summary = JSON.parse(readFileSync(result.summaryPath, 'utf8')) as { total_files: number };
    assert.equal(summary.total_files, files.length);
    assert.equal(result.metadata.batch_name, 'n');

    // The same names at the same second again: stored beside, never over the first ones.
    const again = await unpackPayload(chunked(await payloadText(files.slice(0, 1))), {
      ...opts,
      batchId: 'b-again',
    });
    assert.equal(again.files[0]?.storedAs, '20261123-093005-2_data.json');
    assert.deepEqual(readFileSync(join(opts.storageDir, '20261123-093005_data.json')), files[0]?.data);
  });

  test('the seed format as written by the Python sender is accepted', async () => {
    const result = await unpackPayload(chunked(JSON.stringify(good(), null, 2)), options());
    assert.deepEqual(readFileSync(result.files[0]?.path ?? ''), Buffer.from('{"a": 1}'));
  });

  test('invalid base64 is refused', async () => {
    const payload = good() as { files: Record<string, { content: string }> };
    (payload.files['data.json'] as { content: string }).content = 'eyJhIjog*TF9';
    await refused(
      JSON.stringify(payload),
      /files\["data.json"\]\.content is not valid base64: the character "\*"/,
    );
    (payload.files['data.json'] as { content: string }).content = 'eyJhIjogMX0';
    await refused(JSON.stringify(payload), /not a multiple of 4/);
    (payload.files['data.json'] as { content: string }).content = 'eQ==eQ==';
    await refused(JSON.stringify(payload), /after the = padding/);
  });

  test('a size or count that disagrees with the metadata is refused', async () => {
    const sized = good() as { files: Record<string, { size: number }> };
    (sized.files['data.json'] as { size: number }).size = 9;
    await refused(JSON.stringify(sized), /files\["data.json"\]\.size says 9 bytes, the content decodes to 8/);
    const counted = good() as { batch_metadata: { total_files: number } };
    counted.batch_metadata.total_files = 2;
    await refused(JSON.stringify(counted), /total_files says 2, the payload holds 1/);
    const listed = good() as { batch_metadata: { files: { size: number }[] } };
    (listed.batch_metadata.files[0] as { size: number }).size = 100;
    await refused(JSON.stringify(listed), /batch_metadata.files\[0\]\.size says 100 bytes/);
  });

  test('dangerous names are refused', async () => {
    const data = Buffer.from('x');
    await refused(withFile('../escape.txt', data), /files\["..\/escape.txt"\]: the name contains '..'/);
    await refused(withFile('sub/inner.txt', data), /folder separator/);
    await refused(withFile('/etc/passwd.txt', data), /absolute path/);
    await refused(withFile('C:\\x.txt', data), /absolute path/);
    await refused(withFile('a\u0000b.txt', data), /NUL byte/);
    await refused(withFile('CON.txt', data), /reserved device name/);
    await refused(withFile('nul', data), /reserved device name/);
    await refused(withFile('x'.repeat(300) + '.txt', data), /longer than 200 bytes/);
  });

  test('a disallowed extension is refused', async () => {
    await refused(withFile('run.sh', Buffer.from('#!/bin/sh')), /extension '.sh' is not allowed/);
    await refused(withFile('data.csv', Buffer.from('a,b')), /extension '.csv' is not allowed/, {
      allowedTypes: ['json'],
    });
  });

  test('a content type that lies about the bytes is refused', async () => {
    await refused(
      withFile('photo.png', Buffer.from('not an image at all')),
      /photo.png"\]: the bytes are not image\/png/,
    );
    await refused(withFile('photo.jpg', PNG), /look like image\/png/);
    await refused(withFile('data.json', PNG), /look like image\/png, not application\/json/);
    await refused(withFile('data.json', Buffer.from('<xml/>')), /do not start a JSON value/);
    await refused(
      withFile('data.json', Buffer.from('{}'), 'image/png'),
      /content_type 'image\/png' does not fit/,
    );
  });

  test('a file over the per-file limit and too many files are refused', async () => {
    await refused(
      withFile('big.txt', Buffer.alloc(2000, 97)),
      /big.txt"\] is larger than the limit of 1000 bytes/,
      {
        maxFileBytes: 1000,
      },
    );
    const many = await payloadText([1, 2, 3].map((n) => ({ name: `f${n}.txt`, data: Buffer.from('x') })));
    await refused(many, /more than 2 files/, { maxFiles: 2 });
  });

  test('malformed JSON, a missing part and duplicate keys are refused', async () => {
    await refused('{"batch_metadata": {', /not valid JSON/);
    await refused(JSON.stringify({ batch_metadata: {} }), /`files` is missing/);
    await refused('{"files": {}, "files": {}}', /appears twice/);
    await refused('['.repeat(40) + ']'.repeat(40), /nests deeper than 16/);
  });
});
