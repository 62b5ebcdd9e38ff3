/**
 * The S3-compatible object store (AWS SDK v3, loaded only when a step first uses it). Objects up to
 * the part size go up in one PUT with Content-MD5, so the server refuses corrupted bytes and the
 * returned ETag is checked against the local MD5; larger files go up as a multipart upload (parts
 * retried by the SDK, the upload aborted on failure so no partial object appears) and the ETag is
 * checked against the expected multipart ETag. Every object carries its SHA-256 in metadata
 * (`x-amz-meta-sha256`), verified when it is downloaded.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { PwError } from '../../core/errors/pw-error.js';
import { endpointOf, type S3Settings } from './config.js';
import { isTlsErrorCode, SOCKET_ERROR_CODES } from '../network-errors.js';
import {
  fileDigests,
  multipartEtag,
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

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '');
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
      // R2, MinIO and older servers do not all accept the SDK's default streaming CRC trailers; we
      // send Content-MD5 and our own SHA-256 instead and check both ourselves.
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
    const digests = await fileDigests(file);
    try {
      if (digests.bytes <= options.partSize) {
        const body = await readFile(file);
        const out = await this.client.send(
          new this.sdk.PutObjectCommand({
            Bucket: this.settings.bucket,
            Key: this.full(key),
            Body: body,
            ContentLength: body.length,
            ContentType: options.contentType,
            ContentMD5: Buffer.from(digests.md5, 'hex').toString('base64'),
            Metadata: { sha256: options.sha256 },
          }),
          { abortSignal: options.signal },
        );
        const etag = unquote(out.ETag);
        if (etag !== undefined && /^[0-9a-f]{32}$/i.test(etag) && etag.toLowerCase() !== digests.md5) {
          throw new PwError(
            'PW_STORAGE_CHECKSUM',
            `${action}: the store reports MD5 ${etag}, the file has ${digests.md5}`,
          );
        }
        return { bytes: digests.bytes, etag, parts: 1 };
      }
      const { Upload } = await import('@aws-sdk/lib-storage');
      const upload = new Upload({
        client: this.client,
        partSize: options.partSize,
        queueSize: 4,
        // We abort a failed upload ourselves: lib-storage would let a failing abort (some servers
        // refuse AbortMultipartUpload) replace the error that actually stopped the upload.
        leavePartsOnError: true,
        params: {
          Bucket: this.settings.bucket,
          Key: this.full(key),
          Body: createReadStream(file, { highWaterMark: 1024 * 1024 }),
          ContentType: options.contentType,
          Metadata: { sha256: options.sha256 },
        },
      });
      const onAbort = (): void => void upload.abort().catch(() => undefined);
      options.signal.addEventListener('abort', onAbort, { once: true });
      let etag: string | undefined;
      try {
        const out = await upload.done();
        etag = unquote(out.ETag);
      } catch (error) {
        const uploadId = upload.uploadId;
        if (uploadId !== undefined) {
          // Best effort: the parts are invisible either way, and stores expire unfinished uploads.
          await this.client
            .send(
              new this.sdk.AbortMultipartUploadCommand({
                Bucket: this.settings.bucket,
                Key: this.full(key),
                UploadId: uploadId,
              }),
            )
            .catch(() => undefined);
        }
        throw error;
      } finally {
        options.signal.removeEventListener('abort', onAbort);
      }
      const parts = Math.ceil(digests.bytes / options.partSize);
      const expected = await multipartEtag(file, options.partSize);
      // AWS, R2 and MinIO answer md5(part md5s)-N; some servers the MD5 of the whole object.
      const mismatch =
        etag !== undefined &&
        ((/^[0-9a-f]{32}-\d+$/i.test(etag) && etag.toLowerCase() !== expected) ||
          (/^[0-9a-f]{32}$/i.test(etag) && etag.toLowerCase() !== digests.md5));
      if (mismatch) {
        throw new PwError(
          'PW_STORAGE_CHECKSUM',
          `${action}: the store reports ETag ${etag}, expected ${expected} or ${digests.md5}`,
        );
      }
      return { bytes: digests.bytes, etag, parts };
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
      const sha256 = createHash('sha256');
      const md5 = createHash('md5');
      let bytes = 0;
      const hasher = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          sha256.update(chunk);
          md5.update(chunk);
          bytes += chunk.length;
          callback(null, chunk);
        },
      });
      await pipeline(out.Body as NodeJS.ReadableStream, hasher, createWriteStream(tempPath), { signal });
      const stored = out.Metadata?.sha256;
      const etag = unquote(out.ETag);
      if (stored !== undefined) {
        const actual = sha256.digest('hex');
        if (actual !== stored.toLowerCase()) {
          throw new PwError(
            'PW_STORAGE_CHECKSUM',
            `${action}: SHA-256 ${actual} differs from the stored ${stored}`,
          );
        }
        return { bytes, verified: 'sha256' };
      }
      if (etag !== undefined && /^[0-9a-f]{32}$/i.test(etag)) {
        const actual = md5.digest('hex');
        if (actual !== etag.toLowerCase()) {
          throw new PwError('PW_STORAGE_CHECKSUM', `${action}: MD5 ${actual} differs from the ETag ${etag}`);
        }
        return { bytes, verified: 'md5' };
      }
      return { bytes, verified: 'none' };
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
