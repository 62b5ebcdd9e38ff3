/**
 * The state-store queries behind the web UI, used by the Kysely store: sessions (kept by the sha256 of
 * their id), the most recent runs of many pipelines in one statement (one short read of the
 * (pipeline_id, queued_at, id) index of migration 0007 per pipeline), the data-load ledger in keyset
 * pages. Dialect-neutral like the rest, except where noted.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, StoreDialect } from './database-schema.js';
import { int, iso, toApiToken, toDataLoad, toRun, type RunRow } from './row-mapping.js';
import type {
  ApiTokenRecord,
  DataLoadCursor,
  DataLoadRecord,
  RunRecord,
  UiSessionRecord,
} from './state-store.js';

export async function createUiSession(db: Kysely<Database>, session: UiSessionRecord): Promise<void> {
  const at = iso(session.createdAt);
  await db.deleteFrom('ui_sessions').where('expires_at', '<', at).execute();
  await db
    .insertInto('ui_sessions')
    .values({
      id_hash: session.idHash,
      token_id: session.tokenId,
      csrf_token: session.csrfToken,
      created_at: at,
      expires_at: iso(session.expiresAt),
      last_seen_at: iso(session.lastSeenAt),
    })
    .execute();
}

export async function findUiSession(
  db: Kysely<Database>,
  idHash: string,
): Promise<{ session: UiSessionRecord; token: ApiTokenRecord } | undefined> {
  const row = await db
    .selectFrom('ui_sessions as s')
    .innerJoin('api_tokens as t', 't.id', 's.token_id')
    .select([
      's.id_hash',
      's.token_id',
      's.csrf_token',
      's.created_at as session_created_at',
      's.expires_at',
      's.last_seen_at',
      't.id',
      't.name',
      't.scope',
      't.hash',
      't.created_at',
      't.last_used_at',
      't.revoked_at',
    ])
    .where('s.id_hash', '=', idHash)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    session: {
      idHash: row.id_hash,
      tokenId: int(row.token_id),
      csrfToken: row.csrf_token,
      createdAt: new Date(row.session_created_at),
      expiresAt: new Date(row.expires_at),
      lastSeenAt: new Date(row.last_seen_at),
    },
    token: toApiToken(row),
  };
}

export async function touchUiSession(db: Kysely<Database>, idHash: string, at: Date): Promise<void> {
  await db
    .updateTable('ui_sessions')
    .set({ last_seen_at: iso(at) })
    .where('id_hash', '=', idHash)
    .execute();
}

export async function deleteUiSession(db: Kysely<Database>, idHash: string): Promise<void> {
  await db.deleteFrom('ui_sessions').where('id_hash', '=', idHash).execute();
}

export async function listRecentRunsByPipeline(
  db: Kysely<Database>,
  dialect: StoreDialect,
  pipelineIds: readonly string[],
  perPipeline: number,
): Promise<RunRecord[]> {
  if (pipelineIds.length === 0 || perPipeline < 1) return [];
  // One short index read per pipeline, newest first on (pipeline_id, queued_at, id): a window function
  // over every run of every pipeline reads them all (100 ms for 100,000 runs on SQLite; this: ~25 ms).
  // PostgreSQL says so with LATERAL; SQLite, which has no LATERAL, with a correlated IN (… LIMIT n).
  const pipelines = sql.join(pipelineIds.map((id) => sql`(${id})`));
  const query =
    dialect === 'postgres'
      ? sql<RunRow>`select r.* from (values ${pipelines}) as p(pid)
          cross join lateral (
            select * from runs where runs.pipeline_id = p.pid
            order by runs.queued_at desc, runs.id desc limit ${perPipeline}
          ) as r
          order by r.pipeline_id, r.queued_at desc, r.id desc`
      : sql<RunRow>`with p(pid) as (values ${pipelines})
          select runs.* from p join runs on runs.id in (
            select r.id from runs as r where r.pipeline_id = p.pid
            order by r.queued_at desc, r.id desc limit ${perPipeline}
          )
          order by runs.pipeline_id, runs.queued_at desc, runs.id desc`;
  const { rows } = await query.execute(db);
  return rows.map(toRun);
}

export async function listDataLoadsPage(
  db: Kysely<Database>,
  pipelineId: string,
  after: DataLoadCursor | undefined,
  limit: number,
): Promise<DataLoadRecord[]> {
  let query = db.selectFrom('data_loads').selectAll().where('pipeline_id', '=', pipelineId);
  if (after !== undefined) {
    const at = iso(after.at);
    query = query.where((eb) =>
      eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', after.id)])]),
    );
  }
  const rows = await query.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toDataLoad);
}
