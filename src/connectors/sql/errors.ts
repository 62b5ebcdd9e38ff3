/**
 * Driver errors (pg, mariadb, better-sqlite3, Node sockets and TLS) turned into PwErrors whose code says
 * who must act: PW_DB_UNREACHABLE and PW_DB_TRANSIENT pass (and are retried), PW_DB_AUTH, PW_DB_TLS,
 * PW_DB_QUERY and PW_DB_CONSTRAINT need a fix. Every message names the step and the connection and
 * quotes the server, with the connection's password and any URL password masked; the driver error is
 * not kept as the cause, so no stack or property of it can carry a secret further.
 */
import { PwError } from '../../core/errors/pw-error.js';
import type { ErrorCode } from '../../core/errors/codes.js';
import { describeConnection, maskSecrets, type SqlSettings } from './config.js';
import { SOCKET_ERROR_CODES } from '../network-errors.js';

export type DbPhase = 'connect' | 'query' | 'load' | 'exec';

export interface DbErrorContext {
  settings: SqlSettings;
  /** The step, when a step is running; absent for `pipewright connections test`. */
  stepId?: string | undefined;
  phase: DbPhase;
  /** What was being done, e.g. `load into public.sales` (default from the phase). */
  what?: string | undefined;
  /** Where the statement text starts in the user's text: lines added before it (a wrapper). */
  lineOffset?: number | undefined;
  /** The statement text sent, to turn a PostgreSQL character position into a line. */
  sql?: string | undefined;
  /** Extra detail to append, e.g. which dataset row failed. */
  detail?: string | undefined;
}

interface DriverErrorShape {
  message?: string;
  code?: string | null;
  errno?: number;
  sqlState?: string | null;
  sqlMessage?: string | null;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  fatal?: boolean;
}

