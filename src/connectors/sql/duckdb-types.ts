/**
 * DuckDB column types on the way out of the run database: the column type a table gets when
 * `sql.load` creates it, and the DuckDB expression that turns a value into what each database accepts
 * (PostgreSQL COPY text, MariaDB and SQLite bind values).
 */
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent } from '../../core/sql-identifiers.js';
import type { SqlDialect } from './config.js';

export interface DatasetColumn {
  name: string;
  /** DuckDB's type text, e.g. `DECIMAL(20,6)`, `INTEGER[]`, `TIMESTAMP WITH TIME ZONE`. */
  type: string;
}

export type DuckType =
  | { kind: 'scalar'; name: string; precision?: number; scale?: number }
  | { kind: 'list'; element: DuckType }
  | { kind: 'nested'; text: string };

const ALIASES: Readonly<Record<string, string>> = {
  'TIMESTAMP WITH TIME ZONE': 'TIMESTAMPTZ',
  'TIME WITH TIME ZONE': 'TIMETZ',
  INT: 'INTEGER',
  INT4: 'INTEGER',
  INT8: 'BIGINT',
  INT2: 'SMALLINT',
  INT1: 'TINYINT',
  BOOL: 'BOOLEAN',
  FLOAT4: 'FLOAT',
  REAL: 'FLOAT',
  FLOAT8: 'DOUBLE',
  STRING: 'VARCHAR',
  TEXT: 'VARCHAR',
  BYTEA: 'BLOB',
  DATETIME: 'TIMESTAMP',
};

