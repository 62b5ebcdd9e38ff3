/** `storage.list` (an extract): the objects under a prefix as a dataset (key, size, last_modified, etag). */
import { defineStep } from '../../core/step.js';
import { openObjectStore } from '../../connectors/storage/open-store.js';
import { checkPrefix } from '../../connectors/storage/object-store.js';
import { matching, objectsDataset } from './storage-common.js';
import { storageListConfig } from './storage-schema.js';

export const storageListStep = defineStep({
  type: 'storage.list',
  kind: 'extract',
  description: 'Lists the objects under a prefix as a dataset: key, size, last_modified, etag.',
  config: storageListConfig,
  async run(ctx, config) {
    checkPrefix(config.prefix, 'with.prefix');
    const store = await openObjectStore(ctx, config.connection);
    try {
      const objects = matching(await store.list(config.prefix, ctx.signal), config.prefix, config.glob);
      const rows = await objectsDataset(ctx, objects);
      const bytes = objects.reduce((sum, object) => sum + object.size, 0);
      ctx.log.info(`Listed ${rows} object(s) under '${config.prefix}' in ${store.description}`);
      return { rows, outputs: { objects: rows, bytes } };
    } finally {
      store.close();
    }
  },
});
