/**
 * Uploading a local file to S3, reading it once. Each part (the whole file when it is no larger
 * than the part size) is read straight into a buffer of its own, hashed there (its MD5, and the
 * file's running SHA-256, in file order) and sent from that buffer, which stays untouched until the
 * request settled, so the SDK's retries send the same bytes again. Buffers are reused: at most
 * `queueSize` parts are in flight, plus the one being read.
 *
 * What is verified:
 * - every request carries the Content-MD5 of its bytes, so a server that checks it (AWS, R2, MinIO)
 *   refuses corrupted bytes (BadDigest); the ETag it answers, the MD5 of what it stored, is compared
 *   with the same MD5, which also catches a server that does not check (s3rver);
 * - ETags of objects encrypted with SSE-KMS or SSE-C are no MD5s and are not compared;
 * - the SDK signs each request with the SHA-256 of its body (SigV4), which AWS and MinIO verify;
 * - after CompleteMultipartUpload, an ETag of the form md5(part MD5s)-N must be the one the parts
 *   give. A server that answers the MD5 of the whole object instead (s3rver) is trusted with the
 *   order of the parts whose ETags were each checked and named in the completion.
 * - A single-part object gets the file's SHA-256 as metadata (x-amz-meta-sha256). A multipart one
 *   gets its part size (x-amz-meta-part-size), from which a download verifies the multipart ETag:
 *   its SHA-256 is known only after the last part was read, and S3 fixes an object's metadata when
 *   its multipart upload is created.
 *
 * A failed multipart upload is aborted (best effort): its parts never become an object.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { PwError } from '../../core/errors/pw-error.js';
import { multipartEtagOf } from './digest-stream.js';
import type { PutOptions, PutResult } from './object-store.js';

/** S3 allows at most this many parts in one multipart upload. */
export const MAX_PARTS = 10_000;

const MD5_ETAG = /^[0-9a-f]{32}$/i;
const MULTIPART_ETAG = /^[0-9a-f]{32}-\d+$/i;

export function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '');
}

export interface UploadTarget {
  sdk: typeof S3Sdk;
  client: S3Client;
  bucket: string;
  /** The full key (with the connection's prefix). */
  key: string;
  /** For messages: `Uploading 'key' to s3://…`. */
  action: string;
  /** Parts in flight at once. */
  queueSize: number;
}

/** What an answer says about its object's ETag. */
export interface EtagAnswer {
  ETag?: string | undefined;
  ServerSideEncryption?: string | undefined;
  SSECustomerAlgorithm?: string | undefined;
}

/**
 * Whether the ETags of an answer are MD5s of the bytes: not for objects encrypted with SSE-KMS or a
 * customer key (SSE-C), whose ETags look alike but are something else. The server that answers so
 * is AWS, which checks the Content-MD5 itself.
 */
export function etagIsMd5(answer: EtagAnswer): boolean {
  return (
    answer.SSECustomerAlgorithm === undefined && !(answer.ServerSideEncryption ?? '').startsWith('aws:kms')
  );
}

/**
 * Compares the ETag a store answered for a part (or a single PUT) with the MD5 of the bytes sent.
 * Returns false when the ETag is no MD5 (see etagIsMd5), so a multipart ETag cannot be predicted
 * either; the server still checked the Content-MD5.
 */
export function checkPartEtag(
  answer: EtagAnswer,
  md5: Buffer,
  what: { action: string; part?: number },
): boolean {
  const reported = unquote(answer.ETag);
  if (reported === undefined || !MD5_ETAG.test(reported) || !etagIsMd5(answer)) return false;
  const expected = md5.toString('hex');
  if (reported.toLowerCase() !== expected) {
    throw new PwError(
      'PW_STORAGE_CHECKSUM',
      what.part === undefined
        ? `${what.action}: the store reports MD5 ${reported}, the file has ${expected}`
        : `${what.action}: the store reports MD5 ${reported} for part ${what.part}, the file's bytes of that part have ${expected}`,
      { hint: 'The bytes were changed on the way to the store. A retries policy tries again.' },
    );
  }
  return true;
}

/** Checks the ETag of a completed multipart upload against the parts' MD5s (see the module comment). */
export function checkMultipartEtag(
  etag: string | undefined,
  partMd5s: readonly Buffer[],
  action: string,
): void {
  const reported = unquote(etag);
  if (reported === undefined || !MULTIPART_ETAG.test(reported)) return;
  const expected = multipartEtagOf(partMd5s);
  if (reported.toLowerCase() !== expected) {
    throw new PwError(
      'PW_STORAGE_CHECKSUM',
      `${action}: the store reports ETag ${reported}, the parts sent give ${expected}`,
      { hint: 'The store assembled other bytes than were sent. A retries policy tries again.' },
    );
  }
}

/** Reads exactly `length` bytes at `position` into `buffer`; a shorter file means it changed. */
export async function readExactly(
  handle: FileHandle,
  buffer: Buffer,
  length: number,
  position: number,
  file: string,
): Promise<Buffer> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new PwError('PW_INPUT_CHANGED', `${file} became shorter while it was being uploaded`, {
        hint: 'Upload a file that is no longer being written; the step can be run again.',
      });
    }
    done += bytesRead;
  }
  return buffer.subarray(0, length);
}