/** `Step 'x', connection 'warehouse' (postgres, app@db:5432/sales)` */
export function connectionLabel(context: Pick<DbErrorContext, 'settings' | 'stepId'>): string {
  const connection = `connection '${context.settings.name}' (${describeConnection(context.settings)})`;
  return context.stepId === undefined
    ? `Connection '${context.settings.name}' (${describeConnection(context.settings)})`
    : `Step '${context.stepId}', ${connection}`;
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

const NETWORK_CODES = new Set([
  ...SOCKET_ERROR_CODES,
  'ER_CONNECTION_TIMEOUT',
  'ER_SOCKET_TIMEOUT',
  'ER_SOCKET_UNEXPECTED_CLOSE',
  'ER_CLOSING_POOL',
  'ER_CMD_CONNECTION_CLOSED',
  'PROTOCOL_CONNECTION_LOST',
]);

/** MariaDB server error numbers by meaning. */
const MARIADB_AUTH = new Set([1044, 1045, 1049, 1698, 1251, 1130, 1131, 1132, 1133, 1862]);
const MARIADB_TRANSIENT = new Set([1205, 1213, 1040, 1203, 1927, 2006, 2013, 1969, 3024, 1317]);
const MARIADB_CONSTRAINT = new Set([
  1022, 1048, 1062, 1169, 1216, 1217, 1364, 1406, 1451, 1452, 1264, 1265, 1366, 1292, 1367, 3819, 4025, 1690,
  1048,
]);

export function toDbError(thrown: unknown, context: DbErrorContext): PwError {
  if (thrown instanceof PwError) return thrown;
  const error = (
    typeof thrown === 'object' && thrown !== null ? thrown : { message: String(thrown) }
  ) as DriverErrorShape;
  const password = context.settings.dialect === 'sqlite' ? undefined : context.settings.password;
  const mask = (text: string): string => maskSecrets(text, password);
  const label = connectionLabel(context);
  const what = context.what ?? defaultWhat(context.phase);
  const { code, text } = classify(error, context);
  const row = (error as { pwRow?: unknown }).pwRow;
  const details = [
    ...(typeof row === 'number' ? [`row ${row} of the dataset`] : []),
    ...(context.detail === undefined ? [] : [context.detail]),
  ];
  const message = `${label}: ${what} failed${context.phase === 'load' ? ', nothing committed' : ''}: ${mask(text)}${details.length > 0 ? ` (${mask(details.join('; '))})` : ''}`;
  return new PwError(code, message, { hint: mask(hintFor(code, error, context)) });
}

function defaultWhat(phase: DbPhase): string {
  switch (phase) {
    case 'connect':
      return 'connecting';
    case 'query':
      return 'query';
    case 'load':
      return 'load';
    case 'exec':
      return 'statement';
  }
}

function classify(error: DriverErrorShape, context: DbErrorContext): { code: ErrorCode; text: string } {
  const raw = serverText(error);
  const timeoutMs = context.settings.dialect === 'sqlite' ? undefined : context.settings.connectTimeoutMs;
  // TLS first: its failures surface as socket errors too.
  if (isTlsError(error)) return { code: 'PW_DB_TLS', text: `TLS failed: ${raw}` };
  if (
    context.settings.dialect === 'postgres' &&
    typeof error.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(error.code)
  ) {
    return { code: postgresCode(error.code, context.phase), text: postgresText(error, context) };
  }
  if (
    context.settings.dialect === 'mariadb' &&
    typeof error.errno === 'number' &&
    error.errno >= 1000 &&
    error.errno < 5000 &&
    error.errno !== 1153
  ) {
    const state = error.sqlState ? `, SQLSTATE ${error.sqlState}` : '';
    return { code: mariadbCode(error.errno, context.phase), text: `${raw} (error ${error.errno}${state})` };
  }
  if (
    context.settings.dialect === 'sqlite' &&
    typeof error.code === 'string' &&
    error.code.startsWith('SQLITE_')
  ) {
    return { code: sqliteCode(error.code, context.phase), text: `${raw} (${error.code})` };
  }
  if (context.settings.dialect === 'sqlite' && context.phase === 'connect') {
    return { code: 'PW_INPUT_NOT_FOUND', text: `cannot open ${context.settings.path}: ${raw}` };
  }
  if (isTimeout(error)) {
    return {
      code: 'PW_DB_UNREACHABLE',
      text:
        timeoutMs === undefined
          ? 'timed out'
          : `no answer within ${formatSeconds(timeoutMs)} (connect_timeout)`,
    };
  }
  if (typeof error.code === 'string' && NETWORK_CODES.has(error.code))
    return { code: 'PW_DB_UNREACHABLE', text: raw };
  if (
    /Connection terminated|connection (was )?(lost|closed)|socket has unexpectedly been closed|Connection ended/i.test(
      raw,
    )
  ) {
    return { code: 'PW_DB_UNREACHABLE', text: raw };
  }
  if (error.fatal === true) return { code: 'PW_DB_UNREACHABLE', text: raw };
  return { code: context.phase === 'connect' ? 'PW_DB_UNREACHABLE' : 'PW_DB_QUERY', text: raw };
}

/** The server's own message without the driver's decorations (mariadb appends the SQL and its parameters). */
function serverText(error: DriverErrorShape): string {
  const text = error.sqlMessage ?? error.message ?? 'unknown error';
  return (
    text
      .split('\nsql:')[0]
      ?.replace(/^\(conn:[^)]*\)\s*/, '')
      .trim() ?? text
  );
}

function isTlsError(error: DriverErrorShape): boolean {
  if (
    typeof error.code === 'string' &&
    (TLS_CODES.has(error.code) || error.code.startsWith('ERR_SSL_') || error.code.startsWith('ERR_TLS_'))
  )
    return true;
  const text = `${error.message ?? ''} ${error.sqlMessage ?? ''}`;
  return /does not support SSL|ssl not enabled in the server|SSL is required|self[- ]signed certificate|certificate|TLS connection|SSL routines|secure TLS/i.test(
    text,
  );
}

