/**
 * What the four storage steps share: key globs, content types, turning object lists into datasets,
 * and retention (which objects under a prefix `keep_last` / `max_age` let go).
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { StepContext } from '../../core/step.js';
import { quoteLiteral } from '../../core/sql-identifiers.js';
import type { ObjectInfo } from '../../connectors/storage/object-store.js';

/** A glob over keys: `*` and `?` stay within one `/` segment, `**` crosses them. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      out += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Keys under `prefix` whose rest (after the prefix) matches `glob`, when one is given. */
export function matching(
  objects: readonly ObjectInfo[],
  prefix: string,
  glob: string | undefined,
): ObjectInfo[] {
  if (glob === undefined) return [...objects];
  const pattern = globToRegExp(glob);
  return objects.filter((object) => pattern.test(object.key.slice(prefix.length)));
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  parquet: 'application/vnd.apache.parquet',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  jsonl: 'application/x-ndjson',
  txt: 'text/plain',
  log: 'text/plain',
  html: 'text/html',
  pdf: 'application/pdf',
  png: 'image/png',
  svg: 'image/svg+xml',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  gz: 'application/gzip',
  zip: 'application/zip',
};

export function contentTypeFor(key: string): string {
  const extension = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  return (extension === undefined ? undefined : CONTENT_TYPES[extension]) ?? 'application/octet-stream';
}

export function formatFromKey(key: string): 'parquet' | 'csv' | 'json' | 'ndjson' | undefined {
  const extension = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  if (extension === 'parquet' || extension === 'csv' || extension === 'json' || extension === 'ndjson')
    return extension;
  if (extension === 'jsonl') return 'ndjson';
  return undefined;
}

/** A temporary file name in the run's workspace. */
export function workspaceTemp(ctx: StepContext, suffix: string): string {
  return join(ctx.workspaceDir, `.storage-${ctx.stepId}-${randomBytes(4).toString('hex')}${suffix}`);
}

/**
 * Objects retention removes: those not among the newest `keepLast` (by last-modified time, then key)
 * or older than `maxAgeMs`; either rule alone deletes. `protect` (the key just written) is never deleted.
 */
export function retentionVictims(
  objects: readonly ObjectInfo[],
  options: {
    keepLast?: number | undefined;
    maxAgeMs?: number | undefined;
    now: Date;
    protect?: string | undefined;
  },
): ObjectInfo[] {
  const newestFirst = [...objects].sort(
    (a, b) =>
      b.lastModified.getTime() - a.lastModified.getTime() || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0),
  );
  return newestFirst.filter((object, index) => {
    if (object.key === options.protect) return false;
    if (options.keepLast !== undefined && index >= options.keepLast) return true;
    if (
      options.maxAgeMs !== undefined &&
      options.now.getTime() - object.lastModified.getTime() > options.maxAgeMs
    )
      return true;
    return false;
  });
}

/**
 * Replaces this step's dataset with `rows` (key, size, last_modified, etag and any extra VARCHAR
 * columns), through an NDJSON file so a listing of any length goes in at once.
 */
export async function objectsDataset(
  ctx: StepContext,
  rows: readonly ObjectInfo[],
  extra: readonly string[] = [],
): Promise<number> {
  const columns = `key VARCHAR, size BIGINT, last_modified TIMESTAMPTZ, etag VARCHAR${extra.map((name) => `, ${name} VARCHAR`).join('')}`;
  const struct = `{key: 'VARCHAR', size: 'BIGINT', last_modified: 'TIMESTAMPTZ', etag: 'VARCHAR'${extra.map((name) => `, ${name}: 'VARCHAR'`).join('')}}`;
  if (rows.length === 0) {
    return ctx.datasets.replaceOutput(async (table) => {
      await ctx.datasets.run(`CREATE TABLE ${table} (${columns})`);
    });
  }
  const file = workspaceTemp(ctx, '.ndjson');
  const lines = rows.map((row) =>
    JSON.stringify({
      key: row.key,
      size: row.size,
      last_modified: row.lastModified.toISOString(),
      etag: row.etag ?? null,
      ...Object.fromEntries(
        extra.map((name) => [name, (row as unknown as Record<string, unknown>)[name] ?? null]),
      ),
    }),
  );
  await writeFile(file, `${lines.join('\n')}\n`);
  try {
    return await ctx.datasets.replaceOutput(async (table) => {
      await ctx.datasets.run(
        `CREATE TABLE ${table} AS SELECT * FROM read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = ${struct}) ORDER BY key`,
      );
    });
  } finally {
    await rm(file, { force: true });
  }
}
