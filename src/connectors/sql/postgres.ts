/**
 * PostgreSQL: one `pg` Client per step. Results stream through pg-cursor in batches, every value
 * arriving as PostgreSQL's own text (no parsing into JavaScript numbers or Dates, so numeric keeps its
 * digits and timestamps their microseconds) and typed from the column's type OID. The session is set to
 * UTC, ISO dates and hex bytea so that text is unambiguous. The bulk path (`bulkSource`) describes a
 * query without running it and copies its result as CSV (`COPY … TO STDOUT`) in that same text, which
 * each mapping's `fromText` turns into exactly what its `convert` gives. Loads go through
 * `COPY … FROM STDIN` in CSV written by DuckDB to a temporary file, inside one transaction.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { from as copyFrom } from 'pg-copy-streams';
import type { JS } from '@duckdb/node-api';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import type { ServerSettings } from './config.js';
import {
  direct,
  inferredDecimal,
  TypeMismatch,
  viaText,
  withText,
  type BulkSource,
  type ColumnMapping,
  type LoadOutcome,
  type LoadRequest,
  type OpenOptions,
  type ResultColumn,
  type RowStream,
  type SqlDriver,
  type StreamOptions,
  type TableColumn,
} from './driver.js';
import { columnTypeFor, exportExpression } from './duckdb-types.js';
import { CopyOutStream, describeStatement, type DescribedField } from './postgres-copy.js';
import { quoteName, quoteTable, type TableName } from './identifiers.js';

/** Every value as the server's text: conversions happen per column below. */
const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };

const SESSION_SETUP =
  "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET IntervalStyle TO 'postgres'; SET bytea_output TO 'hex'; SET extra_float_digits TO 3";

export async function openPostgres(settings: ServerSettings, options: OpenOptions): Promise<SqlDriver> {
  const tls = settings.tls;
  const client = new pg.Client({
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password ?? '',
    database: settings.database,
    application_name: 'pipewright',
    connectionTimeoutMillis: settings.connectTimeoutMs,
    keepAlive: true,
    types: RAW_TEXT,
    ssl:
      tls === undefined
        ? false
        : {
            rejectUnauthorized: tls.verify,
            ...(tls.verify ? {} : { checkServerIdentity: () => undefined }),
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            ...(tls.cert === undefined ? {} : { cert: tls.cert }),
            ...(tls.key === undefined ? {} : { key: tls.key }),
          },
  });
  // A server that goes away emits 'error' on the client besides failing the query in flight.
  client.on('error', () => undefined);
  const onAbort = () => {
    // Closing the socket stops a copy at its next write; the cancel also stops a query that is still
    // computing (sorting, joining) before it writes anything.
    const pid = (client as unknown as { processID?: number }).processID;
    if (pid !== undefined) void cancelBackend(settings, pid);
    void client.end().catch(() => undefined);
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    await client.query(SESSION_SETUP);
  } catch (error) {
    options.signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
    throw error;
  }
  return new PostgresDriver(settings, client, () => options.signal?.removeEventListener('abort', onAbort));
}

/** Asks the server, on a connection of its own, to cancel what backend `pid` is running (best effort). */
async function cancelBackend(settings: ServerSettings, pid: number): Promise<void> {
  try {
    const side = (await openPostgres(settings, {})) as PostgresDriver;
    try {
      await side.client.query('SELECT pg_cancel_backend($1)', [pid]);
    } finally {
      await side.close();
    }
  } catch {
    // The step has been aborted already; closing its connection ends the query at its next write.
  }
}

