/**
 * Object storage behind one small interface: an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO)
 * or a local folder with the same key layout. Keys are relative to the connection's `prefix` (S3) or
 * folder (local); `/` separates "folders". Every write becomes visible only when complete: a local
 * file is renamed into place, an S3 object exists only after its PUT or multipart upload completes.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PwError } from '../../core/errors/pw-error.js';

export interface ObjectInfo {
  /** The key relative to the store's root (without the connection's prefix). */
  key: string;
  size: number;
  lastModified: Date;
  /** The S3 ETag without quotes (undefined for the local store). */
  etag: string | undefined;
}

export interface PutOptions {
  contentType: string;
  /** Files larger than this are uploaded in parts of this size (S3). */
  partSize: number;
  signal: AbortSignal;
}

export interface PutResult {
  bytes: number;
  etag: string | undefined;
  /** Number of parts (1 for a single PUT). */
  parts: number;
  /** SHA-256 (hex) of the bytes stored, computed while they were read for the upload. */
  sha256: string;
}

export interface GetResult {
  bytes: number;
  /**
   * The checksum that was verified: `sha256` (stored at upload), `md5` (an ETag that is the MD5),
   * `multipart-md5` (a multipart ETag, with the part size stored at upload) or none.
   */
  verified: 'sha256' | 'md5' | 'multipart-md5' | 'none';
}

export interface ObjectStore {
  /** For messages: `s3://bucket/prefix/` or the folder. Never contains credentials. */
  readonly description: string;
  head(key: string, signal: AbortSignal): Promise<ObjectInfo | undefined>;
  /**
   * Uploads a local file under `key`, reading it once; the object is replaced (or created) only
   * when complete. PW_STORAGE_CHECKSUM when the store reports other bytes than were sent.
   */
  putFile(key: string, file: string, options: PutOptions): Promise<PutResult>;
  /**
   * Downloads `key` into `tempPath` (the caller renames it into place), verifying its checksum;
   * PW_STORAGE_CHECKSUM when it does not match, PW_INPUT_NOT_FOUND when there is no such key.
   */
  getFile(key: string, tempPath: string, signal: AbortSignal): Promise<GetResult>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string, signal: AbortSignal): Promise<ObjectInfo[]>;
  /** Deletes the keys (missing keys are not an error). */
  delete(keys: readonly string[], signal: AbortSignal): Promise<void>;
  close(): void;
}

/** SHA-256 and MD5 (hex) of a file, read once. */
export async function fileDigests(path: string): Promise<{ sha256: string; md5: string; bytes: number }> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    const buffer = chunk as Buffer;
    sha256.update(buffer);
    md5.update(buffer);
    bytes += buffer.length;
  }
  return { sha256: sha256.digest('hex'), md5: md5.digest('hex'), bytes };
}

/**
 * Checks a key: relative, `/`-separated, no empty, `.` or `..` segments, no backslashes or control
 * characters, so the local store can never write outside its folder and both stores agree on layout.
 */
export function checkKey(key: string, field: string, allowTrailingSlash = false): void {
  const body = allowTrailingSlash && key.endsWith('/') ? key.slice(0, -1) : key;
  const bad =
    key.length === 0 ||
    key.length > 1024 ||
    key.startsWith('/') ||
    // eslint-disable-next-line no-control-regex
    /[\\\u0000-\u001f]/.test(key) ||
    body.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
  if (bad) {
    throw new PwError('PW_SPEC_TYPE', `'${key}' is not a valid object key`, {
      path: field,
      expected:
        'a relative key such as logs/year=2024/month=01/data.parquet (no leading /, no . or .. parts)',
      found: `'${key}'`,
    });
  }
}

/** Checks a list prefix: empty (everything) or a key prefix, optionally ending in `/`. */
export function checkPrefix(prefix: string, field: string): void {
  if (prefix === '') return;
  checkKey(prefix, field, true);
}
