/**
 * Storage connections of pipewright.yaml: `type: s3` (AWS S3, Cloudflare R2, MinIO and other
 * S3-compatible stores) and `type: local` (a folder). A step that names no connection uses the
 * embedded default, the project's `storage/` folder.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import type { ConnectionConfig } from '../../core/step.js';

export const STORAGE_CONNECTION_TYPES = ['s3', 'local'] as const;
export const DEFAULT_STORAGE_DIR = 'storage';

const s3Schema = z.strictObject({
  type: z.literal('s3'),
  bucket: z.string().min(3).max(63).describe('The bucket name.'),
  region: z.string().min(1).default('auto').describe('The region (default auto, as Cloudflare R2 expects).'),
  endpoint: z
    .url()
    .optional()
    .describe(
      'The S3 API address for stores other than AWS, e.g. https://<account>.r2.cloudflarestorage.com.',
    ),
  force_path_style: z
    .boolean()
    .default(false)
    .describe(
      'Address the bucket in the path (http://host/bucket/key) instead of the host name; MinIO needs it.',
    ),
  access_key_id: z.string().min(1).optional().describe('Access key id; usually "${env:…}".'),
  secret_access_key: z
    .string()
    .min(1)
    .optional()
    .describe('Secret access key; write it as a secret reference.'),
  session_token: z.string().min(1).optional().describe('Session token for temporary credentials.'),
  prefix: z
    .string()
    .regex(/^(?:[^/]+\/)*$/, 'a prefix ending in / such as "pipewright/", or empty')
    .default('')
    .describe('A key prefix every key of this connection lives under, ending in "/".'),
  max_attempts: z
    .int()
    .min(1)
    .max(10)
    .default(3)
    .describe('Attempts per request, including retries (default 3).'),
});

const localSchema = z.strictObject({
  type: z.literal('local'),
  dir: z.string().min(1).describe('The folder, relative to the project folder.'),
});

export interface S3Settings {
  type: 's3';
  name: string;
  bucket: string;
  region: string;
  endpoint: string | undefined;
  forcePathStyle: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  prefix: string;
  maxAttempts: number;
}

export interface LocalSettings {
  type: 'local';
  name: string;
  /** Absolute folder. */
  dir: string;
}

export type StorageSettings = S3Settings | LocalSettings;

function invalid(name: string, type: string, field: string, message: string): PwError {
  return new PwError(
    'PW_SPEC_TYPE',
    `Connection '${name}' is not a valid ${type} connection: ${field ? `${field}: ` : ''}${message}`,
    {
      path: `connections.${name}${field ? `.${field}` : ''}`,
      expected:
        type === 'local'
          ? 'type: local with dir'
          : 'type: s3 with bucket, optionally region, endpoint, force_path_style, access_key_id, secret_access_key, prefix',
      hint: 'See docs/reference/connections.md.',
    },
  );
}

/** Validates a resolved storage connection (or the default when `raw` is undefined). */
export function storageSettings(
  name: string | undefined,
  raw: ConnectionConfig | undefined,
  projectDir: string,
): StorageSettings {
  if (raw === undefined || name === undefined) {
    return { type: 'local', name: '(default)', dir: resolve(projectDir, DEFAULT_STORAGE_DIR) };
  }
  if (raw.type === 'local') {
    const parsed = localSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalid(name, 'local', issue?.path.join('.') ?? '', issue?.message ?? 'invalid');
    }
    const dir = parsed.data.dir;
    return { type: 'local', name, dir: isAbsolute(dir) ? dir : resolve(projectDir, dir) };
  }
  const parsed = s3Schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(name, raw.type, issue?.path.join('.') ?? '', issue?.message ?? 'invalid');
  }
  const config = parsed.data;
  if ((config.access_key_id === undefined) !== (config.secret_access_key === undefined)) {
    throw invalid(
      name,
      's3',
      'secret_access_key',
      'give both access_key_id and secret_access_key, or neither',
    );
  }
  return {
    type: 's3',
    name,
    bucket: config.bucket,
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.force_path_style,
    credentials:
      config.access_key_id === undefined || config.secret_access_key === undefined
        ? undefined
        : {
            accessKeyId: config.access_key_id,
            secretAccessKey: config.secret_access_key,
            ...(config.session_token === undefined ? {} : { sessionToken: config.session_token }),
          },
    prefix: config.prefix,
    maxAttempts: config.max_attempts,
  };
}

/** For messages: the endpoint of a connection (AWS when none is given). */
export function endpointOf(settings: Pick<S3Settings, 'endpoint' | 'region'>): string {
  return settings.endpoint ?? `AWS S3 (region ${settings.region})`;
}

/** `s3, s3://bucket/prefix/ at http://host:9000` (or `at AWS S3 (region …)`); never a key. */
export function describeS3(settings: S3Settings): string {
  return `s3, s3://${settings.bucket}/${settings.prefix} at ${endpointOf(settings)}`;
}