class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;

  constructor(
    readonly settings: ServerSettings,
    readonly client: pg.Client,
    readonly detach: () => void,
  ) {}

  placeholder(index: number): string {
    return `$${index}`;
  }

  quote(name: string): string {
    return quoteName('postgres', name);
  }

  async stream(sql: string, params: readonly unknown[], options: StreamOptions): Promise<RowStream> {
    const cursor = this.client.query(new Cursor(sql, [...params], { rowMode: 'array', types: RAW_TEXT }));
    let first: { rows: unknown[][]; fields: pg.FieldDef[] };
    try {
      first = await readFirst(cursor, options.batchSize);
    } catch (error) {
      await cursor.close().catch(() => undefined);
      throw error;
    }
    const columns = await this.#columns(first.fields);
    let pending: unknown[][] | undefined = first.rows;
    let ended = first.rows.length < options.batchSize;
    return {
      columns,
      next: async () => {
        if (pending !== undefined) {
          const rows = pending;
          pending = undefined;
          if (rows.length > 0) return rows;
        }
        if (ended) return undefined;
        const rows = (await cursor.read(options.batchSize)) as unknown[][];
        if (rows.length < options.batchSize) ended = true;
        return rows.length > 0 ? rows : undefined;
      },
      close: async () => {
        await cursor.close().catch(() => undefined);
      },
    };
  }

  async #columns(fields: readonly DescribedField[]): Promise<ResultColumn[]> {
    const unknownOids = fields.map((field) => field.dataTypeID).filter((oid) => !KNOWN_OIDS.has(oid));
    const lookedUp =
      unknownOids.length > 0 ? await this.#lookupTypes(unknownOids) : new Map<number, PgTypeInfo>();
    return fields.map((field) => postgresColumn(field, lookedUp));
  }

  async bulkSource(sql: string): Promise<BulkSource | string> {
    const fields = await describeStatement(this.client, sql);
    if (fields === undefined || fields.length === 0) return 'the statement returns no columns';
    const columns = await this.#columns(fields);
    // NULL as an unquoted \N tells it from an empty string, which COPY writes as "".
    const statement = `COPY (\n${sql}\n) TO STDOUT (FORMAT csv, NULL E'\\\\N')`;
    return {
      columns,
      statement,
      copy: () => {
        const copy = new CopyOutStream(statement);
        void this.client.query(copy as unknown as pg.QueryConfig);
        return copy;
      },
    };
  }

  /** Names and kinds of types outside the built-in list (enums, extension types), on a second connection. */
  async #lookupTypes(oids: readonly number[]): Promise<Map<number, PgTypeInfo>> {
    const lookup = await openPostgres(this.settings, {});
    try {
      const result = await (lookup as PostgresDriver).client.query<{
        oid: string;
        name: string;
        typtype: string;
        category: string;
        base: string;
      }>(
        `SELECT t.oid::text AS oid, format_type(t.oid, NULL) AS name, t.typtype, t.typcategory AS category,
                t.typbasetype::text AS base
           FROM pg_type t WHERE t.oid = ANY($1::oid[])`,
        [oids.map(String)],
      );
      return new Map(
        result.rows.map((row) => [
          Number(row.oid),
          { name: row.name, typtype: row.typtype, category: row.category, base: Number(row.base) },
        ]),
      );
    } finally {
      await lookup.close();
    }
  }

  async scalar(sql: string, params: readonly unknown[]): Promise<unknown> {
    const result = await this.client.query({
      text: sql,
      values: [...params],
      rowMode: 'array',
      types: RAW_TEXT,
    });
    const row = result.rows[0] as unknown[] | undefined;
    return row?.[0] ?? null;
  }

  async execute(sql: string, params: readonly unknown[]): Promise<number | undefined> {
    const result = (await (params.length > 0
      ? this.client.query(sql, [...params])
      : this.client.query(sql))) as pg.QueryResult | pg.QueryResult[];
    const results = Array.isArray(result) ? result : [result];
    const counted = results.filter((item) =>
      ['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY'].includes(item.command),
    );
    return counted.length === 0 ? undefined : counted.reduce((sum, item) => sum + (item.rowCount ?? 0), 0);
  }

  async begin(options: { snapshot?: boolean } = {}): Promise<void> {
    await this.client.query(options.snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ' : 'BEGIN');
  }

  async commit(): Promise<void> {
    await this.client.query('COMMIT');
  }

  async rollback(): Promise<void> {
    await this.client.query('ROLLBACK');
  }

  async describeTable(table: TableName): Promise<TableColumn[] | undefined> {
    const qualified = quoteTable('postgres', table);
    const found = await this.client.query<{ oid: string | null }>(
      'SELECT to_regclass($1)::oid::text AS oid',
      [qualified],
    );
    const oid = found.rows[0]?.oid;
    if (oid === null || oid === undefined) return undefined;
    const columns = await this.client.query<{ name: string; type: string; notnull: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull::text AS notnull
         FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [oid],
    );
    return columns.rows.map((row) => ({ name: row.name, type: row.type, nullable: row.notnull !== 'true' }));
  }

  async load(request: LoadRequest): Promise<LoadOutcome> {
    const target = quoteTable('postgres', request.table);
    const names = request.columns.map((column) => request.targetNames.get(column.name) ?? column.name);
    const columnList = names.map((name) => quoteName('postgres', name)).join(', ');
    const csv = join(request.tempDir, `.pw-load-${randomBytes(6).toString('hex')}.csv`);
    const created = !request.exists;
    try {
      // DuckDB writes the dataset as CSV in PostgreSQL's input formats; NULL is an empty unquoted field.
      const select = request.columns
        .map((column, index) => `${exportExpression('postgres', column)} AS ${quoteIdent(`c${index}`)}`)
        .join(', ');
      await request.duck.run(
        `COPY (SELECT ${select} FROM ${request.dataset}) TO ${quoteLiteral(csv)} (FORMAT csv, HEADER false)`,
      );
      request.signal.throwIfAborted();
      await this.begin();
      try {
        if (created) {
          const keys = request.mode === 'upsert' ? new Set(request.keys) : new Set<string>();
          const definitions = request.columns.map(
            (column, index) =>
              `${quoteName('postgres', names[index] ?? column.name)} ${columnTypeFor('postgres', column, keys.has(column.name))}`,
          );
          if (keys.size > 0)
            definitions.push(
              `PRIMARY KEY (${request.keys.map((key) => quoteName('postgres', request.targetNames.get(key) ?? key)).join(', ')})`,
            );
          await this.client.query(`CREATE TABLE ${target} (${definitions.join(', ')})`);
        }
        if (request.mode === 'replace' && !created) await this.client.query(`DELETE FROM ${target}`);
        let rows: number;
        if (request.mode === 'upsert') {
          const stage = quoteName('postgres', `pw_stage_${randomBytes(4).toString('hex')}`);
          await this.client.query(
            `CREATE TEMP TABLE ${stage} ON COMMIT DROP AS SELECT ${columnList} FROM ${target} WITH NO DATA`,
          );
          rows = await this.#copy(`COPY ${stage} (${columnList}) FROM STDIN (FORMAT csv)`, csv);
          const keyNames = new Set(request.keys.map((key) => request.targetNames.get(key) ?? key));
          const updates = names
            .filter((name) => !keyNames.has(name))
            .map((name) => `${quoteName('postgres', name)} = EXCLUDED.${quoteName('postgres', name)}`);
          const conflict = [...keyNames].map((name) => quoteName('postgres', name)).join(', ');
          await this.client.query(
            `INSERT INTO ${target} (${columnList}) SELECT ${columnList} FROM ${stage} ON CONFLICT (${conflict}) ${updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`,
          );
        } else {
          rows = await this.#copy(`COPY ${target} (${columnList}) FROM STDIN (FORMAT csv)`, csv);
        }
        request.signal.throwIfAborted();
        await this.commit();
        return { rows, created };
      } catch (error) {
        await this.rollback().catch(() => undefined);
        throw error;
      }
    } finally {
      await rm(csv, { force: true });
    }
  }

  async #copy(statement: string, file: string): Promise<number> {
    const copy = this.client.query(copyFrom(statement));
    await pipeline(createReadStream(file), copy);
    return copy.rowCount;
  }

  async close(): Promise<void> {
    this.detach();
    await this.client.end().catch(() => undefined);
  }
}

