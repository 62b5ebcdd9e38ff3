/**
 * `storage.delete` (a load): deletes keys, or the objects under a prefix that a glob, `older_than`
 * or `keep_last` selects. `dry_run` reports what would go without deleting anything.
 */
import { defineStep } from '../../core/step.js';
import { parseDuration } from '../../core/duration.js';
import { openObjectStore } from '../../connectors/storage/open-store.js';
import { checkKey, checkPrefix } from '../../connectors/storage/object-store.js';
import { matching, retentionVictims } from './storage-common.js';
import { storageDeleteConfig } from './storage-schema.js';

export const storageDeleteStep = defineStep({
  type: 'storage.delete',
  kind: 'load',
  description:
    'Deletes object keys, or objects under a prefix by glob, age (older_than) or count (keep_last).',
  config: storageDeleteConfig,
  producesDataset: false,
  async run(ctx, config) {
    config.keys?.forEach((key, index) => checkKey(key, `with.keys[${index}]`));
    if (config.prefix !== undefined) checkPrefix(config.prefix, 'with.prefix');
    const store = await openObjectStore(ctx, config.connection);
    try {
      let keys: string[];
      if (config.keys !== undefined) {
        keys = [];
        for (const key of config.keys) if ((await store.head(key, ctx.signal)) !== undefined) keys.push(key);
      } else {
        const prefix = config.prefix ?? '';
        const candidates = matching(await store.list(prefix, ctx.signal), prefix, config.glob);
        const rules = config.keep_last !== undefined || config.older_than !== undefined;
        keys = (
          rules
            ? retentionVictims(candidates, {
                keepLast: config.keep_last,
                maxAgeMs: config.older_than === undefined ? undefined : parseDuration(config.older_than),
                now: ctx.now(),
              })
            : candidates
        ).map((object) => object.key);
      }
      if (!config.dry_run) await store.delete(keys, ctx.signal);
      ctx.log.info(
        `${config.dry_run ? 'Would delete' : 'Deleted'} ${keys.length} object(s) in ${store.description}`,
        { keys: keys.slice(0, 100) },
      );
      return {
        outputs: {
          deleted: config.dry_run ? 0 : keys.length,
          matched: keys.length,
          dry_run: config.dry_run,
          keys: keys.slice(0, 100),
        },
      };
    } finally {
      store.close();
    }
  },
});
