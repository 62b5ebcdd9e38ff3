/**
 * The `sftp.put` step: uploads project files (a path or a glob) or one dataset (written by DuckDB to a
 * temporary file first) to an SFTP server. Each file goes to `<name>.part`, its remote size is checked,
 * and it is renamed onto the final name (atomically with OpenSSH's posix-rename; else an existing
 * target is removed first), so a reader on the server never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { z } from 'zod';
import { defineStep } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { IDENTIFIER } from '../../core/spec/pipeline-schema.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { findInputFiles } from '../extract/input-files.js';
import { formatFromPath } from '../extract/file-format.js';
import { sftpSettings, SFTP_CONNECTION_TYPES } from '../../connectors/sftp/config.js';
import type { SftpSession } from '../../connectors/sftp/client.js';

const PUT_FORMATS = ['csv', 'tsv', 'json', 'ndjson', 'parquet'] as const;
type PutFormat = (typeof PUT_FORMATS)[number];

export const sftpPutConfig = z
  .strictObject({
    connection: z.string().min(1).describe('An sftp connection of pipewright.yaml.'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe('The local file or glob to upload, relative to the project folder (instead of input).'),
    input: z
      .string()
      .regex(IDENTIFIER, 'a step id')
      .optional()
      .describe('A dataset to upload as one file, written in `format` first (instead of path).'),
    format: z
      .enum(PUT_FORMATS)
      .optional()
      .describe('With input: csv, tsv, json, ndjson or parquet. Default: from the remote file name.'),
    remote: z
      .string()
      .min(1)
      .describe(
        'The remote folder (ending in / or existing) the files keep their names in, or the full remote file path for one file. Missing folders are created.',
      ),
    if_exists: z
      .enum(['overwrite', 'skip', 'fail'])
      .default('overwrite')
      .describe(
        'When the remote file exists: replace it (default), skip the file, or fail before anything is uploaded.',
      ),
  })
  .superRefine((config, context) => {
    if ((config.path === undefined) === (config.input === undefined)) {
      context.addIssue({ code: 'custom', path: ['path'], message: 'give path or input (one of them)' });
    }
    if (config.format !== undefined && config.input === undefined) {
      context.addIssue({ code: 'custom', path: ['format'], message: "'format' applies to input only" });
    }
  })
  .describe('Uploads files or a dataset to an SFTP server under a temporary name, then renames.');

interface Upload {
  local: string;
  shown: string;
  bytes: number;
  target: string;
}

function copyOptions(format: PutFormat): string {
  switch (format) {
    case 'parquet':
      return "FORMAT parquet, COMPRESSION 'zstd'";
    case 'json':
      return 'FORMAT json, ARRAY true';
    case 'ndjson':
      return 'FORMAT json';
    case 'csv':
      return "FORMAT csv, HEADER true, DELIMITER ','";
    case 'tsv':
      return "FORMAT csv, HEADER true, DELIMITER '\t'";
  }
}

async function uploadOne(
  session: SftpSession,
  upload: Upload,
  replace: boolean,
  stepId: string,
): Promise<void> {
  const part = `${upload.target}.part`;
  try {
    await session.upload(upload.local, part);
    const stats = await session.stat(part);
    if (stats?.size !== upload.bytes) {
      throw new PwError(
        'PW_SFTP_REMOTE',
        `Step '${stepId}': upload of ${upload.shown} to ${upload.target} is incomplete: ${stats?.size ?? 0} of ${upload.bytes} bytes on the server`,
        { hint: 'Check free space on the server; the step can be retried.' },
      );
    }
    await session.rename(part, upload.target, replace);
  } catch (error) {
    // Best effort: leave no .part behind (the connection may be gone already).
    await session.unlink(part).catch(() => undefined);
    throw error;
  }
}

export const sftpPutStep = defineStep({
  type: 'sftp.put',
  kind: 'load',
  description: 'Uploads files or a dataset to an SFTP server under a temporary name, then renames it.',
  config: sftpPutConfig,
  producesDataset: false,
  inputs: (config) => (config.input === undefined ? [] : [config.input]),
  async run(ctx, config) {
    const settings = sftpSettings(
      config.connection,
      ctx.connection(config.connection, SFTP_CONNECTION_TYPES),
      ctx.projectDir,
    );
    const temporaries: string[] = [];
    let sources: { local: string; shown: string; bytes: number; name: string }[];
    let rows: number | undefined;
    const remoteIsDir = config.remote.endsWith('/');
    if (config.input !== undefined) {
      if (!(await ctx.datasets.exists(config.input))) {
        throw new PwError(
          'PW_DATASET_UNKNOWN',
          `sftp.put reads dataset '${config.input}', which no earlier step produced`,
          { path: 'with.input', expected: 'the id of a step that produces a dataset', found: config.input },
        );
      }
      const fromName = remoteIsDir ? undefined : formatFromPath(config.remote);
      const format = config.format ?? (fromName === 'xlsx' ? undefined : fromName);
      if (format === undefined) {
        throw new PwError('PW_SPEC_TYPE', `Cannot tell which format to upload '${config.input}' in`, {
          path: 'with.format',
          expected: `format: ${PUT_FORMATS.join(', ')}, or a remote file name with that extension`,
          found: config.remote,
        });
      }
      const name = remoteIsDir ? `${config.input}.${format}` : posix.basename(config.remote);
      const temp = join(
        ctx.workspaceDir,
        `.sftp-put-${ctx.stepId}-${randomBytes(4).toString('hex')}.${format}`,
      );
      temporaries.push(temp);
      const result = await ctx.datasets.query<{ Count: number }>(
        `COPY (SELECT * FROM ${quoteIdent(config.input)}) TO ${quoteLiteral(temp)} (${copyOptions(format)})`,
      );
      rows = Number(result[0]?.Count ?? 0);
      const { size } = await import('node:fs/promises').then((fs) => fs.stat(temp));
      sources = [{ local: temp, shown: `dataset '${config.input}' (${format})`, bytes: size, name }];
    } else {
      const found = await findInputFiles(ctx.projectDir, config.path ?? '');
      sources = found.map((file) => ({
        local: file.absolute,
        shown: file.relative,
        bytes: file.bytes,
        name: basename(file.absolute),
      }));
    }

    const { SftpSession } = await import('../../connectors/sftp/client.js');
    let session: SftpSession | undefined;
    try {
      session = await SftpSession.open(settings, { stepId: ctx.stepId, signal: ctx.signal, log: ctx.log });
      const open = session;
      const remoteStats = remoteIsDir ? undefined : await open.stat(config.remote);
      const intoDir = remoteIsDir || remoteStats?.isDirectory() === true;
      if (!intoDir && sources.length > 1) {
        throw new PwError(
          'PW_SPEC_TYPE',
          `sftp.put: ${sources.length} files match '${config.path ?? ''}', so remote must be a folder (end it with /)`,
          { path: 'with.remote', found: config.remote },
        );
      }
      const uploads: (Upload & { skip: boolean })[] = [];
      for (const source of sources) {
        const target = intoDir ? posix.join(config.remote, source.name) : config.remote;
        const existing = intoDir ? await open.stat(target) : remoteStats;
        if (existing?.isDirectory()) {
          throw new PwError('PW_OUTPUT_EXISTS', `Cannot upload to ${target}: it is a folder on the server`, {
            path: 'with.remote',
          });
        }
        if (existing && config.if_exists === 'fail') {
          throw new PwError(
            'PW_OUTPUT_EXISTS',
            `Cannot upload ${source.shown}: ${target} already exists on the server (nothing was uploaded)`,
            {
              path: 'with.if_exists',
              hint: 'Set if_exists: overwrite or skip, or put a date in the remote name.',
            },
          );
        }
        uploads.push({ ...source, target, skip: existing !== undefined && config.if_exists === 'skip' });
      }
      const folders = new Set(
        uploads.filter((upload) => !upload.skip).map((upload) => posix.dirname(upload.target)),
      );
      for (const folder of folders) await open.mkdirp(folder);

      const uploaded: string[] = [];
      const skipped: string[] = [];
      let bytes = 0;
      for (const upload of uploads) {
        if (upload.skip) {
          skipped.push(upload.target);
          ctx.log.info(`Skipped ${upload.shown}: ${upload.target} exists on the server`, {
            remote: upload.target,
          });
          continue;
        }
        await uploadOne(open, upload, config.if_exists === 'overwrite', ctx.stepId);
        uploaded.push(upload.target);
        bytes += upload.bytes;
        ctx.log.info(`Uploaded ${upload.shown} to ${upload.target} (${upload.bytes} bytes)`, {
          remote: upload.target,
          bytes: upload.bytes,
        });
      }
      return {
        ...(rows === undefined ? {} : { rows }),
        bytes,
        outputs: { files: uploaded, count: uploaded.length, skipped },
      };
    } catch (error) {
      if (session === undefined) throw error;
      throw session.error(error, `uploading to ${config.remote}`);
    } finally {
      session?.close();
      await Promise.all(temporaries.map((temp) => rm(temp, { force: true })));
    }
  },
});
