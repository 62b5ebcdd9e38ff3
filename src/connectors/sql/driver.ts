/**
 * The one interface the SQL steps talk to, implemented for PostgreSQL (pg + pg-cursor + pg-copy-streams),
 * MariaDB (mariadb) and SQLite (better-sqlite3). A driver holds one connection for one step: it streams
 * query results in batches with a DuckDB type mapping per column, runs statements, describes tables and
 * bulk-loads a dataset of the run database inside one transaction.
 */
import type { DuckDBConnection, JS } from '@duckdb/node-api';
import type { SqlDialect, SqlSettings } from './config.js';
import type { TableName } from './identifiers.js';
import type { DatasetColumn } from './duckdb-types.js';
import type { CopyOutStream } from './postgres-copy.js';

/** How one result column reaches DuckDB: staged as `staging`, then cast to `target()`. */
export interface ColumnMapping {
  /** DuckDB type of the staging column, i.e. of what `convert` returns. */
  readonly staging: string;
  /** Turns one non-null driver value into the staging value; throws a TypeMismatch when it cannot. */
  convert(value: unknown): JS;
  /** The dataset column's DuckDB type, asked once every row has been seen. */
  target(): string;
  /** A remark for the log once every row was seen (e.g. NUMERIC kept as text), if any. */
  note?(): string | undefined;
  /**
   * For the bulk path (PostgreSQL COPY read by DuckDB as CSV): how the value's text form is read
   * (`read`, a DuckDB type for read_csv) and turned into exactly what `convert` would have staged
   * (`stage`, a DuckDB expression over the read column). Absent: the type has no bulk path.
   */
  readonly fromText?: TextForm;
  /**
   * For a target decided by the values seen (inferred decimals): a DuckDB aggregate over the staged
   * column and how to take its result, so the bulk path decides it without calling `convert` per value.
   */
  readonly summarize?: Summary;
}

export interface TextForm {
  read: string;
  stage(column: string): string;
}

export interface Summary {
  /** One aggregate expression per value asked, over the staged column. */
  select(column: string): string[];
  take(values: readonly unknown[]): void;
}

export interface ResultColumn {
  name: string;
  /** The source's own name of the type, for messages (`numeric(20,6)`, `DATETIME`, `INTEGER`). */
  sourceType: string;
  /** Undefined for a type with no DuckDB equivalent (fails unless `columns:` overrides it). */
  mapping: ColumnMapping | undefined;
  /**
   * The mapping to use with a `columns:` override: the natural one when the type is known, else one
   * that stages the driver's text.
   */
  overridable: ColumnMapping | undefined;
}

/** A value that does not fit its column's mapping (SQLite text in an INTEGER column). */
export class TypeMismatch extends Error {
  constructor(readonly found: string) {
    super(found);
  }
}

export interface RowStream {
  readonly columns: readonly ResultColumn[];
  /** The next batch of rows (raw driver values, column order), or undefined once the result ends. */
  next(): Promise<unknown[][] | undefined>;
  /** Ends the result early (closing a cursor); safe to call twice. */
  close(): Promise<void>;
}

/** A query result the database copies in bulk as CSV (PostgreSQL `COPY (…) TO STDOUT`). */
export interface BulkSource {
  readonly columns: readonly ResultColumn[];
  /** The statement sent, for turning an error position into a line (the query starts on line 2). */
  readonly statement: string;
  /** Starts the copy: whole CSV rows, NULL as an unquoted `\N`. */
  copy(): CopyOutStream;
}

export interface StreamOptions {
  batchSize: number;
  /** Column name → DuckDB type from `columns:`. */
  overrides: ReadonlyMap<string, string>;
}

export interface TableColumn {
  name: string;
  /** The database's own type text. */
  type: string;
  nullable: boolean;
}

export type LoadMode = 'create' | 'append' | 'replace' | 'upsert';

export interface LoadRequest {
  table: TableName;
  mode: LoadMode;
  keys: readonly string[];
  createIfMissing: boolean;
  /** The dataset's columns (DuckDB types), in order. */
  columns: readonly DatasetColumn[];
  /** The run database connection and the quoted dataset name to read from. */
  duck: DuckDBConnection;
  dataset: string;
  /** Folder for temporary files (the run workspace). */
  tempDir: string;
  batchSize: number;
  signal: AbortSignal;
  /** Column names of the table as they will be written (dataset name → table column name). */
  targetNames: ReadonlyMap<string, string>;
  /** Whether the table exists (described before the load). */
  exists: boolean;
}

export interface LoadOutcome {
  rows: number;
  /** Whether the step created the table. */
  created: boolean;
}

