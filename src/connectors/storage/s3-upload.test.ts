/**
 * Tests for the checksums of S3 uploads and downloads: the digest stream's part MD5s and multipart
 * ETag against an independent computation, which check a download gets, the ETag comparisons, the
 * mapping of a store's digest refusals, a file that shrinks or needs too many parts, and that an
 * upload reads its file once (the bytes this process read, with s3rver in a child process).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { asPwError as pw } from '../../testing/assertions.js';
import { DigestStream, multipartEtagOf } from './digest-stream.js';
import { checkMultipartEtag, checkPartEtag, MAX_PARTS, readExactly } from './s3-upload.js';
import { downloadCheck, S3ObjectStore, storageError } from './s3-store.js';
import { S3RVER_KEY, S3RVER_SECRET, startS3ServerProcess, type TestS3Server } from './test-s3-server.js';
import type { S3Settings } from './config.js';

const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();
const hex = (data: Buffer, algorithm: 'md5' | 'sha256'): string =>
  createHash(algorithm).update(data).digest('hex');

/** Runs `data`, cut into chunks of random sizes up to `maxChunk`, through a DigestStream. */
async function digest(data: Buffer, partSize: number, maxChunk: number): Promise<DigestStream> {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length;) {
    const size = 1 + Math.floor(Math.random() * maxChunk);
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  const stream = new DigestStream({ sha256: true, md5: true, partSize });
  let passed = 0;
  await pipeline(
    Readable.from(chunks),
    stream,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        passed += chunk.length;
        callback();
      },
    }),
  );
  assert.equal(passed, data.length, 'every byte passes through unchanged in number');
  return stream;
}

/** What S3 answers for `data` uploaded in parts of `partSize`, computed slice by slice. */
function expectedEtag(data: Buffer, partSize: number): string {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += partSize) {
    parts.push(md5(data.subarray(offset, offset + partSize)));
  }
  return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
}

describe('DigestStream', () => {
  it('hashes parts across chunk boundaries like a slice-by-slice computation', async () => {
    for (const [size, partSize, maxChunk] of [
      [10_017, 1000, 700],
      [10_000, 1000, 2500],
      [999, 1000, 64],
      [3 * 4096, 4096, 4096],
    ] as const) {
      const data = randomBytes(size);
      const stream = await digest(data, partSize, maxChunk);
      assert.equal(stream.bytes, size);
      assert.equal(stream.parts, Math.ceil(size / partSize));
      assert.equal(stream.multipartEtag, expectedEtag(data, partSize), `${size} in parts of ${partSize}`);
      assert.equal(stream.sha256, hex(data, 'sha256'));
      assert.equal(stream.md5, hex(data, 'md5'));
    }
  });

  it('has no digests before its input ended', () => {
    const stream = new DigestStream({ sha256: true, partSize: 10 });
    assert.throws(() => stream.sha256);
    assert.throws(() => stream.multipartEtag);
  });
});

describe('download checks', () => {
  const sha = hex(Buffer.from('x'), 'sha256');
  const plain = hex(Buffer.from('x'), 'md5');
  const multipart = `${plain}-3`;

  it('prefers the stored SHA-256, then an MD5 ETag, then a multipart ETag with a stored part size', () => {
    assert.deepEqual(downloadCheck({ sha256: sha.toUpperCase() }, multipart), {
      verified: 'sha256',
      expected: sha,
    });
    assert.deepEqual(downloadCheck({}, plain.toUpperCase()), { verified: 'md5', expected: plain });
    assert.deepEqual(downloadCheck({ 'part-size': '5242880' }, multipart), {
      verified: 'multipart-md5',
      expected: multipart,
      partSize: 5242880,
    });
  });

  it('verifies nothing it cannot predict', () => {
    assert.deepEqual(downloadCheck({}, multipart), { verified: 'none' });
    assert.deepEqual(downloadCheck({ 'part-size': 'five' }, multipart), { verified: 'none' });
    assert.deepEqual(downloadCheck({ 'part-size': '0' }, multipart), { verified: 'none' });
    assert.deepEqual(downloadCheck({ sha256: 'not-a-digest' }, undefined), { verified: 'none' });
    assert.deepEqual(downloadCheck({}, plain, false), { verified: 'none' });
    assert.deepEqual(downloadCheck({ 'part-size': '5242880' }, multipart, false), { verified: 'none' });
    assert.deepEqual(downloadCheck({ sha256: sha }, plain, false), { verified: 'sha256', expected: sha });
  });
});

