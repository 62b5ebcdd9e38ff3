/**
 * What `pipewright connections test` does per connection type, each with the connector's own settings
 * check and error classifier, so a probe fails with the same code and message a step would:
 *
 * - postgres, mariadb, sqlite: connect, log in, `SELECT 1`;
 * - mongodb: server selection, TLS and login, then `ping`;
 * - s3: one HeadBucket (endpoint reachable, TLS, credentials accepted, bucket exists);
 * - sftp: connect with the pinned host key, log in, open the SFTP subsystem and stat the login folder.
 *
 * Other types (smtp, local) are not tested. Drivers load only when a connection of their type is tested.
 */
import { PwError, toPwError } from '../../core/errors/pw-error.js';
import type { ConnectionConfig } from '../../core/step.js';
import { describeConnection, sqlSettings, SQL_CONNECTION_TYPES } from '../../connectors/sql/config.js';
import { toDbError } from '../../connectors/sql/errors.js';
import { describeMongo, mongoSettings } from '../../connectors/mongodb/config.js';
import { toMongoError } from '../../connectors/mongodb/errors.js';
import { describeS3, endpointOf, storageSettings, type S3Settings } from '../../connectors/storage/config.js';
import { describeSftp, sftpSettings } from '../../connectors/sftp/config.js';
import { sftpLabel, toSftpError } from '../../connectors/sftp/errors.js';

export interface Outcome {
  name: string;
  type: string;
  status: 'ok' | 'failed' | 'not tested';
  target?: string | undefined;
  ms?: number | undefined;
  code?: string | undefined;
  message?: string | undefined;
  hint?: string | undefined;
}

/**
 * An S3 request has no connect timeout of its own (the SDK waits as long as the operating system
 * does); a test that hangs on an unroutable endpoint helps nobody, so it gives up after this long.
 */
export const S3_PROBE_TIMEOUT_MS = 30_000;

interface Probe<S> {
  /** Validates the resolved connection (throws PW_SPEC_TYPE naming the field). */
  settings(raw: ConnectionConfig): S;
  describe(settings: S): string;
  check(settings: S): Promise<void>;
  /** The connector's classification of what `check` threw. */
  classify(error: unknown, settings: S): PwError;
}

/** Tests one connection; never throws (a failure is an outcome). */
export async function testConnection(
  name: string,
  type: string,
  resolve: (name: string) => ConnectionConfig,
  projectDir: string,
): Promise<Outcome> {
  if ((SQL_CONNECTION_TYPES as readonly string[]).includes(type))
    return run(name, type, resolve, sqlProbe(name, projectDir));
  if (type === 'mongodb') return run(name, type, resolve, mongoProbe(name, projectDir));
  if (type === 's3') return run(name, type, resolve, s3Probe(name, projectDir));
  if (type === 'sftp') return run(name, type, resolve, sftpProbe(name, projectDir));
  return { name, type, status: 'not tested' };
}

async function run<S>(
  name: string,
  type: string,
  resolve: (name: string) => ConnectionConfig,
  probe: Probe<S>,
): Promise<Outcome> {
  let settings: S;
  try {
    settings = probe.settings(resolve(name));
  } catch (error) {
    const pw = toPwError(error);
    return { name, type, status: 'failed', code: pw.code, message: pw.message, hint: pw.hint };
  }
  const target = probe.describe(settings);
  const started = Date.now();
  try {
    await probe.check(settings);
    return { name, type, status: 'ok', target, ms: Date.now() - started };
  } catch (error) {
    const pw = probe.classify(error, settings);
    return { name, type, status: 'failed', target, code: pw.code, message: pw.message, hint: pw.hint };
  }
}

function sqlProbe(name: string, projectDir: string): Probe<ReturnType<typeof sqlSettings>> {
  return {
    settings: (raw) => sqlSettings(name, raw, projectDir),
    describe: describeConnection,
    async check(settings) {
      const { openSqlDriver } = await import('../../connectors/sql/driver.js');
      const driver = await openSqlDriver(settings, { readOnly: true });
      try {
        await driver.scalar('SELECT 1', []);
      } finally {
        await driver.close();
      }
    },
    classify: (error, settings) => toDbError(error, { settings, phase: 'connect' }),
  };
}

function mongoProbe(name: string, projectDir: string): Probe<ReturnType<typeof mongoSettings>> {
  return {
    settings: (raw) => mongoSettings(name, raw, projectDir),
    describe: describeMongo,
    async check(settings) {
      const { pingMongo } = await import('../../connectors/mongodb/client.js');
      await pingMongo(settings);
    },
    classify: (error, settings) => toMongoError(error, { settings, phase: 'connect' }),
  };
}

function s3Probe(name: string, projectDir: string): Probe<S3Settings> {
  const action = (settings: S3Settings): string =>
    `Connection '${name}' (${describeS3(settings)}): checking the bucket`;
  return {
    settings(raw) {
      const settings = storageSettings(name, raw, projectDir);
      if (settings.type !== 's3')
        throw new PwError('PW_INTERNAL', `connection '${name}' is not an s3 connection`);
      return settings;
    },
    describe: describeS3,
    async check(settings) {
      const { S3ObjectStore } = await import('../../connectors/storage/s3-store.js');
      const store = await S3ObjectStore.open(settings);
      const timeout = AbortSignal.timeout(S3_PROBE_TIMEOUT_MS);
      try {
        await store.checkBucket(timeout, action(settings));
      } catch (error) {
        if (timeout.aborted) {
          throw new PwError(
            'PW_STORAGE_UNAVAILABLE',
            `${action(settings)}: no answer from ${endpointOf(settings)} within ${S3_PROBE_TIMEOUT_MS / 1000} s`,
            { hint: `Check endpoint of connection '${name}' and that the store is reachable from here.` },
          );
        }
        throw error;
      } finally {
        store.close();
      }
    },
    // checkBucket already classified (storageError): PW_STORAGE_BUCKET, _AUTH, _TLS, _UNAVAILABLE, …
    classify: (error) => toPwError(error),
  };
}

function sftpProbe(name: string, projectDir: string): Probe<ReturnType<typeof sftpSettings>> {
  return {
    settings: (raw) => sftpSettings(name, raw, projectDir),
    describe: describeSftp,
    async check(settings) {
      const { SftpSession } = await import('../../connectors/sftp/client.js');
      // A host key mismatch is refused here, before any credential is sent.
      const session = await SftpSession.open(settings);
      try {
        // Logged in is not yet allowed in: the SFTP subsystem must answer a request too.
        if ((await session.stat('.')) === undefined) {
          throw new PwError(
            'PW_SFTP_REMOTE',
            `${sftpLabel({ settings })}: the login folder of ${settings.user} does not exist on the server`,
            { hint: `Check the home folder (or ChrootDirectory) of ${settings.user} on the server.` },
          );
        }
      } finally {
        session.close();
      }
    },
    classify: (error, settings) => toSftpError(error, { settings, what: 'connecting' }),
  };
}
