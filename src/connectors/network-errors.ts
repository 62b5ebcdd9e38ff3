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
