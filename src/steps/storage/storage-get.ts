/**
 * `storage.get` (an extract): downloads one key or every key under a prefix into project files.
 * Each download goes to a temporary name, its checksum is verified, and only then is it renamed into
 * place. The step's dataset lists the downloaded files, or, with `read`, holds their contents.
 */
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStep } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteLiteral } from '../../core/sql-identifiers.js';
import { removeStaleTemporaries, temporaryPathFor } from '../../engine/atomic-file.js';
import { openObjectStore } from '../../connectors/storage/open-store.js';
import { checkKey, checkPrefix, type ObjectInfo } from '../../connectors/storage/object-store.js';
import { matching, objectsDataset } from './storage-common.js';
import { storageGetConfig } from './storage-schema.js';

const READERS = {
  parquet: (files: string) => `read_parquet(${files}, union_by_name = true, hive_partitioning = false)`,
  csv: (files: string) =>
    `read_csv(${files}, header = true, union_by_name = true, hive_partitioning = false)`,
  json: (files: string) => `read_json(${files}, format = 'array', hive_partitioning = false)`,
  ndjson: (files: string) => `read_json(${files}, format = 'newline_delimited', hive_partitioning = false)`,
} as const;

export const storageGetStep = defineStep({
  type: 'storage.get',
  kind: 'extract',
  description:
    'Downloads an object, or every object under a prefix, into project files (checksums verified).',
  config: storageGetConfig,
  async run(ctx, config) {
    if (config.key !== undefined) checkKey(config.key, 'with.key');
    if (config.prefix !== undefined) checkPrefix(config.prefix, 'with.prefix');
    const store = await openObjectStore(ctx, config.connection);
    const fetched: (ObjectInfo & { path: string; verified: string })[] = [];
    try {
      let wanted: { object: ObjectInfo; target: string }[];
      if (config.key !== undefined) {
        const object = await store.head(config.key, ctx.signal);
        if (object === undefined) {
          throw new PwError('PW_INPUT_NOT_FOUND', `No object '${config.key}' in ${store.description}`, {
            path: 'with.key',
            hint: 'Check the key (templates are rendered first), or list the store with storage.list.',
          });
        }
        wanted = [{ object, target: ctx.resolvePath(config.path ?? '') }];
      } else {
        const prefix = config.prefix ?? '';
        const dir = ctx.resolvePath(config.dir ?? '');
        wanted = matching(await store.list(prefix, ctx.signal), prefix, config.glob).map((object) => ({
          object,
          target: join(
            dir,
            ...object.key
              .slice(prefix.length)
              .split('/')
              .filter((part) => part !== ''),
          ),
        }));
      }
      for (const { object, target } of wanted) {
        await removeStaleTemporaries(target).catch(() => undefined);
        const temp = temporaryPathFor(target);
        try {
          const result = await store.getFile(object.key, temp, ctx.signal);
          await rename(temp, target);
          fetched.push({ ...object, size: result.bytes, path: target, verified: result.verified });
        } catch (error) {
          await rm(temp, { force: true });
          throw error;
        }
      }
    } finally {
      store.close();
    }
    const bytes = fetched.reduce((sum, file) => sum + file.size, 0);
    ctx.log.info(`Downloaded ${fetched.length} object(s), ${bytes} bytes, from ${store.description}`);
    let rows: number;
    if (config.read !== undefined && fetched.length > 0) {
      const files = `[${fetched.map((file) => quoteLiteral(file.path)).join(', ')}]`;
      const reader = READERS[config.read](files);
      rows = await ctx.datasets.replaceOutput(async (table) => {
        await ctx.datasets.run(`CREATE TABLE ${table} AS SELECT * FROM ${reader}`);
      });
    } else if (config.read !== undefined) {
      throw new PwError(
        'PW_INPUT_EMPTY',
        `No objects under '${config.prefix ?? ''}' in ${store.description} to read`,
        {
          path: 'with.prefix',
        },
      );
    } else {
      rows = await objectsDataset(ctx, fetched, ['path', 'verified']);
    }
    return {
      rows,
      bytes,
      outputs: { files: fetched.length, bytes, paths: fetched.slice(0, 100).map((file) => file.path) },
    };
  },
});
