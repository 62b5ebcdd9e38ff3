/**
 * ssh2 and SFTP failures turned into PwErrors whose code says who must act: PW_SFTP_UNREACHABLE passes
 * (and is retried); PW_SFTP_AUTH, PW_SFTP_HOST_KEY and PW_SFTP_REMOTE need a fix. Every message names
 * the step and the connection (user@host:port, never a secret) and the ssh2 error is not kept as the
 * cause, so no property of it can carry a secret further.
 */
import { PwError } from '../../core/errors/pw-error.js';
import { formatDuration } from '../../core/duration.js';
import { describeSftp, maskSftpSecrets, type SftpSettings } from './config.js';
import { SOCKET_ERROR_CODES } from '../network-errors.js';

export interface SftpErrorContext {
  settings: SftpSettings;
  stepId?: string | undefined;
  /** What was being done, e.g. `connecting` or `download of /outgoing/a.csv`. */
  what: string;
}

interface Ssh2ErrorShape {
  message?: string;
  level?: string;
  code?: string | number;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
export const SFTP_STATUS = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4 } as const;

const NETWORK_CODES = new Set(SOCKET_ERROR_CODES);

export function sftpLabel(context: Pick<SftpErrorContext, 'settings' | 'stepId'>): string {
  const connection = `connection '${context.settings.name}' (${describeSftp(context.settings)})`;
  return context.stepId === undefined
    ? `${connection[0]?.toUpperCase()}${connection.slice(1)}`
    : `Step '${context.stepId}', ${connection}`;
}

export function toSftpError(thrown: unknown, context: SftpErrorContext): PwError {
  if (thrown instanceof PwError) return thrown;
  const error = (
    typeof thrown === 'object' && thrown !== null ? thrown : { message: String(thrown) }
  ) as Ssh2ErrorShape;
  const { settings } = context;
  const mask = (text: string): string => maskSftpSecrets(text, settings);
  const text = mask(String(error.message ?? 'unknown error').split('\n')[0] ?? '');
  const label = sftpLabel(context);
  const where = `${settings.host}:${settings.port}`;
  if (error.level === 'client-authentication') {
    return new PwError('PW_SFTP_AUTH', `${label}: ${context.what} failed: login refused (${text})`, {
      hint: `Check user, password or private_key (and passphrase) of connection '${settings.name}', and that the key is in the server's authorized_keys for ${settings.user}.`,
    });
  }
  if (error.level === 'client-timeout') {
    return new PwError(
      'PW_SFTP_UNREACHABLE',
      `${label}: ${context.what} failed: no SSH handshake within ${formatDuration(settings.connectTimeoutMs)}`,
      {
        hint: `Check that ${where} is an SSH server reachable from here (firewall, port), or raise connect_timeout.`,
      },
    );
  }
  if (
    error.level === 'client-socket' ||
    (typeof error.code === 'string' && NETWORK_CODES.has(error.code)) ||
    /connection lost|No response from server|Not connected/i.test(text)
  ) {
    return new PwError(
      'PW_SFTP_UNREACHABLE',
      `${label}: ${context.what} failed: ${typeof error.code === 'string' && !text.includes(error.code) ? `${error.code} ` : ''}${text}`,
      { hint: `Check that the server runs and that ${where} is reachable from here.` },
    );
  }
  if (typeof error.code === 'number') {
    const status =
      error.code === SFTP_STATUS.NO_SUCH_FILE
        ? 'no such file or folder'
        : error.code === SFTP_STATUS.PERMISSION_DENIED
          ? 'permission denied'
          : text;
    return new PwError('PW_SFTP_REMOTE', `${label}: ${context.what} failed: ${status}`, {
      hint:
        error.code === SFTP_STATUS.PERMISSION_DENIED
          ? `Check the remote permissions of user ${settings.user}.`
          : 'Check the remote path (relative paths start in the login folder).',
    });
  }
  return new PwError('PW_SFTP_REMOTE', `${label}: ${context.what} failed: ${text}`, {
    hint: 'See the server log for details.',
  });
}
