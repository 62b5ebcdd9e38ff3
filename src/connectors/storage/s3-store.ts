/**
 * The S3-compatible object store (AWS SDK v3, loaded only when a step first uses it). A file up to
 * the part size goes up in one PutObject, a larger one as a multipart upload with 4 parts in flight,
 * aborted on failure so no partial object appears; either way the file is read once and every
 * request carries the Content-MD5 of its bytes (s3-upload.ts). A download is verified against the
 * SHA-256 stored with a single-part upload, an ETag that is an MD5, or a multipart ETag with the
 * part size stored with the object.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { PwError } from '../../core/errors/pw-error.js';
import { endpointOf, type S3Settings } from './config.js';
import { isTlsErrorCode, SOCKET_ERROR_CODES } from '../network-errors.js';
import { DigestStream } from './digest-stream.js';
import { etagIsMd5, unquote, uploadFile } from './s3-upload.js';
import {
  type GetResult,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './object-store.js';

type Sdk = typeof S3Sdk;

/** Socket codes that mean no connection was made at all (a reset or broken pipe came after one was). */
const NOT_CONNECTED = new Set(
  SOCKET_ERROR_CODES.filter((code) => !['ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes(code)),
);

/** Error names of a store that refused bytes not matching their Content-MD5 or signed SHA-256. */
const DIGEST_ERRORS = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch']);

/**
 * How a download is verified, decided from the object's metadata and ETag before its bytes arrive:
 * the SHA-256 Pipewright stored with a single-part upload; an ETag that is a plain MD5 (a
 * single-part object, or a server such as s3rver that answers the whole object's MD5); a
 * multipart ETag md5(part MD5s)-N when the part size is stored with the object (Pipewright's
 * multipart uploads); otherwise nothing, which includes every ETag of an object encrypted with
 * SSE-KMS or SSE-C (`md5Etag` false): those are no MD5.
 */
export function downloadCheck(
  metadata: Record<string, string> | undefined,
  etag: string | undefined,
  md5Etag = true,
):
  | { verified: 'sha256' | 'md5'; expected: string }
  | { verified: 'multipart-md5'; expected: string; partSize: number }
  | { verified: 'none' } {
  const sha256 = metadata?.sha256;
  if (sha256 !== undefined && /^[0-9a-f]{64}$/i.test(sha256)) {
    return { verified: 'sha256', expected: sha256.toLowerCase() };
  }
  if (!md5Etag) return { verified: 'none' };
  if (etag !== undefined && /^[0-9a-f]{32}$/i.test(etag))
    return { verified: 'md5', expected: etag.toLowerCase() };
  const partSize = Number(metadata?.['part-size']);
  if (
    etag !== undefined &&
    /^[0-9a-f]{32}-\d+$/i.test(etag) &&
    Number.isSafeInteger(partSize) &&
    partSize > 0
  ) {
    return { verified: 'multipart-md5', expected: etag.toLowerCase(), partSize };
  }
  return { verified: 'none' };
}

/** Maps an SDK or network error to a Pipewright error; the message never includes credentials. */
export function storageError(
  error: unknown,
  settings: S3Settings,
  action: string,
  signal?: AbortSignal,
): PwError {
  if (error instanceof PwError) return error;
  const where = `s3://${settings.bucket}/${settings.prefix}`;
  if (signal?.aborted) return new PwError('PW_CANCELLED', `${action} was cancelled`, { cause: error });
  const e = error as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  // Socket and TLS failures arrive as a plain Error with a code; a HEAD answer has no body to name
  // its error, so the SDK calls it Unknown and only the status says anything.
  const generic = e.name === undefined || e.name === 'Error' || e.name === 'Unknown';
  const name = generic ? (e.code ?? (status === undefined ? 'Error' : '')) : (e.name ?? 'Error');
  const detail = name === '' ? `HTTP ${status}` : `${name}${status === undefined ? '' : ` (HTTP ${status})`}`;
  if (DIGEST_ERRORS.has(name)) {
    return new PwError(
      'PW_STORAGE_CHECKSUM',
      `${action}: ${where} refused bytes that do not match their checksum (${detail})`,
      {
        hint: 'The bytes were changed on the way to the store. A retries policy tries again.',
      },
    );
  }
  if (name === 'NoSuchBucket') {
    return new PwError('PW_STORAGE_BUCKET', `${action}: bucket '${settings.bucket}' does not exist`, {
      path: `connections.${settings.name}.bucket`,
      hint: 'Create the bucket, or fix the bucket name (and endpoint) of the connection.',
    });
  }
  if (
    [
      'AccessDenied',
      'InvalidAccessKeyId',
      'SignatureDoesNotMatch',
      'Forbidden',
      'CredentialsProviderError',
      'ExpiredToken',
    ].includes(name) ||
    status === 401 ||
    status === 403
  ) {
    if (name === 'CredentialsProviderError') {
      return new PwError('PW_STORAGE_AUTH', `${action}: no credentials for ${where} were found`, {
        path: `connections.${settings.name}.access_key_id`,
        hint: "Give access_key_id and secret_access_key, or set up the AWS SDK's default chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role).",
      });
    }
    return new PwError('PW_STORAGE_AUTH', `${action}: ${where} refused the credentials (${detail})`, {
      path: `connections.${settings.name}`,
      hint: 'Check access_key_id and secret_access_key, and that the key may use this bucket.',
    });
  }
  if (isTlsErrorCode(e.code)) {
    return new PwError(
      'PW_STORAGE_TLS',
      `${action}: TLS with ${endpointOf(settings)} failed: ${e.code}${typeof e.message === 'string' && e.message !== '' ? `: ${tlsReason(e.message)}` : ''}`,
      {
        path: `connections.${settings.name}.endpoint`,
        hint:
          e.code === 'EPROTO' || e.code?.startsWith('ERR_SSL_') === true
            ? 'The endpoint does not seem to speak TLS: check http:// or https:// and the port of endpoint.'
            : 'The certificate of the endpoint is not trusted or names another host: check endpoint; for a private CA, start Pipewright with NODE_EXTRA_CA_CERTS=<its PEM file>.',
      },
    );
  }
  if (status === 301 || name === 'PermanentRedirect') {
    return new PwError(
      'PW_STORAGE_REQUEST',
      `${action}: bucket '${settings.bucket}' is not in region '${settings.region}' (${detail})`,
      {
        path: `connections.${settings.name}.region`,
        hint: "Set region to the bucket's region (the AWS console shows it).",
      },
    );
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new PwError('PW_STORAGE_REQUEST', `${action}: ${where} refused the request: ${detail}`, {
      hint: 'Check the key, the bucket settings and that the store supports this request.',
    });
  }
  const message =
    typeof e.message === 'string' && e.message.length > 0 ? `: ${e.message.split('\n')[0]}` : '';
  if (status === undefined && typeof e.code === 'string' && NOT_CONNECTED.has(e.code)) {
    return new PwError(
      'PW_STORAGE_UNAVAILABLE',
      `${action}: ${endpointOf(settings)} could not be reached (${detail}${message})`,
      {
        hint: `Check endpoint of connection '${settings.name}' and that the store is reachable from here; a passing network problem is tried again by a retries policy.`,
      },
    );
  }
  return new PwError(
    'PW_STORAGE_UNAVAILABLE',
    `${action}: ${where} could not be reached or failed (${detail}${message})`,
    {
      hint: 'A passing network or server problem; with a retries policy the step is tried again.',
    },
  );
}

/** OpenSSL's reason without its file and line noise: `…:wrong version number:…` → `wrong version number`. */
function tlsReason(message: string): string {
  const first = message.split('\n')[0] ?? '';
  const routine = /SSL routines:[^:]*:([^:]+)/.exec(first);
  return routine?.[1] ?? first;
}

export class S3ObjectStore implements ObjectStore {
  readonly description: string;

  private constructor(
    private readonly sdk: Sdk,
    private readonly client: S3Client,
    private readonly settings: S3Settings,
  ) {
    this.description = `s3://${settings.bucket}/${settings.prefix}`;
  }

  static async open(settings: S3Settings): Promise<S3ObjectStore> {
    // The pinned SDK warns on every process under Node 20 (which Pipewright supports) that later SDK
    // versions will need Node 22; that says nothing to a pipeline's operator, so it is turned off
    // unless the environment already decided.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const sdk = await import('@aws-sdk/client-s3');
    const client = new sdk.S3Client({
      region: settings.region,
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      forcePathStyle: settings.forcePathStyle,
      ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
      maxAttempts: settings.maxAttempts,
      // R2, MinIO and older servers do not all accept the SDK's default CRC checksums (flexible
      // checksums); every upload request carries a Content-MD5 instead (s3-upload.ts).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return new S3ObjectStore(sdk, client, settings);
  }

  private full(key: string): string {
    return `${this.settings.prefix}${key}`;
  }

  async head(key: string, signal: AbortSignal): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(
        new this.sdk.HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.full(key) }),
        { abortSignal: signal },
      );
      return {
        key,
        size: out.ContentLength ?? 0,
        lastModified: out.LastModified ?? new Date(0),
        etag: unquote(out.ETag),
      };
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey') {
        // A HEAD on a missing bucket is a bare 404 too: tell the two apart.
        await this.checkBucket(signal);
        return undefined;
      }
      throw storageError(error, this.settings, `Checking '${key}'`, signal);
    }
  }

  /**
   * One HeadBucket: the cheapest request that proves the endpoint answers, TLS holds, the credentials
   * are accepted and the bucket exists (what `pipewright connections test` runs). `action` starts
   * the messages of its errors.
   */
  async checkBucket(signal: AbortSignal, action = 'Opening the bucket'): Promise<void> {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.settings.bucket }), {
        abortSignal: signal,
      });
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) {
        throw storageError({ name: 'NoSuchBucket' }, this.settings, action, signal);
      }
      throw storageError(error, this.settings, action, signal);
    }
  }

  async putFile(key: string, file: string, options: PutOptions): Promise<PutResult> {
    const action = `Uploading '${key}' to ${this.description}`;
    try {
      return await uploadFile(
        {
          sdk: this.sdk,
          client: this.client,
          bucket: this.settings.bucket,
          key: this.full(key),
          action,
          queueSize: 4,
        },
        file,
        options,
      );
    } catch (error) {
      throw storageError(error, this.settings, action, options.signal);
    }
  }

  async getFile(key: string, tempPath: string, signal: AbortSignal): Promise<GetResult> {
    const action = `Downloading '${key}' from ${this.description}`;
    try {
      const out = await this.client.send(
        new this.sdk.GetObjectCommand({ Bucket: this.settings.bucket, Key: this.full(key) }),
        { abortSignal: signal },
      );
      await mkdir(dirname(tempPath), { recursive: true });
      const check = downloadCheck(out.Metadata, unquote(out.ETag), etagIsMd5(out));
      const digests = new DigestStream({
        sha256: check.verified === 'sha256',
        md5: check.verified === 'md5',
        ...(check.verified === 'multipart-md5' ? { partSize: check.partSize } : {}),
      });
      await pipeline(out.Body as NodeJS.ReadableStream, digests, createWriteStream(tempPath), { signal });
      if (check.verified !== 'none') {
        const [actual, what, against] =
          check.verified === 'sha256'
            ? [digests.sha256, 'SHA-256', 'the stored']
            : check.verified === 'md5'
              ? [digests.md5, 'MD5', 'the ETag']
              : [digests.multipartEtag, 'multipart ETag', 'the ETag'];
        if (actual !== check.expected) {
          throw new PwError(
            'PW_STORAGE_CHECKSUM',
            `${action}: ${what} ${actual} differs from ${against} ${check.expected}`,
          );
        }
      }
      return { bytes: digests.bytes, verified: check.verified };
    } catch (error) {
      const e = error as { name?: string };
      if (e.name === 'NoSuchKey') {
        throw new PwError('PW_INPUT_NOT_FOUND', `No object '${key}' in ${this.description}`, {
          hint: 'Check the key, or list the store with storage.list.',
        });
      }
      throw storageError(error, this.settings, action, signal);
    }
  }

  async list(prefix: string, signal: AbortSignal): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const out = await this.client.send(
          new this.sdk.ListObjectsV2Command({
            Bucket: this.settings.bucket,
            Prefix: this.full(prefix),
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          { abortSignal: signal },
        );
        for (const item of out.Contents ?? []) {
          if (item.Key === undefined) continue;
          found.push({
            key: item.Key.slice(this.settings.prefix.length),
            size: item.Size ?? 0,
            lastModified: item.LastModified ?? new Date(0),
            etag: unquote(item.ETag),
          });
        }
        token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (error) {
      throw storageError(error, this.settings, `Listing '${prefix}' in ${this.description}`, signal);
    }
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(keys: readonly string[], signal: AbortSignal): Promise<void> {
    // One request per key: DeleteObjects needs Content-MD5/CRC headers that not every store accepts.
    for (const key of keys) {
      try {
        await this.client.send(
          new this.sdk.DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.full(key) }),
          { abortSignal: signal },
        );
      } catch (error) {
        throw storageError(error, this.settings, `Deleting '${key}' from ${this.description}`, signal);
      }
    }
  }

  close(): void {
    this.client.destroy();
  }
}