function readFirst(cursor: Cursor, batchSize: number): Promise<{ rows: unknown[][]; fields: pg.FieldDef[] }> {
  return new Promise((resolve, reject) => {
    cursor.read(batchSize, (error, rows, result) => {
      if (error) reject(error);
      else resolve({ rows: rows as unknown[][], fields: result.fields });
    });
  });
}

interface PgTypeInfo {
  name: string;
  /** b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
  typtype: string;
  /** S string, N numeric, … */
  category: string;
  base: number;
}

const OID = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  money: 790,
  macaddr: 829,
  inet: 869,
  cidr: 650,
  macaddr8: 774,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  bit: 1560,
  varbit: 1562,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
  unknown: 705,
} as const;

/** Array type OID → element type OID. */
const ARRAYS: ReadonlyMap<number, number> = new Map([
  [1000, OID.bool],
  [1005, OID.int2],
  [1007, OID.int4],
  [1016, OID.int8],
  [1009, OID.text],
  [1015, OID.varchar],
  [1014, OID.bpchar],
  [1021, OID.float4],
  [1022, OID.float8],
  [1231, OID.numeric],
  [1182, OID.date],
  [1115, OID.timestamp],
  [1185, OID.timestamptz],
  [1183, OID.time],
  [1187, OID.interval],
  [2951, OID.uuid],
  [199, OID.json],
  [3807, OID.jsonb],
  [1041, OID.inet],
]);