export interface SqlDriver {
  readonly dialect: SqlDialect;
  readonly settings: SqlSettings;
  /** Placeholder for the n-th (1-based) parameter: `$n` or `?`. */
  placeholder(index: number): string;
  quote(name: string): string;
  stream(sql: string, params: readonly unknown[], options: StreamOptions): Promise<RowStream>;
  /**
   * The query's result described without running it, ready to copy in bulk; or why it cannot be
   * (the reason is logged and the step streams rows instead). Only PostgreSQL has one.
   */
  bulkSource?(sql: string): Promise<BulkSource | string>;
  /** The first column of the first row (raw driver value), e.g. `max(cursor)`. */
  scalar(sql: string, params: readonly unknown[]): Promise<unknown>;
  /** Runs one statement with parameters, or several without; returns affected rows when known. */
  execute(sql: string, params: readonly unknown[]): Promise<number | undefined>;
  /** A transaction; `snapshot` asks for one consistent view across statements (REPEATABLE READ). */
  begin(options?: { snapshot?: boolean }): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** The table's columns, or undefined when it does not exist. */
  describeTable(table: TableName): Promise<TableColumn[] | undefined>;
  /** Loads the dataset into the table in one transaction (see LoadRequest). */
  load(request: LoadRequest): Promise<LoadOutcome>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Read-only access where the database supports it (SQLite for sql.query). */
  readOnly?: boolean;
  /** Several statements in one `execute` (sql.exec). */
  multipleStatements?: boolean;
  signal?: AbortSignal | undefined;
}

/** Opens a driver for the settings; the caller closes it. Errors are driver errors (see errors.ts). */
export async function openSqlDriver(settings: SqlSettings, options: OpenOptions = {}): Promise<SqlDriver> {
  switch (settings.dialect) {
    case 'postgres':
      return (await import('./postgres.js')).openPostgres(settings, options);
    case 'mariadb':
      return (await import('./mariadb.js')).openMariadb(settings, options);
    case 'sqlite':
      return (await import('./sqlite.js')).openSqlite(settings, options);
  }
}

/** A mapping with its target replaced by a `columns:` override. */
export function overridden(mapping: ColumnMapping, type: string): ColumnMapping {
  return {
    staging: mapping.staging,
    convert: (value) => mapping.convert(value),
    target: () => type,
    ...(mapping.fromText === undefined ? {} : { fromText: mapping.fromText }),
  };
}

/** The mapping with its bulk-path text form: read as `read`, staged by `stage` (default: as read). */
export function withText(
  mapping: ColumnMapping,
  read: string,
  stage: (column: string) => string = (column) => column,
): ColumnMapping {
  return { ...mapping, fromText: { read, stage } };
}

/** The plainest mapping: a value kept as it is, of one DuckDB type. */
export function direct(
  type: string,
  convert: (value: unknown) => JS = (value) => value as JS,
): ColumnMapping {
  return { staging: type, convert, target: () => type };
}

/** Text staged as VARCHAR and cast to `type` by DuckDB. */
export function viaText(
  type: string,
  convert: (value: unknown) => JS = (value) => String(value as string),
): ColumnMapping {
  return { staging: 'VARCHAR', convert, target: () => type };
}

/**
 * Exact decimals (PostgreSQL numeric without precision, SQLite NUMERIC): staged as text, typed from
 * the digits seen as DECIMAL(p,s) when p ≤ 38, else kept as VARCHAR with a note.
 */
export function inferredDecimal(source: string, columnName: string): ColumnMapping {
  let integerDigits = 1;
  let scale = 0;
  let special = false;
  return {
    staging: 'VARCHAR',
    convert(value) {
      const text = typeof value === 'string' ? value : String(value as number);
      const match = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
      if (match === null || match[3] !== undefined) special = true;
      else {
        integerDigits = Math.max(integerDigits, (match[1] ?? '').replace(/^0+/, '').length || 1);
        scale = Math.max(scale, (match[2] ?? '').length);
      }
      return text;
    },
    target() {
      if (special) return 'VARCHAR';
      const precision = integerDigits + scale;
      return precision <= 38 ? `DECIMAL(${Math.max(precision, 1)},${scale})` : 'VARCHAR';
    },
    fromText: { read: 'VARCHAR', stage: (column) => column },
    // The same reading of the digits as `convert`, in DuckDB: an exponent or NaN is special.
    summarize: {
      select: (column) => {
        const plain = `regexp_full_match(${column}, '[+-]?\\d*(\\.\\d*)?')`;
        return [
          `bool_or(NOT ${plain})`,
          `max(greatest(length(ltrim(regexp_extract(${column}, '^[+-]?(\\d*)', 1), '0')), 1)) FILTER (WHERE ${plain})`,
          `max(length(regexp_extract(${column}, '\\.(\\d*)$', 1))) FILTER (WHERE ${plain})`,
        ];
      },
      take: ([anySpecial, digits, places]) => {
        if (anySpecial === true) special = true;
        if (digits !== null && digits !== undefined) integerDigits = Math.max(integerDigits, Number(digits));
        if (places !== null && places !== undefined) scale = Math.max(scale, Number(places));
      },
    },
    note() {
      if (special)
        return `column '${columnName}' (${source}) holds values such as NaN or exponents and was kept as VARCHAR`;
      return integerDigits + scale > 38
        ? `column '${columnName}' (${source}) needs ${integerDigits + scale} digits, more than DuckDB's DECIMAL holds (38), and was kept as VARCHAR`
        : undefined;
    },
  };
}
