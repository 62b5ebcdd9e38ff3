/**
 * MongoDB driver errors turned into the PW_DB_* codes the SQL connectors use, by who must act:
 * PW_DB_UNREACHABLE and PW_DB_TRANSIENT pass (and are retried), PW_DB_AUTH, PW_DB_TLS and PW_DB_QUERY
 * need a fix. The driver wraps the real cause (a socket error, a certificate problem) in a server
 * selection error, so the whole chain is read. Messages name the step and the connection with the
 * URL's password masked; the driver error is not kept as the cause.
 */
import { PwError } from '../../core/errors/pw-error.js';
import type { ErrorCode } from '../../core/errors/codes.js';
import { maskSecrets } from '../sql/config.js';
import { describeMongo, type MongoSettings } from './config.js';
import { SOCKET_ERROR_CODES } from '../network-errors.js';

export interface MongoErrorContext {
  settings: MongoSettings;
  /** Absent for `pipewright connections test`. */
  stepId?: string | undefined;
  phase: 'connect' | 'query';
  /** What was being done, e.g. `find on orders`. */
  what?: string | undefined;
}

interface ErrorShape {
  name?: string;
  message?: string;
  code?: string | number;
  codeName?: string;
  cause?: unknown;
  errorLabels?: readonly string[];
  reason?: { servers?: Map<string, { error?: unknown }> };
  errorLabelSet?: Set<string>;
}

const TLS_CODES =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_\w+|ERR_TLS_\w+|ERR_SSL_\w+|HOSTNAME_MISMATCH|EPROTO)$/;
const NETWORK_CODES = new Set(SOCKET_ERROR_CODES);
/** Server codes: host unreachable or not found, network timeout, shutdown, primary stepped down. */
const UNREACHABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);
/** Cursor killed or timed out, write conflict, lock timeout. */
const TRANSIENT_CODES = new Set([24, 43, 112, 175, 237, 251, 262]);

/** The error and everything it wraps (cause, the servers' errors of a server selection error). */
function chain(thrown: unknown): ErrorShape[] {
  const found: ErrorShape[] = [];
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || found.includes(value as ErrorShape)) return;
    const error = value as ErrorShape;
    found.push(error);
    visit(error.cause);
    const servers = error.reason?.servers;
    if (servers instanceof Map) for (const server of servers.values()) visit(server.error);
  };
  visit(thrown);
  if (found.length === 0) found.push({ message: String(thrown) });
  return found;
}

export function mongoLabel(context: Pick<MongoErrorContext, 'settings' | 'stepId'>): string {
  const connection = `connection '${context.settings.name}' (${describeMongo(context.settings)})`;
  return context.stepId === undefined ? `C${connection.slice(1)}` : `Step '${context.stepId}', ${connection}`;
}

export function toMongoError(thrown: unknown, context: MongoErrorContext): PwError {
  if (thrown instanceof PwError) return thrown;
  const errors = chain(thrown);
  const { code, text } = classify(errors, context);
  const mask = (value: string): string => maskSecrets(value, context.settings.password);
  const what = context.what ?? (context.phase === 'connect' ? 'connecting' : 'query');
  return new PwError(code, `${mongoLabel(context)}: ${what} failed: ${mask(text)}`, {
    hint: mask(hintFor(code, context)),
  });
}

function classify(errors: ErrorShape[], context: MongoErrorContext): { code: ErrorCode; text: string } {
  const top = errors[0] as ErrorShape;
  const messages = errors.map((error) => error.message ?? '').filter((message) => message !== '');
  // The most specific message: the innermost one, unless it says nothing more than the outer one.
  const text = messages.at(-1) ?? top.message ?? 'unknown error';
  const serverCode = errors.find((error) => typeof error.code === 'number' && error.code > 0);
  const numeric = serverCode?.code as number | undefined;
  const withCode =
    numeric === undefined
      ? text
      : `${text} (code ${numeric}${serverCode?.codeName ? `, ${serverCode.codeName}` : ''})`;
  if (top.name === 'MongoParseError' || top.name === 'MongoInvalidArgumentError')
    return { code: 'PW_SPEC_TYPE', text: `the URL or its options are not valid: ${text}` };
  const tls = errors.find(
    (error) =>
      (typeof error.code === 'string' && TLS_CODES.test(error.code)) ||
      /certificate|SSL routines|TLS|tlsv1 alert|wrong version number/i.test(error.message ?? ''),
  );
  if (tls !== undefined) return { code: 'PW_DB_TLS', text: `TLS failed: ${tls.message ?? text}` };
  if (
    numeric === 18 ||
    errors.some((error) => error.name === 'MongoMissingCredentialsError') ||
    /Authentication failed|auth(entication)? error/i.test(messages.join(' '))
  )
    return { code: 'PW_DB_AUTH', text: withCode };
  if (numeric === 13 && context.phase === 'connect') return { code: 'PW_DB_AUTH', text: withCode };
  if (numeric !== undefined && UNREACHABLE_CODES.has(numeric))
    return { code: 'PW_DB_UNREACHABLE', text: withCode };
  if (numeric !== undefined && TRANSIENT_CODES.has(numeric))
    return { code: 'PW_DB_TRANSIENT', text: withCode };
  if (errors.some((error) => typeof error.code === 'string' && NETWORK_CODES.has(error.code)))
    return { code: 'PW_DB_UNREACHABLE', text };
  if (
    errors.some((error) =>
      /^(MongoServerSelectionError|MongoNetworkError|MongoNetworkTimeoutError|MongoTopologyClosedError|MongoNotConnectedError)$/.test(
        error.name ?? '',
      ),
    )
  ) {
    const timedOut = /timed out/i.test(text);
    return {
      code: 'PW_DB_UNREACHABLE',
      text: timedOut ? `${text} (connect_timeout ${context.settings.connectTimeoutMs} ms)` : text,
    };
  }
  if (errors.some((error) => error.errorLabels?.includes('RetryableError') === true))
    return { code: 'PW_DB_TRANSIENT', text: withCode };
  return { code: context.phase === 'connect' ? 'PW_DB_UNREACHABLE' : 'PW_DB_QUERY', text: withCode };
}

function hintFor(code: ErrorCode, context: MongoErrorContext): string {
  const name = context.settings.name;
  switch (code) {
    case 'PW_DB_UNREACHABLE':
      return `Check the hosts in the url of connection '${name}', that the server runs and that this machine may reach it; \`pipewright connections test ${name}\` tries it alone. Retried by a retries policy.`;
    case 'PW_DB_AUTH':
      return `Check user, password and authSource in the url of connection '${name}' (usually \${env:…}), and the user's roles on the database; \`pipewright connections test ${name}\` tries the login alone.`;
    case 'PW_DB_TLS':
      return `Give the authority that signed the server certificate as ca_file in connection '${name}', connect with the host name the certificate names, or turn TLS on or off to match the server (tls: true / false).`;
    case 'PW_DB_TRANSIENT':
      return 'This passes on its own; a retries policy on the step tries again.';
    case 'PW_SPEC_TYPE':
      return `Check the url of connection '${name}': mongodb://user:password@host:27017/database?authSource=admin, with characters such as @ : / in the password percent-encoded.`;
    default:
      return 'Try the filter, projection or pipeline in mongosh against the same database; field names are case-sensitive.';
  }
}