const TYPE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(OID).map(([name, oid]) => [oid as number, name === 'bpchar' ? 'char(n)' : name]),
);

const KNOWN_OIDS = new Set<number>([...Object.values(OID), ...ARRAYS.keys()]);

const parseBool = (value: unknown): JS => value === 't' || value === 'true';
const parseBytes = (value: unknown): JS => {
  const text = String(value as string);
  return text.startsWith('\\x') ? Buffer.from(text.slice(2), 'hex') : Buffer.from(text, 'latin1');
};
/** `0044-03-15 BC` → DuckDB's `0044-03-15 (BC)` (DuckDB would read the first as AD). */
const parseDate = (value: unknown): JS => String(value as string).replace(/ BC$/, ' (BC)');

/** PostgreSQL's `postgres` IntervalStyle: `1 year 2 mons -3 days +04:05:06.5`. */
function parseInterval(value: unknown): JS {
  const text = String(value as string);
  let months = 0;
  let days = 0;
  let micros = 0n;
  for (const match of text.matchAll(/(-?\d+) (year|mon|day)s?/g)) {
    const amount = Number(match[1]);
    if (match[2] === 'year') months += amount * 12;
    else if (match[2] === 'mon') months += amount;
    else days += amount;
  }
  const time = /([+-])?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/.exec(text);
  if (time) {
    const sign = time[1] === '-' ? -1n : 1n;
    const total =
      ((BigInt(time[2] ?? '0') * 60n + BigInt(time[3] ?? '0')) * 60n + BigInt(time[4] ?? '0')) * 1_000_000n +
      BigInt((time[5] ?? '').padEnd(6, '0'));
    micros = sign * total;
  }
  return { months, days, micros };
}

function numericMapping(typmod: number, name: string): ColumnMapping {
  if (typmod < 4) return inferredDecimal('numeric', name);
  const precision = ((typmod - 4) >> 16) & 0xffff;
  const scale = (typmod - 4) & 0xffff;
  if (precision > 38 || scale > precision) return inferredDecimal(`numeric(${precision},${scale})`, name);
  return viaText(`DECIMAL(${precision},${scale})`);
}

/**
 * `parseInterval` in DuckDB SQL, for the bulk path: the same regular expressions, the same sums.
 * An interval's text holds each unit once, but every match is added up as parseInterval does.
 */
