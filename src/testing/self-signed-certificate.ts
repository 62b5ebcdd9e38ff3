/**
 * A self-signed TLS certificate for 127.0.0.1 and localhost, made once per test process with openssl
 * and removed when the process exits: for tests of clients that must verify (or refuse) a server's
 * certificate — SMTP, PostgreSQL, MariaDB. A helper for tests, not part of the product.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCertificate {
  /** PEM text. */
  cert: string;
  key: string;
  /** The certificate as a file, for a client's CA file option. */
  certFile: string;
}

let made: SelfSignedCertificate | string | undefined;

/** The certificate, or why openssl could not make one. */
export function trySelfSignedCertificate(): SelfSignedCertificate | string {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), 'pw-test-tls-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'],
        ...['-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      ],
      { stdio: 'ignore' },
    );
    made = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile };
  } catch (error) {
    made = `openssl could not make a test certificate: ${(error as Error).message}`;
  }
  return made;
}

/** The certificate; throws when openssl cannot make one. */
export function selfSignedCertificate(): SelfSignedCertificate {
  const certificate = trySelfSignedCertificate();
  if (typeof certificate === 'string') throw new Error(certificate);
  return certificate;
}