export function parseDuckType(text: string): DuckType {
  const trimmed = text.trim();
  const list = /^(.*)\[\d*\]$/s.exec(trimmed);
  if (list?.[1] !== undefined) return { kind: 'list', element: parseDuckType(list[1]) };
  if (/^(STRUCT|MAP|UNION)\s*\(/i.test(trimmed)) return { kind: 'nested', text: trimmed };
  if (/^ENUM\s*\(/i.test(trimmed)) return { kind: 'scalar', name: 'VARCHAR' };
  const decimal = /^(?:DECIMAL|NUMERIC)\s*\((\d+)\s*,\s*(\d+)\)$/i.exec(trimmed);
  if (decimal)
    return { kind: 'scalar', name: 'DECIMAL', precision: Number(decimal[1]), scale: Number(decimal[2]) };
  const upper = trimmed.toUpperCase();
  if (upper === 'DECIMAL' || upper === 'NUMERIC')
    return { kind: 'scalar', name: 'DECIMAL', precision: 18, scale: 3 };
  if (/^VARCHAR\s*\(\d+\)$/.test(upper)) return { kind: 'scalar', name: 'VARCHAR' };
  return { kind: 'scalar', name: ALIASES[upper] ?? upper };
}

function unsupported(column: DatasetColumn, dialect: SqlDialect): PwError {
  return new PwError(
    'PW_DB_TYPE',
    `Column '${column.name}' has DuckDB type ${column.type}, for which a ${dialect} table has no column type`,
    {
      expected: 'a scalar type, a list of scalars, a struct or a map',
      found: column.type,
      hint: 'Cast the column in an earlier sql step (e.g. to VARCHAR or JSON), or create the table yourself.',
    },
  );
}

/** The column type of a table created by `sql.load` for a DuckDB column. */
export function columnTypeFor(dialect: SqlDialect, column: DatasetColumn, key: boolean): string {
  const type = parseDuckType(column.type);
  switch (dialect) {
    case 'postgres':
      return postgresType(type, column);
    case 'mariadb':
      return mariadbType(type, column, key);
    case 'sqlite':
      return sqliteType(type);
  }
}

function postgresType(type: DuckType, column: DatasetColumn): string {
  if (type.kind === 'nested') return 'jsonb';
  if (type.kind === 'list') {
    if (type.element.kind !== 'scalar') return 'jsonb';
    return `${postgresType(type.element, column)}[]`;
  }
  switch (type.name) {
    case 'BOOLEAN':
      return 'boolean';
    case 'TINYINT':
    case 'SMALLINT':
    case 'UTINYINT':
      return 'smallint';
    case 'INTEGER':
    case 'USMALLINT':
      return 'integer';
    case 'BIGINT':
    case 'UINTEGER':
      return 'bigint';
    case 'UBIGINT':
      return 'numeric(20,0)';
    case 'HUGEINT':
    case 'UHUGEINT':
      return 'numeric(39,0)';
    case 'FLOAT':
      return 'real';
    case 'DOUBLE':
      return 'double precision';
    case 'DECIMAL':
      return `numeric(${type.precision ?? 18},${type.scale ?? 3})`;
    case 'VARCHAR':
      return 'text';
    case 'BLOB':
      return 'bytea';
    case 'DATE':
      return 'date';
    case 'TIME':
      return 'time';
    case 'TIMETZ':
      return 'timetz';
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
      return 'timestamp';
    case 'TIMESTAMPTZ':
      return 'timestamptz';
    case 'INTERVAL':
      return 'interval';
    case 'UUID':
      return 'uuid';
    case 'JSON':
      return 'jsonb';
    case 'BIGNUM':
      return 'numeric';
    default:
      throw unsupported(column, 'postgres');
  }
}

function mariadbType(type: DuckType, column: DatasetColumn, key: boolean): string {
  if (type.kind !== 'scalar') return 'JSON';
  switch (type.name) {
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'TINYINT':
      return 'TINYINT';
    case 'UTINYINT':
      return 'TINYINT UNSIGNED';
    case 'SMALLINT':
      return 'SMALLINT';
    case 'USMALLINT':
      return 'SMALLINT UNSIGNED';
    case 'INTEGER':
      return 'INT';
    case 'UINTEGER':
      return 'INT UNSIGNED';
    case 'BIGINT':
      return 'BIGINT';
    case 'UBIGINT':
      return 'BIGINT UNSIGNED';
    case 'HUGEINT':
    case 'UHUGEINT':
      return 'DECIMAL(39,0)';
    case 'FLOAT':
      return 'FLOAT';
    case 'DOUBLE':
      return 'DOUBLE';
    case 'DECIMAL':
      return `DECIMAL(${type.precision ?? 18},${type.scale ?? 3})`;
    case 'VARCHAR':
      // A key column needs a bounded length to be indexed.
      return key ? 'VARCHAR(255)' : 'LONGTEXT';
    case 'BLOB':
      return key ? 'VARBINARY(255)' : 'LONGBLOB';
    case 'DATE':
      return 'DATE';
    case 'TIME':
      return 'TIME(6)';
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
    case 'TIMESTAMPTZ':
      return 'DATETIME(6)';
    case 'INTERVAL':
    case 'TIMETZ':
      return 'VARCHAR(64)';
    case 'UUID':
      return 'CHAR(36)';
    case 'JSON':
      return 'JSON';
    default:
      throw unsupported(column, 'mariadb');
  }
}

function sqliteType(type: DuckType): string {
  if (type.kind !== 'scalar') return 'JSON TEXT';
  switch (type.name) {
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'BIGINT':
    case 'UTINYINT':
    case 'USMALLINT':
    case 'UINTEGER':
      return 'INTEGER';
    // Beyond 64-bit integers and 15 digits SQLite's NUMERIC affinity would round to REAL: such
    // columns get TEXT affinity (the name still says DECIMAL(p,s), which sql.query reads back).
    case 'UBIGINT':
      return 'TEXT DECIMAL(20,0)';
    case 'HUGEINT':
    case 'UHUGEINT':
      return 'TEXT DECIMAL(39,0)';
    case 'FLOAT':
    case 'DOUBLE':
      return 'REAL';
    case 'DECIMAL': {
      const precision = type.precision ?? 18;
      const decimal = `DECIMAL(${precision},${type.scale ?? 3})`;
      return precision <= 15 ? decimal : `TEXT ${decimal}`;
    }
    case 'BLOB':
      return 'BLOB';
    case 'DATE':
      return 'DATE';
    case 'TIME':
      return 'TIME';
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
      return 'TIMESTAMP';
    case 'TIMESTAMPTZ':
      return 'TIMESTAMPTZ';
    case 'JSON':
      return 'JSON TEXT';
    case 'UUID':
      return 'UUID TEXT';
    default:
      return 'TEXT';
  }
}

/**
 * A DuckDB expression giving column `name` in the form the target takes:
 * - postgres: COPY text (bytea as \x hex, arrays as {…} literals, structs as JSON);
 * - mariadb and sqlite: values to bind (exact numbers and times as text, booleans as 0/1 for SQLite).
 */
export function exportExpression(dialect: SqlDialect, column: DatasetColumn): string {
  const c = quoteIdent(column.name);
  const type = parseDuckType(column.type);
  if (type.kind === 'nested') return `CAST(to_json(${c}) AS VARCHAR)`;
  if (type.kind === 'list') {
    if (dialect !== 'postgres' || type.element.kind !== 'scalar') return `CAST(to_json(${c}) AS VARCHAR)`;
    const element = type.element.name === 'BLOB' ? `'\\x' || hex(x)` : `CAST(x AS VARCHAR)`;
    return `CASE WHEN ${c} IS NULL THEN NULL ELSE '{' || array_to_string(list_transform(${c}, x -> CASE WHEN x IS NULL THEN 'NULL' ELSE '"' || replace(replace(${element}, '\\', '\\\\'), '"', '\\"') || '"' END), ',') || '}' END`;
  }
  switch (type.name) {
    case 'BLOB':
      return dialect === 'postgres' ? `'\\x' || hex(${c})` : c;
    case 'BOOLEAN':
      return dialect === 'sqlite' ? `CAST(${c} AS INTEGER)` : c;
    case 'TIMESTAMPTZ':
      return dialect === 'postgres'
        ? `strftime(timezone('UTC', ${c}), '%Y-%m-%d %H:%M:%S.%f') || '+00'`
        : dialect === 'mariadb'
          ? `strftime(timezone('UTC', ${c}), '%Y-%m-%d %H:%M:%S.%f')`
          : `strftime(timezone('UTC', ${c}), '%Y-%m-%d %H:%M:%S.%f') || '+00:00'`;
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
      return `strftime(CAST(${c} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f')`;
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'BIGINT':
    case 'UTINYINT':
    case 'USMALLINT':
    case 'UINTEGER':
      return c;
    case 'FLOAT':
    case 'DOUBLE':
      return dialect === 'postgres' ? `CAST(${c} AS VARCHAR)` : `CAST(${c} AS DOUBLE)`;
    case 'JSON':
      return `CAST(${c} AS VARCHAR)`;
    default:
      return `CAST(${c} AS VARCHAR)`;
  }
}
