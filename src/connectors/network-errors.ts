/**
 * Node socket error codes that mean the host could not be reached or the connection broke, the same
 * for every connector (SQL drivers, MongoDB, SFTP); each adds its own driver's codes beside them.
 */
export const SOCKET_ERROR_CODES: readonly string[] = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
];

/**
 * Node and OpenSSL error codes of a TLS set-up that failed: a certificate that does not verify (not
 * trusted, expired, naming another host) or a server that does not speak TLS (EPROTO, wrong version).
 */
const TLS_ERROR_CODE =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_\w+|ERR_TLS_\w+|ERR_SSL_\w+|HOSTNAME_MISMATCH|EPROTO)$/;

export function isTlsErrorCode(code: unknown): boolean {
  return typeof code === 'string' && TLS_ERROR_CODE.test(code);
}