function isTimeout(error: DriverErrorShape): boolean {
  return (
    error.code === 'ER_CONNECTION_TIMEOUT' ||
    error.code === 'ETIMEDOUT' ||
    /timeout expired|connection timeout|Connection timeout|connect timeout/i.test(error.message ?? '')
  );
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function postgresCode(state: string, phase: DbPhase): ErrorCode {
  if (
    state === '28P01' ||
    state === '28000' ||
    state === '3D000' ||
    (state === '42501' && phase === 'connect')
  )
    return 'PW_DB_AUTH';
  const cls = state.slice(0, 2);
  if (cls === '08') return 'PW_DB_UNREACHABLE';
  if (
    ['40001', '40P01', '55P03', '57P01', '57P02', '57P03', '53300', '53200', '57014', '25P03'].includes(state)
  ) {
    return 'PW_DB_TRANSIENT';
  }
  if (cls === '23') return 'PW_DB_CONSTRAINT';
  if (cls === '22' && phase === 'load') return 'PW_DB_CONSTRAINT';
  if (cls === '22' && phase === 'query') return 'PW_DB_TYPE';
  return phase === 'connect' ? 'PW_DB_AUTH' : 'PW_DB_QUERY';
}

function postgresText(error: DriverErrorShape, context: DbErrorContext): string {
  const parts = [`${error.message ?? 'error'}`];
  if (error.detail) parts.push(error.detail);
  const where: string[] = [`SQLSTATE ${error.code ?? ''}`];
  const line = positionLine(error.position, context.sql, context.lineOffset);
  if (line !== undefined) where.push(`line ${line}`);
  const copyLine = /COPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec(error.where ?? '');
  if (copyLine?.[1] !== undefined && context.phase === 'load') {
    where.push(`row ${copyLine[1]} of the dataset${copyLine[2] ? `, column ${copyLine[2]}` : ''}`);
  }
  return `${parts.join(': ')} (${where.join(', ')})`;
}

/** A PostgreSQL 1-based character position as a line of the user's text. */
function positionLine(
  position: string | undefined,
  sql: string | undefined,
  lineOffset = 0,
): number | undefined {
  if (position === undefined || sql === undefined) return undefined;
  const index = Number(position) - 1;
  if (!Number.isInteger(index) || index < 0) return undefined;
  const line = sql.slice(0, index).split('\n').length - lineOffset;
  return line >= 1 ? line : undefined;
}

function mariadbCode(errno: number, phase: DbPhase): ErrorCode {
  if (MARIADB_AUTH.has(errno)) return 'PW_DB_AUTH';
  if (MARIADB_TRANSIENT.has(errno)) return 'PW_DB_TRANSIENT';
  if (MARIADB_CONSTRAINT.has(errno) && (phase === 'load' || errno === 1062 || errno === 1048))
    return 'PW_DB_CONSTRAINT';
  return phase === 'connect' ? 'PW_DB_UNREACHABLE' : 'PW_DB_QUERY';
}

function sqliteCode(code: string, phase: DbPhase): ErrorCode {
  if (code.startsWith('SQLITE_CONSTRAINT')) return 'PW_DB_CONSTRAINT';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'PW_DB_TRANSIENT';
  if (code.startsWith('SQLITE_CANTOPEN')) return 'PW_INPUT_NOT_FOUND';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return 'PW_INPUT_MALFORMED';
  if (code === 'SQLITE_MISMATCH' && phase === 'load') return 'PW_DB_CONSTRAINT';
  return 'PW_DB_QUERY';
}

function hintFor(code: ErrorCode, error: DriverErrorShape, context: DbErrorContext): string {
  const name = context.settings.name;
  switch (code) {
    case 'PW_DB_UNREACHABLE':
      return context.settings.dialect === 'sqlite'
        ? 'Check the path of the SQLite file.'
        : `Check host and port of connection '${name}', that the server runs and that this machine may reach it; \`pipewright connections test ${name}\` tries it alone. Retried by a retries policy.`;
    case 'PW_DB_AUTH':
      return `Check user, password and database of connection '${name}' (the password is usually \${env:…} or \${file:…}); \`pipewright connections test ${name}\` tries the login alone.`;
    case 'PW_DB_TLS':
      return /does not support SSL|ssl not enabled/i.test(`${error.message ?? ''} ${error.sqlMessage ?? ''}`)
        ? `The server offers no TLS: enable it on the server, or drop ssl from connection '${name}' on a trusted network.`
        : `Give the authority that signed the server certificate as ssl: { ca_file: … } in connection '${name}', and connect with the host name the certificate names.`;
    case 'PW_DB_CONSTRAINT':
      return context.phase === 'load'
        ? 'The load ran in one transaction and was rolled back, so the table is unchanged. Fix the rows in an earlier step (a check step can stop them), or change the table.'
        : 'The statement was rolled back.';
    case 'PW_DB_TRANSIENT':
      return 'This passes on its own; a retries policy on the step tries again.';
    case 'PW_DB_TYPE':
      return 'Cast the column in the query, or set its DuckDB type under `columns:`.';
    case 'PW_INPUT_NOT_FOUND':
      return `Check path of connection '${name}' (relative to the project folder); a query needs the file to exist.`;
    default:
      if (
        /no unique or exclusion constraint matching the ON CONFLICT|ON CONFLICT clause does not match/i.test(
          error.message ?? '',
        )
      ) {
        return 'An upsert needs a PRIMARY KEY or UNIQUE index on exactly the `keys` columns.';
      }
      return 'Test the statement with the database’s own client; quoted names are case-sensitive.';
  }
}