function intervalFromText(c: string): string {
  const units = (unit: string) =>
    `coalesce(list_sum(list_transform(regexp_extract_all(${c}, '(-?\\d+) ${unit}', 1), x -> CAST(x AS BIGINT))), 0)`;
  const time = '([+-])?(\\d+):(\\d{2}):(\\d{2})(?:\\.(\\d{1,6}))?';
  const group = (index: number) => `regexp_extract(${c}, '${time}', ${index})`;
  const micros =
    `CASE WHEN ${group(2)} = '' THEN 0 ELSE (CASE WHEN ${group(1)} = '-' THEN -1 ELSE 1 END) * ` +
    `(((CAST(${group(2)} AS BIGINT) * 60 + CAST(${group(3)} AS BIGINT)) * 60 + CAST(${group(4)} AS BIGINT)) * 1000000 + CAST(rpad(${group(5)}, 6, '0') AS BIGINT)) END`;
  return `to_months(CAST(${units('year')} * 12 + ${units('mon')} AS INTEGER)) + to_days(CAST(${units('day')} AS INTEGER)) + to_microseconds(${micros})`;
}

/** The mapping of a built-in scalar type, or undefined. */
function scalarMapping(oid: number, typmod: number, name: string): ColumnMapping | undefined {
  const mapping = baseScalarMapping(oid, typmod, name);
  return mapping === undefined || mapping.fromText !== undefined
    ? mapping
    : withText(mapping, ...textForm(oid));
}

/** How the bulk path reads a type's text (CSV column type, then the expression staging it). */
function textForm(oid: number): [string, ((column: string) => string)?] {
  switch (oid) {
    case OID.bool:
      return ['BOOLEAN'];
    case OID.int2:
      return ['SMALLINT'];
    case OID.int4:
      return ['INTEGER'];
    case OID.int8:
      return ['BIGINT'];
    case OID.oid:
      return ['UINTEGER'];
    // Number() then a JavaScript number into a FLOAT: a double, rounded to single precision.
    case OID.float4:
      return ['DOUBLE', (c) => `CAST(${c} AS FLOAT)`];
    case OID.float8:
      return ['DOUBLE'];
    case OID.date:
      return [
        'VARCHAR',
        (c) => `CASE WHEN ends_with(${c}, ' BC') THEN left(${c}, length(${c}) - 3) || ' (BC)' ELSE ${c} END`,
      ];
    case OID.interval:
      return ['VARCHAR', intervalFromText];
    // bytea_output is hex for the session: `\x0aff…`.
    case OID.bytea:
      return [
        'VARCHAR',
        (c) =>
          `CASE WHEN starts_with(${c}, '\\x') THEN unhex(substr(${c}, 3)) ELSE error('bytea not in hex form') END`,
      ];
    default:
      return ['VARCHAR'];
  }
}

function baseScalarMapping(oid: number, typmod: number, name: string): ColumnMapping | undefined {
  switch (oid) {
    case OID.bool:
      return direct('BOOLEAN', parseBool);
    case OID.int2:
      return direct('SMALLINT', (value) => Number(value));
    case OID.int4:
      return direct('INTEGER', (value) => Number(value));
    case OID.int8:
      return direct('BIGINT', (value) => BigInt(value as string));
    case OID.oid:
      return direct('UINTEGER', (value) => Number(value));
    case OID.float4:
      return direct('FLOAT', (value) => Number(value));
    case OID.float8:
      return direct('DOUBLE', (value) => Number(value));
    case OID.numeric:
      return numericMapping(typmod, name);
    case OID.text:
    case OID.varchar:
    case OID.bpchar:
    case OID.char:
    case OID.name:
    case OID.xml:
    case OID.inet:
    case OID.cidr:
    case OID.macaddr:
    case OID.macaddr8:
    case OID.bit:
    case OID.varbit:
    case OID.money:
    case OID.unknown:
      return direct('VARCHAR', (value) => String(value as string));
    case OID.date:
      return viaText('DATE', parseDate);
    case OID.time:
      return viaText('TIME');
    case OID.timetz:
      return viaText('TIMETZ');
    case OID.timestamp:
      return viaText('TIMESTAMP');
    case OID.timestamptz:
      return viaText('TIMESTAMPTZ');
    case OID.interval:
      return direct('INTERVAL', parseInterval);
    case OID.json:
    case OID.jsonb:
      return viaText('JSON');
    case OID.uuid:
      return viaText('UUID');
    case OID.bytea:
      return direct('BLOB', parseBytes);
    default:
      return undefined;
  }
}

