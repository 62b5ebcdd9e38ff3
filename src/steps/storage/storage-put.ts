/**
 * `storage.put` (a load): uploads a project file, or a dataset written by DuckDB's COPY to a
 * temporary file in the run's workspace, to an object key of an S3-compatible store or a local
 * folder. `if_exists` decides about an existing key, the file is read once with its checksums
 * computed and verified on the way (see the stores), and `retention` prunes older objects under a
 * prefix after the upload succeeded.
 */
import { rm, stat } from 'node:fs/promises';
import { defineStep } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { parseDuration } from '../../core/duration.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { openObjectStore } from '../../connectors/storage/open-store.js';
import { checkKey, checkPrefix } from '../../connectors/storage/object-store.js';
import { contentTypeFor, formatFromKey, retentionVictims, workspaceTemp } from './storage-common.js';
import { storagePutConfig } from './storage-schema.js';

const COPY_OPTIONS = {
  parquet: "FORMAT parquet, COMPRESSION 'zstd'",
  csv: 'FORMAT csv, HEADER true',
  json: 'FORMAT json, ARRAY true',
  ndjson: 'FORMAT json',
} as const;

export const storagePutStep = defineStep({
  type: 'storage.put',
  kind: 'load',
  description:
    'Uploads a file or a dataset (Parquet, CSV, JSON) to an object key in S3-compatible storage or a local folder.',
  config: storagePutConfig,
  producesDataset: false,
  inputs: (config) => (config.input === undefined ? [] : [config.input]),
  async run(ctx, config) {
    checkKey(config.key, 'with.key');
    if (config.retention !== undefined) checkPrefix(config.retention.prefix, 'with.retention.prefix');
    let file: string;
    let temporary: string | undefined;
    let rows: number | undefined;
    if (config.input !== undefined) {
      if (!(await ctx.datasets.exists(config.input))) {
        throw new PwError(
          'PW_DATASET_UNKNOWN',
          `storage.put reads dataset '${config.input}', which no earlier step produced`,
          {
            path: 'with.input',
          },
        );
      }
      const format = config.format ?? formatFromKey(config.key);
      if (format === undefined) {
        throw new PwError('PW_SPEC_TYPE', `Cannot tell the format of '${config.key}' from its name`, {
          path: 'with.format',
          expected: 'a key ending in .parquet, .csv, .json or .ndjson, or an explicit format',
          hint: 'Set format: parquet, csv, json or ndjson.',
        });
      }
      temporary = workspaceTemp(ctx, `.${format}`);
      file = temporary;
      const result = await ctx.datasets.query<{ Count: number }>(
        `COPY (SELECT * FROM ${quoteIdent(config.input)}) TO ${quoteLiteral(temporary)} (${COPY_OPTIONS[format]})`,
      );
      rows = Number(result[0]?.Count ?? 0);
    } else {
      file = ctx.resolvePath(config.path ?? '');
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) {
        throw new PwError('PW_INPUT_NOT_FOUND', `storage.put: no file ${config.path ?? ''}`, {
          path: 'with.path',
        });
      }
    }

    const store = await openObjectStore(ctx, config.connection);
    const target = `${config.connection ?? 'storage'}:${config.key}`;
    try {
      const existing =
        config.if_exists === 'overwrite' ? undefined : await store.head(config.key, ctx.signal);
      if (existing !== undefined && config.if_exists === 'fail') {
        throw new PwError(
          'PW_OUTPUT_EXISTS',
          `Cannot store '${config.key}' in ${store.description}: the key exists`,
          {
            path: 'with.key',
            hint: 'Set if_exists: overwrite or skip, or put the date into the key.',
          },
        );
      }
      if (existing !== undefined) {
        ctx.log.info(`'${config.key}' exists in ${store.description}; skipped (if_exists: skip)`);
        return { bytes: 0, outputs: { key: config.key, skipped: true, bytes: 0, deleted: 0 } };
      }
      let put;
      try {
        put = await store.putFile(config.key, file, {
          contentType: config.content_type ?? contentTypeFor(config.key),
          partSize: config.part_size_mb * 1024 * 1024,
          signal: ctx.signal,
        });
      } catch (error) {
        await ctx.loads.record({
          target,
          source: config.input ?? config.path,
          rows: 0,
          status: 'failed',
          message: error instanceof Error ? error.message : String(error),
        });
        throw error;
      }
      await ctx.loads.record({
        target,
        source: config.input ?? config.path,
        rows: rows ?? 0,
        bytes: put.bytes,
        status: 'succeeded',
      });
      ctx.log.info(
        `Stored '${config.key}' in ${store.description} (${put.bytes} bytes, ${put.parts} part(s))`,
        {
          key: config.key,
          bytes: put.bytes,
          parts: put.parts,
        },
      );

      let deleted: string[] = [];
      if (config.retention !== undefined) {
        const maxAgeMs =
          config.retention.max_age === undefined ? undefined : parseDuration(config.retention.max_age);
        const objects = await store.list(config.retention.prefix, ctx.signal);
        deleted = retentionVictims(objects, {
          keepLast: config.retention.keep_last,
          maxAgeMs,
          now: ctx.now(),
          protect: config.key,
        }).map((object) => object.key);
        await store.delete(deleted, ctx.signal);
        if (deleted.length > 0)
          ctx.log.info(`Retention deleted ${deleted.length} object(s) under '${config.retention.prefix}'`, {
            keys: deleted.slice(0, 100),
          });
      }
      return {
        ...(rows === undefined ? {} : { rows }),
        bytes: put.bytes,
        outputs: {
          key: config.key,
          skipped: false,
          bytes: put.bytes,
          etag: put.etag ?? null,
          sha256: put.sha256,
          parts: put.parts,
          deleted: deleted.length,
          deleted_keys: deleted.slice(0, 100),
        },
      };
    } finally {
      store.close();
      if (temporary !== undefined) await rm(temporary, { force: true });
    }
  },
});
