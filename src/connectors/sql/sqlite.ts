/**
 * SQLite through better-sqlite3: a database file relative to the project, opened read-only for
 * queries. SQLite is dynamically typed, so column types come from the declared types with SQLite's own
 * affinity rules (INT → BIGINT, CHAR/CLOB/TEXT → VARCHAR, REAL/FLOA/DOUB → DOUBLE, …, DECIMAL(p,s),
 * DATE, DATETIME/TIMESTAMP, BOOLEAN, JSON by name) and every value is checked against its column's type:
 * text in an INTEGER column is an error naming the row, not a silent NULL. Columns without a declared
 * type (expressions) take the type of the values they hold. Integers are read as bigint, so 64-bit
 * values stay exact. The driver is synchronous; it yields to the event loop between batches.
 */
import Database from 'better-sqlite3';
import type { JS } from '@duckdb/node-api';
import type { SqliteSettings } from './config.js';
import {
  TypeMismatch,
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
import { quoteName, quoteTable, type TableName } from './identifiers.js';

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function openSqlite(settings: SqliteSettings, options: OpenOptions): Promise<SqlDriver> {
  const db = new Database(settings.path, {
    readonly: options.readOnly === true,
    fileMustExist: options.readOnly === true,
    timeout: settings.busyTimeoutMs,
  });
  return new SqliteDriver(settings, db);
}

/** better-sqlite3 binds no booleans. */
function bindable(value: unknown): unknown {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;

  constructor(
    readonly settings: SqliteSettings,
    readonly db: Database.Database,
  ) {}

  placeholder(): string {
    return '?';
  }

  quote(name: string): string {
    return quoteName('sqlite', name);
  }

  async stream(sql: string, params: readonly unknown[], options: StreamOptions): Promise<RowStream> {
    const statement = this.db.prepare(sql);
    if (!statement.reader) {
      throw Object.assign(
        new Error('the statement returns no rows; run statements that change data with sql.exec'),
        {
          code: 'SQLITE_MISUSE',
        },
      );
    }
    statement.safeIntegers(true);
    statement.raw(true);
    const columns = statement.columns().map((column) => sqliteColumn(column.name, column.type));
    const iterator = statement.iterate(...params.map(bindable)) as IterableIterator<unknown[]>;
    let ended = false;
    await Promise.resolve();
    return {
      columns,
      next: async () => {
        if (ended) return undefined;
        await yieldToLoop();
        const rows: unknown[][] = [];
        while (rows.length < options.batchSize) {
          const item = iterator.next();
          if (item.done === true) {
            ended = true;
            break;
          }
          rows.push(item.value);
        }
        return rows.length > 0 ? rows : undefined;
      },
      close: async () => {
        if (!ended) {
          ended = true;
          iterator.return?.();
        }
        await Promise.resolve();
      },
    };
  }

  async scalar(sql: string, params: readonly unknown[]): Promise<unknown> {
    const statement = this.db.prepare(sql);
    statement.safeIntegers(true);
    statement.raw(true);
    const row = statement.get(...params.map(bindable)) as unknown[] | undefined;
    return row?.[0] ?? null;
  }

  async execute(sql: string, params: readonly unknown[]): Promise<number | undefined> {
    if (params.length === 0) {
      const before = this.db.prepare('SELECT total_changes()').pluck().get() as number;
      this.db.exec(sql);
      const after = this.db.prepare('SELECT total_changes()').pluck().get() as number;
      return after - before;
    }
    const result = this.db.prepare(sql).run(...params.map(bindable));
    return result.changes;
  }

  async begin(options: { snapshot?: boolean } = {}): Promise<void> {
    this.db.exec(options.snapshot ? 'BEGIN DEFERRED' : 'BEGIN IMMEDIATE');
  }

  async commit(): Promise<void> {
    this.db.exec('COMMIT');
  }

  async rollback(): Promise<void> {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  async describeTable(table: TableName): Promise<TableColumn[] | undefined> {
    const rows = this.db
      .prepare('SELECT name, type, "notnull" AS not_null FROM pragma_table_info(?, ?)')
      .all(table.name, table.schema ?? 'main') as { name: string; type: string; not_null: number }[];
    return rows.length === 0
      ? undefined
      : rows.map((row) => ({ name: row.name, type: row.type, nullable: row.not_null === 0 }));
  }

  async load(request: LoadRequest): Promise<LoadOutcome> {
    const target = quoteTable('sqlite', request.table);
    const names = request.columns.map((column) => request.targetNames.get(column.name) ?? column.name);
    const columnList = names.map((name) => quoteName('sqlite', name)).join(', ');
    const keyNames = new Set(request.keys.map((key) => request.targetNames.get(key) ?? key));
    const created = !request.exists;
    await this.begin();
    try {
      if (created) {
        const definitions = request.columns.map(
          (column, index) =>
            `${quoteName('sqlite', names[index] ?? column.name)} ${columnTypeFor('sqlite', column, false)}`,
        );
        if (request.mode === 'upsert')
          definitions.push(
            `PRIMARY KEY (${[...keyNames].map((name) => quoteName('sqlite', name)).join(', ')})`,
          );
        this.db.exec(`CREATE TABLE ${target} (${definitions.join(', ')})`);
      }
      if (request.mode === 'replace' && !created) this.db.exec(`DELETE FROM ${target}`);
      const updates = names
        .filter((name) => !keyNames.has(name))
        .map((name) => `${quoteName('sqlite', name)} = excluded.${quoteName('sqlite', name)}`);
      const conflict =
        request.mode === 'upsert'
          ? ` ON CONFLICT (${[...keyNames].map((name) => quoteName('sqlite', name)).join(', ')}) ${updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`
          : '';
      const insert = this.db.prepare(
        `INSERT INTO ${target} (${columnList}) VALUES (${names.map(() => '?').join(', ')})${conflict}`,
      );
      const rows = await forEachBatch(
        request.duck,
        request.dataset,
        request.columns,
        'sqlite',
        request.batchSize,
        request.signal,
        async (batch, firstRow) => {
          for (const [index, row] of batch.entries()) {
            try {
              insert.run(...row);
            } catch (error) {
              throw Object.assign(error as object, { pwRow: firstRow + index });
            }
          }
          await yieldToLoop();
        },
      );
      request.signal.throwIfAborted();
      await this.commit();
      return { rows, created };
    } catch (error) {
      await this.rollback().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

type Kind = 'integer' | 'real' | 'text' | 'blob';

function kindOf(value: unknown): Kind {
  if (typeof value === 'bigint') return 'integer';
  if (typeof value === 'number') return 'real';
  if (typeof value === 'string') return 'text';
  return 'blob';
}

function describe(value: unknown): string {
  const kind = kindOf(value);
  if (kind === 'blob') return `a blob of ${(value as Buffer).length} bytes`;
  const text = String(value as string);
  return `${kind} ${kind === 'text' ? `'${text.length > 40 ? `${text.slice(0, 40)}…` : text}'` : text}`;
}

/** A checked mapping: values of other storage classes than `accept` are refused. */
function checked(
  type: string,
  staging: string,
  accept: readonly Kind[],
  convert: (value: unknown) => JS,
): ColumnMapping {
  return {
    staging,
    convert(value) {
      if (!accept.includes(kindOf(value))) throw new TypeMismatch(describe(value));
      return convert(value);
    },
    target: () => type,
  };
}

const asText = (value: unknown): JS =>
  typeof value === 'bigint' || typeof value === 'number' ? String(value) : (value as string);

/** A column without a declared type: staged as text, typed by the storage classes seen. */
function dynamic(): ColumnMapping {
  const seen = new Set<Kind>();
  return {
    staging: 'VARCHAR',
    convert(value) {
      const kind = kindOf(value);
      seen.add(kind);
      if (kind === 'blob') {
        if (seen.size > 1) throw new TypeMismatch(`${describe(value)} among other values`);
        return [...(value as Buffer)].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join('');
      }
      if (seen.has('blob')) throw new TypeMismatch(`${describe(value)} among blobs`);
      return asText(value);
    },
    target() {
      if (seen.size === 1 && seen.has('integer')) return 'BIGINT';
      if (seen.size > 0 && [...seen].every((kind) => kind === 'integer' || kind === 'real')) return 'DOUBLE';
      if (seen.size === 1 && seen.has('blob')) return 'BLOB';
      return 'VARCHAR';
    },
  };
}

function sqliteColumn(name: string, declared: string | null): ResultColumn {
  const sourceType = declared === null || declared === '' ? 'no declared type' : declared;
  const mapping = sqliteMapping((declared ?? '').trim().toUpperCase());
  return { name, sourceType, mapping, overridable: dynamic() };
}

function sqliteMapping(type: string): ColumnMapping {
  if (type === '') return dynamic();
  const decimal = /(?:^|\s)(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$/.exec(type);
  if (decimal) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2] ?? '0');
    const target = precision <= 38 && scale <= precision ? `DECIMAL(${precision},${scale})` : 'VARCHAR';
    return checked(target, 'VARCHAR', ['integer', 'real', 'text'], asText);
  }
  if (/^BOOL(EAN)?$/.test(type)) {
    return checked('BOOLEAN', 'BOOLEAN', ['integer', 'text'], (value) => {
      if (value === 0n || value === 1n) return value === 1n;
      const text = String(value as string).toLowerCase();
      if (['true', 't', '1'].includes(text)) return true;
      if (['false', 'f', '0'].includes(text)) return false;
      throw new TypeMismatch(describe(value));
    });
  }
  if (/^(DATETIME|TIMESTAMP)(\s*\(\d+\))?$/.test(type))
    return checked('TIMESTAMP', 'VARCHAR', ['text'], asText);
  if (/^TIMESTAMPTZ$|^TIMESTAMP WITH TIME ZONE$/.test(type))
    return checked('TIMESTAMPTZ', 'VARCHAR', ['text'], asText);
  if (type === 'DATE') return checked('DATE', 'VARCHAR', ['text'], asText);
  if (type === 'TIME') return checked('TIME', 'VARCHAR', ['text'], asText);
  if (/^JSON\b/.test(type)) return checked('JSON', 'VARCHAR', ['text', 'integer', 'real'], asText);
  if (/^UUID\b/.test(type)) return checked('UUID', 'VARCHAR', ['text'], asText);
  // SQLite's affinity rules, in their order.
  if (type.includes('INT')) return checked('BIGINT', 'BIGINT', ['integer'], (value) => value as bigint);
  if (/CHAR|CLOB|TEXT/.test(type)) return checked('VARCHAR', 'VARCHAR', ['text', 'integer', 'real'], asText);
  if (type.includes('BLOB')) return checked('BLOB', 'BLOB', ['blob'], (value) => value as Buffer);
  if (/REAL|FLOA|DOUB/.test(type))
    return checked('DOUBLE', 'DOUBLE', ['real', 'integer'], (value) => Number(value));
  // NUMERIC affinity without precision: whatever numbers the column holds.
  return dynamic();
}