export async function uploadFile(
  target: UploadTarget,
  file: string,
  options: PutOptions,
): Promise<PutResult> {
  const handle = await open(file, 'r');
  try {
    // The size when the upload starts decides between one PUT and parts; later growth is not sent.
    const { size } = await handle.stat();
    if (size <= options.partSize) return await putWhole(target, handle, size, file, options);
    return await putInParts(target, handle, size, file, options);
  } finally {
    await handle.close();
  }
}

async function putWhole(
  target: UploadTarget,
  handle: FileHandle,
  size: number,
  file: string,
  options: PutOptions,
): Promise<PutResult> {
  const body = await readExactly(handle, Buffer.allocUnsafe(size), size, 0, file);
  const md5 = createHash('md5').update(body).digest();
  const sha256 = createHash('sha256').update(body).digest('hex');
  const out = await target.client.send(
    new target.sdk.PutObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      Body: body,
      ContentLength: size,
      ContentType: options.contentType,
      ContentMD5: md5.toString('base64'),
      Metadata: { sha256 },
    }),
    { abortSignal: options.signal },
  );
  checkPartEtag(out, md5, { action: target.action });
  return { bytes: size, etag: unquote(out.ETag), parts: 1, sha256 };
}

async function putInParts(
  target: UploadTarget,
  handle: FileHandle,
  size: number,
  file: string,
  options: PutOptions,
): Promise<PutResult> {
  const count = Math.ceil(size / options.partSize);
  if (count > MAX_PARTS) {
    throw new PwError(
      'PW_SPEC_TYPE',
      `${target.action}: ${size} bytes in parts of ${options.partSize} would be ${count} parts, S3 allows ${MAX_PARTS}`,
      {
        path: 'with.part_size_mb',
        expected: `part_size_mb of at least ${Math.ceil(size / MAX_PARTS / 1024 / 1024)}`,
        found: String(options.partSize / 1024 / 1024),
      },
    );
  }
  const created = await target.client.send(
    new target.sdk.CreateMultipartUploadCommand({
      Bucket: target.bucket,
      Key: target.key,
      ContentType: options.contentType,
      Metadata: { 'part-size': String(options.partSize) },
    }),
    { abortSignal: options.signal },
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined) throw new Error(`${target.action}: the store gave no upload id`);
  try {
    const sent = await sendParts(target, handle, size, file, options, uploadId, count);
    const out = await target.client.send(
      new target.sdk.CompleteMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: sent.etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
      }),
      { abortSignal: options.signal },
    );
    if (sent.md5Etags) checkMultipartEtag(out.ETag, sent.md5s, target.action);
    return { bytes: size, etag: unquote(out.ETag), parts: count, sha256: sent.sha256 };
  } catch (error) {
    // Best effort, and not cut short by a cancelled run: the parts are invisible either way, and
    // stores expire unfinished uploads.
    await target.client
      .send(
        new target.sdk.AbortMultipartUploadCommand({
          Bucket: target.bucket,
          Key: target.key,
          UploadId: uploadId,
        }),
      )
      .catch(() => undefined);
    throw error;
  }
}

/**
 * Reads the parts in file order (hashing each as it is read) and sends up to `queueSize` at once.
 * The first failure stops reading; the parts in flight are waited for before it is thrown.
 */
async function sendParts(
  target: UploadTarget,
  handle: FileHandle,
  size: number,
  file: string,
  options: PutOptions,
  uploadId: string,
  count: number,
): Promise<{ etags: string[]; md5s: Buffer[]; sha256: string; md5Etags: boolean }> {
  const sha256 = createHash('sha256');
  const etags: string[] = [];
  const md5s: Buffer[] = [];
  const free: Buffer[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let md5Etags = true;
  for (let part = 1; part <= count && failure === undefined; part += 1) {
    while (inFlight.size >= target.queueSize) await Promise.race(inFlight);
    if (failure !== undefined) break;
    const offset = (part - 1) * options.partSize;
    const buffer = free.pop() ?? Buffer.allocUnsafe(options.partSize);
    let body: Buffer;
    try {
      body = await readExactly(handle, buffer, Math.min(options.partSize, size - offset), offset, file);
    } catch (error) {
      failure = { error };
      break;
    }
    const md5 = createHash('md5').update(body).digest();
    sha256.update(body);
    md5s.push(md5);
    const sending = target.client
      .send(
        new target.sdk.UploadPartCommand({
          Bucket: target.bucket,
          Key: target.key,
          UploadId: uploadId,
          PartNumber: part,
          Body: body,
          ContentLength: body.length,
          ContentMD5: md5.toString('base64'),
        }),
        { abortSignal: options.signal },
      )
      .then((out) => {
        if (out.ETag === undefined)
          throw new Error(`${target.action}: the store answered part ${part} without an ETag`);
        if (!checkPartEtag(out, md5, { action: target.action, part })) md5Etags = false;
        etags[part - 1] = out.ETag;
      })
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => {
        inFlight.delete(sending);
        free.push(buffer);
      });
    inFlight.add(sending);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure.error;
  return { etags, md5s, sha256: sha256.digest('hex'), md5Etags };
}