describe('upload ETag checks', () => {
  const data = Buffer.from('the bytes of one part');
  const action = "Uploading 'k' to s3://b/";

  it('accepts the MD5 of the bytes sent, quoted or not', () => {
    assert.equal(checkPartEtag({ ETag: `"${hex(data, 'md5')}"` }, md5(data), { action }), true);
    assert.equal(
      checkPartEtag({ ETag: hex(data, 'md5').toUpperCase() }, md5(data), { action, part: 2 }),
      true,
    );
  });

  it('refuses another MD5 with PW_STORAGE_CHECKSUM, naming the part', () => {
    assert.throws(
      () => checkPartEtag({ ETag: `"${hex(Buffer.from('other'), 'md5')}"` }, md5(data), { action, part: 7 }),
      (error) => {
        assert.equal(pw(error).code, 'PW_STORAGE_CHECKSUM');
        assert.equal(pw(error).kind, 'operational');
        assert.match(pw(error).message, /part 7/);
        return true;
      },
    );
  });

  it('reports an ETag that is no MD5 (another form, SSE-KMS, SSE-C) as not comparable', () => {
    const other = `"${hex(Buffer.from('other'), 'md5')}"`;
    assert.equal(checkPartEtag({ ETag: '"not-an-md5"' }, md5(data), { action }), false);
    assert.equal(
      checkPartEtag({ ETag: other, ServerSideEncryption: 'aws:kms' }, md5(data), { action }),
      false,
    );
    assert.equal(
      checkPartEtag({ ETag: other, SSECustomerAlgorithm: 'AES256' }, md5(data), { action }),
      false,
    );
    // SSE-S3 (AES256) keeps MD5 ETags: compared.
    assert.throws(() =>
      checkPartEtag({ ETag: other, ServerSideEncryption: 'AES256' }, md5(data), { action }),
    );
  });

  it('compares a multipart ETag with the part MD5s, and leaves a whole-object MD5 alone', () => {
    const parts = [md5(Buffer.from('a')), md5(Buffer.from('b'))];
    checkMultipartEtag(`"${multipartEtagOf(parts)}"`, parts, action);
    checkMultipartEtag(`"${hex(Buffer.from('ab'), 'md5')}"`, parts, action);
    assert.throws(
      () =>
        checkMultipartEtag(
          `"${multipartEtagOf([parts[1] ?? md5(data), parts[0] ?? md5(data)])}"`,
          parts,
          action,
        ),
      (error) => pw(error).code === 'PW_STORAGE_CHECKSUM',
    );
  });

  it('maps a store refusing a Content-MD5 or signed SHA-256 to PW_STORAGE_CHECKSUM', () => {
    const settings: S3Settings = {
      type: 's3',
      name: 'r2',
      bucket: 'b',
      region: 'auto',
      endpoint: undefined,
      forcePathStyle: false,
      credentials: undefined,
      prefix: '',
      maxAttempts: 1,
    };
    for (const name of ['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch']) {
      const error = storageError({ name, $metadata: { httpStatusCode: 400 } }, settings, action);
      assert.equal(error.code, 'PW_STORAGE_CHECKSUM', name);
    }
  });
});

describe('reading parts', () => {
  it('a file shorter than planned is PW_INPUT_CHANGED (operational)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pw-read-exactly-'));
    try {
      const file = join(dir, 'short.bin');
      await writeFile(file, randomBytes(100));
      const handle = await open(file, 'r');
      try {
        assert.deepEqual(await readExactly(handle, Buffer.alloc(100), 100, 0, file), await readFile(file));
        await assert.rejects(readExactly(handle, Buffer.alloc(100), 60, 50, file), (error) => {
          assert.equal(pw(error).code, 'PW_INPUT_CHANGED');
          assert.equal(pw(error).kind, 'operational');
          return true;
        });
      } finally {
        await handle.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Bytes this process asked the kernel to read so far (files, sockets, pipes), or undefined. */
function bytesRead(): number | undefined {
  if (!existsSync('/proc/self/io')) return undefined;
  const match = /^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

describe('uploads to s3rver in a child process', () => {
  let server: TestS3Server;
  let store: S3ObjectStore;
  let dir: string;

  before(async () => {
    server = await startS3ServerProcess(['once']);
    store = await S3ObjectStore.open({
      type: 's3',
      name: 'once',
      bucket: 'once',
      prefix: '',
      region: 'auto',
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_SECRET },
      maxAttempts: 3,
    });
    dir = await mkdtemp(join(tmpdir(), 'pw-read-once-'));
  });
  after(async () => {
    store?.close();
    await server?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const options = () => ({
    contentType: 'application/octet-stream',
    partSize: 5 * 1024 * 1024,
    signal: new AbortController().signal,
  });

  it(
    'read the file once, in one PUT and in parts: this process reads about its size, not twice that',
    { skip: bytesRead() === undefined && 'needs /proc/self/io (Linux)' },
    async () => {
      // A first upload loads whatever the SDK loads lazily, so it is not counted below.
      await writeFile(join(dir, 'warm.bin'), randomBytes(1024));
      await store.putFile('warm.bin', join(dir, 'warm.bin'), options());

      for (const size of [3 * 1024 * 1024 + 11, 13 * 1024 * 1024 + 5]) {
        const data = randomBytes(size);
        const file = join(dir, `f-${size}.bin`);
        await writeFile(file, data);
        const before = bytesRead() ?? 0;
        const result = await store.putFile(`f-${size}.bin`, file, options());
        const read = (bytesRead() ?? 0) - before;
        assert.equal(result.bytes, size);
        assert.equal(result.sha256, hex(data, 'sha256'));
        assert.equal(result.parts, Math.ceil(size / options().partSize));
        // The file once, plus the store's small answers; a second read of the file would double it.
        assert.ok(
          read >= size,
          `read ${read} bytes, fewer than the file's ${size}: the counter is not working`,
        );
        assert.ok(read < size * 1.25, `read ${read} bytes for a file of ${size}`);
      }
    },
  );

  it('refuse a file that needs more than 10,000 parts before sending anything', async () => {
    // Sparse: the size counts, no block is written or read.
    const file = join(dir, 'huge.bin');
    await writeFile(file, '');
    await truncate(file, MAX_PARTS * options().partSize + 1);
    await assert.rejects(store.putFile('huge.bin', file, options()), (error) => {
      assert.equal(pw(error).code, 'PW_SPEC_TYPE');
      assert.equal(pw(error).path, 'with.part_size_mb');
      return true;
    });
    assert.equal(await store.head('huge.bin', new AbortController().signal), undefined);
  });
});