/** DuckDB element type of an array's elements, staged as VARCHAR[] and cast. */
const ELEMENT_TYPES: ReadonlyMap<number, string> = new Map([
  [OID.bool, 'BOOLEAN'],
  [OID.int2, 'SMALLINT'],
  [OID.int4, 'INTEGER'],
  [OID.int8, 'BIGINT'],
  [OID.text, 'VARCHAR'],
  [OID.varchar, 'VARCHAR'],
  [OID.bpchar, 'VARCHAR'],
  [OID.inet, 'VARCHAR'],
  [OID.float4, 'FLOAT'],
  [OID.float8, 'DOUBLE'],
  [OID.date, 'DATE'],
  [OID.timestamp, 'TIMESTAMP'],
  [OID.timestamptz, 'TIMESTAMPTZ'],
  [OID.time, 'TIME'],
  [OID.interval, 'INTERVAL'],
  [OID.uuid, 'UUID'],
  [OID.json, 'JSON'],
  [OID.jsonb, 'JSON'],
]);

/** pg-types' array parser (its type declaration does not match the module: it is a factory). */
const ARRAY_PARSER = pg.types.arrayParser as unknown as {
  create(source: string, transform: (entry: string) => unknown): { parse(): unknown[] };
};

function arrayMapping(elementOid: number, name: string): ColumnMapping {
  const flat = (value: unknown): JS => {
    const parsed = ARRAY_PARSER.create(String(value as string), (entry: string) => entry).parse();
    if (parsed.some((entry) => Array.isArray(entry))) {
      throw new TypeMismatch(`a multi-dimensional array (${String(value as string).slice(0, 40)})`);
    }
    return parsed as JS;
  };
  if (elementOid === OID.numeric) {
    // Element digits decide the DECIMAL, as for a numeric without precision.
    const inner = inferredDecimal('numeric[]', name);
    return {
      staging: 'VARCHAR[]',
      convert: (value) => {
        const list = flat(value) as (string | null)[];
        for (const entry of list) if (entry !== null) inner.convert(entry);
        return list;
      },
      target: () => `${inner.target()}[]`,
      note: () => inner.note?.(),
    };
  }
  const element = ELEMENT_TYPES.get(elementOid) ?? 'VARCHAR';
  return { staging: 'VARCHAR[]', convert: flat, target: () => `${element}[]` };
}

function postgresColumn(field: DescribedField, lookedUp: ReadonlyMap<number, PgTypeInfo>): ResultColumn {
  const oid = field.dataTypeID;
  const raw = withText(
    direct('VARCHAR', (value) => String(value as string)),
    'VARCHAR',
  );
  const element = ARRAYS.get(oid);
  if (element !== undefined) {
    const mapping = arrayMapping(element, field.name);
    return {
      name: field.name,
      sourceType: `${TYPE_NAMES.get(element) ?? 'array'}[]`,
      mapping,
      overridable: mapping,
    };
  }
  const scalar = scalarMapping(oid, field.dataTypeModifier, field.name);
  if (scalar !== undefined) {
    return {
      name: field.name,
      sourceType: sourceTypeName(oid, field.dataTypeModifier),
      mapping: scalar,
      overridable: scalar,
    };
  }
  const info = lookedUp.get(oid);
  const sourceType = info?.name ?? `type oid ${oid}`;
  if (info !== undefined) {
    // Enums and string-like extension types (citext) are text; a domain maps as its base type.
    if (info.typtype === 'e' || info.category === 'S')
      return { name: field.name, sourceType, mapping: raw, overridable: raw };
    if (info.typtype === 'd') {
      const base = scalarMapping(info.base, -1, field.name);
      if (base !== undefined) return { name: field.name, sourceType, mapping: base, overridable: base };
    }
  }
  return { name: field.name, sourceType, mapping: undefined, overridable: raw };
}

function sourceTypeName(oid: number, typmod: number): string {
  const name = TYPE_NAMES.get(oid) ?? `oid ${oid}`;
  if (oid === OID.numeric && typmod >= 4)
    return `numeric(${((typmod - 4) >> 16) & 0xffff},${(typmod - 4) & 0xffff})`;
  return name;
}
