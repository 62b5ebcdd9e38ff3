/**
 * MariaDB (and MySQL): one `mariadb` connection per step. Results stream through `queryStream` (the
 * socket pauses while a batch is appended to DuckDB), with dates, decimals and big integers kept exact
 * (dates as text, DECIMAL as text, BIGINT as bigint) and the session in UTC, so TIMESTAMP columns read
 * as instants. Loads send multi-row batches (`batch()`, MariaDB's bulk protocol) inside one
 * transaction: measured faster here than LOAD DATA LOCAL INFILE, and without needing `local_infile`
 * on the server (see docs/reference/steps/sql-load.md).
 */
import mariadb from 'mariadb';
import type { Connection, FieldInfo } from 'mariadb';
import { PwError } from '../../core/errors/pw-error.js';
import type { ServerSettings } from './config.js';
import {
  direct,
  viaText,
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
import { forEachBatch } from './dataset-reader.js';
import { columnTypeFor } from './duckdb-types.js';
import { quoteName, quoteTable, showTable, type TableName } from './identifiers.js';

const BINARY_COLLATION = 63;

export async function openMariadb(settings: ServerSettings, options: OpenOptions): Promise<SqlDriver> {
  const tls = settings.tls;
  let aborted = false;
  let connection: Connection | undefined;
  const onAbort = () => {
    aborted = true;
    connection?.destroy();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    connection = await mariadb.createConnection({
      host: settings.host,
      port: settings.port,
      user: settings.user ?? '',
      password: settings.password ?? '',
      ...(settings.database === undefined ? {} : { database: settings.database }),
      connectTimeout: settings.connectTimeoutMs,
      rowsAsArray: true,
      dateStrings: true,
      bigIntAsNumber: false,
      decimalAsNumber: false,
      autoJsonMap: false,
      permitLocalInfile: false,
      multipleStatements: options.multipleStatements === true,
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
    connection.on('error', () => undefined);
    if (aborted) throw new Error('aborted');
    await connection.query("SET time_zone = '+00:00'");
  } catch (error) {
    options.signal?.removeEventListener('abort', onAbort);
    connection?.destroy();
    throw error;
  }
  return new MariadbDriver(settings, connection, () => options.signal?.removeEventListener('abort', onAbort));
}

class MariadbDriver implements SqlDriver {
  readonly dialect = 'mariadb' as const;

  constructor(
    readonly settings: ServerSettings,
    readonly connection: Connection,
    readonly detach: () => void,
  ) {}

  placeholder(): string {
    return '?';
  }

  quote(name: string): string {
    return quoteName('mariadb', name);
  }

  async stream(sql: string, params: readonly unknown[], options: StreamOptions): Promise<RowStream> {
    const stream = this.connection.queryStream({ sql, rowsAsArray: true }, [...params]);
    let fields: FieldInfo[] = [];
    stream.on('fields', (meta: FieldInfo[]) => {
      fields = meta;
    });
    const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<unknown[]>;
    let ended = false;
    const first = await iterator.next();
    if (first.done === true) ended = true;
    let pending: unknown[] | undefined = first.done === true ? undefined : first.value;
    const columns = fields.map(mariadbColumn);
    return {
      columns,
      next: async () => {
        if (ended && pending === undefined) return undefined;
        const rows: unknown[][] = [];
        if (pending !== undefined) {
          rows.push(pending);
          pending = undefined;
        }
        while (!ended && rows.length < options.batchSize) {
          const item = await iterator.next();
          if (item.done === true) ended = true;
          else rows.push(item.value);
        }
        return rows.length > 0 ? rows : undefined;
      },
      close: async () => {
        if (!ended) {
          // Rows left unread keep the connection busy; the step is done with it anyway.
          ended = true;
          stream.destroy();
          this.connection.destroy();
        }
        await Promise.resolve();
      },
    };
  }

  async scalar(sql: string, params: readonly unknown[]): Promise<unknown> {
    const rows = (await this.connection.query({ sql, rowsAsArray: true }, [...params])) as unknown[][];
    return rows[0]?.[0] ?? null;
  }

  async execute(sql: string, params: readonly unknown[]): Promise<number | undefined> {
    const result = (await this.connection.query(sql, [...params])) as unknown;
    const results =
      Array.isArray(result) &&
      result.every((item) => typeof item === 'object' && item !== null && 'affectedRows' in item)
        ? result
        : [result];
    let total: number | undefined;
    for (const item of results as { affectedRows?: number }[]) {
      if (typeof item === 'object' && item !== null && typeof item.affectedRows === 'number')
        total = (total ?? 0) + item.affectedRows;
    }
    return total;
  }

  async begin(options: { snapshot?: boolean } = {}): Promise<void> {
    await this.connection.query(
      options.snapshot ? 'START TRANSACTION WITH CONSISTENT SNAPSHOT' : 'START TRANSACTION',
    );
  }

  async commit(): Promise<void> {
    await this.connection.commit();
  }

  async rollback(): Promise<void> {
    await this.connection.rollback();
  }

  async describeTable(table: TableName): Promise<TableColumn[] | undefined> {
    const rows = (await this.connection.query(
      {
        sql: `SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS
               WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
        rowsAsArray: true,
      },
      [table.schema ?? null, table.name],
    )) as [string, string, string][];
    if (rows.length === 0) return undefined;
    return rows.map(([name, type, nullable]) => ({ name, type, nullable: nullable === 'YES' }));
  }

  async #checkUniqueKey(table: TableName, keys: readonly string[]): Promise<void> {
    const rows = (await this.connection.query(
      {
        sql: `SELECT INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR '\\0') FROM information_schema.STATISTICS
               WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND NON_UNIQUE = 0 GROUP BY INDEX_NAME`,
        rowsAsArray: true,
      },
      [table.schema ?? null, table.name],
    )) as [string, string][];
    const wanted = [...keys]
      .map((key) => key.toLowerCase())
      .sort()
      .join('\0');
    const match = rows.some(
      ([, columns]) =>
        columns
          .split('\0')
          .map((column) => column.toLowerCase())
          .sort()
          .join('\0') === wanted,
    );
    if (!match) {
      throw new PwError(
        'PW_DB_QUERY',
        `Table ${showTable(table)} has no PRIMARY KEY or UNIQUE index on exactly (${keys.join(', ')}), which an upsert matches rows by`,
        {
          path: 'with.keys',
          hint: `Add one (ALTER TABLE … ADD UNIQUE (${keys.join(', ')})), or set keys to the columns of an existing unique index.`,
        },
      );
    }
  }

  async load(request: LoadRequest): Promise<LoadOutcome> {
    const target = quoteTable('mariadb', request.table);
    const names = request.columns.map((column) => request.targetNames.get(column.name) ?? column.name);
    const columnList = names.map((name) => quoteName('mariadb', name)).join(', ');
    const keyNames = new Set(request.keys.map((key) => request.targetNames.get(key) ?? key));
    const created = !request.exists;
    // Values that do not fit a column are errors, not silent truncations.
    await this.connection.query(
      "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')",
    );
    if (created) {
      const definitions = request.columns.map(
        (column, index) =>
          `${quoteName('mariadb', names[index] ?? column.name)} ${columnTypeFor('mariadb', column, request.mode === 'upsert' && request.keys.includes(column.name))}`,
      );
      if (request.mode === 'upsert')
        definitions.push(
          `PRIMARY KEY (${[...keyNames].map((name) => quoteName('mariadb', name)).join(', ')})`,
        );
      // DDL commits on its own in MariaDB; a failed load drops the table again below.
      await this.connection.query(`CREATE TABLE ${target} (${definitions.join(', ')})`);
    } else if (request.mode === 'upsert') {
      await this.#checkUniqueKey(request.table, [...keyNames]);
    }
    const updates = names
      .filter((name) => !keyNames.has(name))
      .map((name) => `${quoteName('mariadb', name)} = VALUES(${quoteName('mariadb', name)})`);
    const insert =
      `INSERT INTO ${target} (${columnList}) VALUES (${names.map(() => '?').join(', ')})` +
      (request.mode === 'upsert'
        ? updates.length > 0
          ? ` ON DUPLICATE KEY UPDATE ${updates.join(', ')}`
          : ` ON DUPLICATE KEY UPDATE ${quoteName('mariadb', names[0] ?? '')} = ${quoteName('mariadb', names[0] ?? '')}`
        : '');
    try {
      await this.begin();
      if (request.mode === 'replace' && !created) await this.connection.query(`DELETE FROM ${target}`);
      const rows = await forEachBatch(
        request.duck,
        request.dataset,
        request.columns,
        'mariadb',
        request.batchSize,
        request.signal,
        async (batch, firstRow) => {
          try {
            await this.connection.batch(insert, batch);
          } catch (error) {
            throw await this.#locateFailure(error, insert, batch, firstRow);
          }
        },
      );
      request.signal.throwIfAborted();
      await this.commit();
      return { rows, created };
    } catch (error) {
      await this.rollback().catch(() => undefined);
      if (created) await this.connection.query(`DROP TABLE IF EXISTS ${target}`).catch(() => undefined);
      throw error;
    }
  }

  /**
   * A batch fails as a whole (InnoDB undoes the statement); inserting its rows one by one finds the
   * first one the table refuses, so the error can name it. The transaction is rolled back afterwards.
   */
  async #locateFailure(
    error: unknown,
    insert: string,
    batch: readonly unknown[][],
    firstRow: number,
  ): Promise<unknown> {
    const failure = error as { errno?: number; fatal?: boolean };
    if (failure.fatal === true || typeof failure.errno !== 'number') return error;
    for (const [index, row] of batch.entries()) {
      try {
        await this.connection.query(insert, [...row]);
      } catch (single) {
        Object.assign(single as object, { pwRow: firstRow + index });
        return single;
      }
    }
    return error;
  }

  async close(): Promise<void> {
    this.detach();
    await this.connection.end().catch(() => this.connection.destroy());
  }
}

/** BIT(n) arrives as bytes (BIT(1) as a boolean with the driver's defaults). */
const bigFromBits = (value: unknown): bigint => {
  if (typeof value === 'boolean') return value ? 1n : 0n;
  if (typeof value === 'number' || typeof value === 'bigint') return BigInt(value);
  const bytes = value as Buffer;
  let result = 0n;
  for (const byte of bytes) result = (result << 8n) | BigInt(byte);
  return result;
};

/** Zero dates (`0000-00-00`) have no DuckDB equivalent: read as NULL and counted for a note. */
function temporal(type: string, columnName: string, suffix = ''): ColumnMapping {
  let zeros = 0;
  return {
    staging: 'VARCHAR',
    convert(value) {
      const text = String(value as string);
      if (text.startsWith('0000-00-00')) {
        zeros += 1;
        return null;
      }
      return suffix === '' ? text : `${text}${suffix}`;
    },
    target: () => type,
    note: () =>
      zeros > 0 ? `column '${columnName}': ${zeros} zero date(s) (0000-00-00) read as NULL` : undefined,
  };
}

function mariadbColumn(field: FieldInfo): ResultColumn {
  const name = field.name();
  const unsigned = !field.signed();
  const raw = direct('VARCHAR', (value) =>
    Buffer.isBuffer(value) ? value.toString('utf8') : String(value as string),
  );
  const sourceType = `${field.type}${field.dataTypeName ? ` (${field.dataTypeName})` : ''}`;
  const result = (mapping: ColumnMapping | undefined): ResultColumn => ({
    name,
    sourceType,
    mapping,
    overridable: mapping ?? raw,
  });
  switch (field.type) {
    case 'TINY':
      return result(direct(unsigned ? 'UTINYINT' : 'TINYINT', (value) => Number(value)));
    case 'SHORT':
      return result(direct(unsigned ? 'USMALLINT' : 'SMALLINT', (value) => Number(value)));
    case 'YEAR':
      return result(direct('SMALLINT', (value) => Number(value)));
    case 'INT24':
    case 'INT':
      return result(direct(unsigned ? 'UINTEGER' : 'INTEGER', (value) => Number(value)));
    case 'BIGINT':
      return result(direct(unsigned ? 'UBIGINT' : 'BIGINT', (value) => BigInt(value as bigint)));
    case 'FLOAT':
      return result(direct('FLOAT', (value) => Number(value)));
    case 'DOUBLE':
      return result(direct('DOUBLE', (value) => Number(value)));
    case 'DECIMAL':
    case 'NEWDECIMAL': {
      const scale = field.scale;
      const precision = field.columnLength - (scale > 0 ? 1 : 0) - (unsigned ? 0 : 1);
      return result(viaText(precision <= 38 && precision > 0 ? `DECIMAL(${precision},${scale})` : 'VARCHAR'));
    }
    case 'DATE':
    case 'NEWDATE':
      return result(temporal('DATE', name));
    case 'DATETIME':
    case 'DATETIME2':
      return result(temporal('TIMESTAMP', name));
    case 'TIMESTAMP':
    case 'TIMESTAMP2':
      // The session runs in UTC, so a TIMESTAMP's text is the UTC instant.
      return result(temporal('TIMESTAMPTZ', name, '+00'));
    case 'TIME':
    case 'TIME2':
      return result(viaText('TIME'));
    case 'BIT':
      return result(
        field.columnLength === 1
          ? direct('BOOLEAN', (value) => bigFromBits(value) === 1n)
          : direct('UBIGINT', bigFromBits),
      );
    case 'JSON':
      return result(
        viaText('JSON', (value) =>
          Buffer.isBuffer(value) ? value.toString('utf8') : String(value as string),
        ),
      );
    case 'NULL':
      return result(raw);
    case 'GEOMETRY':
      return { name, sourceType, mapping: undefined, overridable: undefined };
    default:
      break;
  }
  // Strings and blobs: binary collation means bytes; JSON and UUID come as extended metadata.
  if (field.isDataTypeFormatJson())
    return result(
      viaText('JSON', (value) => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value as string))),
    );
  if (field.dataTypeName === 'uuid') return result(viaText('UUID'));
  if (field.isSet())
    return result(
      direct('VARCHAR[]', (value) =>
        Array.isArray(value) ? (value as string[]) : String(value as string).split(','),
      ),
    );
  if (field.collation.index === BINARY_COLLATION)
    return result(
      direct('BLOB', (value) => (Buffer.isBuffer(value) ? value : Buffer.from(String(value as string)))),
    );
  return result(raw);
}
