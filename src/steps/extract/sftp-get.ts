/**
 * The `sftp.get` step: fetches remote files (a path or a glob in the last segment) into a project
 * folder. Each file is streamed to a temporary name beside its target, its size checked against the
 * remote size, and renamed into place; only then is the remote file moved to `move_to` (never before
 * the local copy is stored). The fetched files are inputs for later steps (`files.read`), not run
 * artifacts, so they are listed in the step's outputs and not registered as artifacts.
 */
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { defineStep } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { writeAtomically } from '../../engine/atomic-file.js';
import { displayPath } from './duckdb-errors.js';
import { sftpSettings, SFTP_CONNECTION_TYPES } from '../../connectors/sftp/config.js';
import { matchesName, movedPath, parseRemotePattern } from '../../connectors/sftp/remote-glob.js';

export const sftpGetConfig = z
  .strictObject({
    connection: z.string().min(1).describe('An sftp connection of pipewright.yaml.'),
    remote: z
      .string()
      .min(1)
      .describe(
        'The remote file, or a pattern with * ? [..] in the last segment such as /outgoing/*.csv. Relative paths start in the login folder.',
      ),
    into: z
      .string()
      .min(1)
      .default('inbox/')
      .describe('The project folder the files are stored in (default inbox/); created when missing.'),
    move_to: z
      .string()
      .min(1)
      .optional()
      .describe(
        'After a file is stored locally, move it on the server into this folder (relative to its own folder, e.g. processed/); created when missing.',
      ),
    if_exists: z
      .enum(['overwrite', 'skip', 'fail'])
      .default('overwrite')
      .describe(
        'When the local file exists: overwrite it (default), skip the file (it is neither fetched nor moved), or fail before anything is fetched.',
      ),
    allow_empty: z
      .boolean()
      .default(false)
      .describe(
        'Succeed with no files when the pattern matches none (default: fail with PW_INPUT_NOT_FOUND).',
      ),
  })
  .describe('Fetches files from an SFTP server into the project, optionally moving them to processed/.');

interface RemoteFile {
  path: string;
  name: string;
  size: number;
}

/** writeAtomically, with local file-system failures reported as PW_OUTPUT_WRITE. */
async function storeLocally(
  local: string,
  shown: string,
  write: (temp: string) => Promise<void>,
): Promise<void> {
  try {
    await writeAtomically(local, write);
  } catch (error) {
    if (error instanceof PwError) throw error;
    throw new PwError('PW_OUTPUT_WRITE', `Cannot write ${shown}: ${(error as Error).message}`, {
      hint: 'Check free disk space and that the folder is writable by the Pipewright process.',
    });
  }
}

export const sftpGetStep = defineStep({
  type: 'sftp.get',
  kind: 'extract',
  description: 'Fetches files from an SFTP server (path or glob) into a project folder, atomically.',
  config: sftpGetConfig,
  producesDataset: false,
  async run(ctx, config) {
    const pattern = parseRemotePattern(config.remote);
    if (typeof pattern === 'string') {
      throw new PwError('PW_SPEC_TYPE', `sftp.get remote '${config.remote}': ${pattern}`, {
        path: 'with.remote',
        expected: 'a remote file path, or a glob such as /outgoing/*.csv',
        found: config.remote,
      });
    }
    const settings = sftpSettings(
      config.connection,
      ctx.connection(config.connection, SFTP_CONNECTION_TYPES),
      ctx.projectDir,
    );
    const intoDir = ctx.resolvePath(config.into);
    const { SftpSession } = await import('../../connectors/sftp/client.js');
    const session = await SftpSession.open(settings, {
      stepId: ctx.stepId,
      signal: ctx.signal,
      log: ctx.log,
    });
    try {
      // Which files: one path, or the matching regular files of one folder, by name.
      let files: RemoteFile[];
      if (pattern.literal !== undefined) {
        const stats = await session.stat(pattern.literal);
        files =
          stats === undefined || !stats.isFile()
            ? []
            : [{ path: pattern.literal, name: posix.basename(pattern.literal), size: stats.size }];
      } else {
        const dirStats = await session.stat(pattern.dir);
        const entries = dirStats?.isDirectory() ? await session.readdir(pattern.dir) : [];
        files = entries
          .filter((entry) => entry.attrs.isFile() && matchesName(pattern, entry.filename))
          .map((entry) => ({
            path: pattern.dir === '.' ? entry.filename : posix.join(pattern.dir, entry.filename),
            name: entry.filename,
            size: entry.attrs.size,
          }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      }
      if (files.length === 0 && !config.allow_empty) {
        throw new PwError(
          'PW_INPUT_NOT_FOUND',
          `Step '${ctx.stepId}': no remote file matches '${config.remote}' on connection '${settings.name}'`,
          {
            path: 'with.remote',
            hint: 'Check the path on the server (relative paths start in the login folder), or set allow_empty: true when an empty folder is normal.',
          },
        );
      }

      // Decide every file before fetching any, so if_exists: fail fetches (and moves) nothing.
      const plan: { file: RemoteFile; local: string; skip: boolean }[] = [];
      for (const file of files) {
        const local = join(intoDir, file.name);
        const existing = await stat(local).catch(() => undefined);
        if (existing?.isDirectory()) {
          throw new PwError(
            'PW_OUTPUT_EXISTS',
            `Cannot store ${file.path} as ${displayPath(ctx.projectDir, local)}: it is a folder`,
            {
              path: 'with.into',
            },
          );
        }
        if (existing && config.if_exists === 'fail') {
          throw new PwError(
            'PW_OUTPUT_EXISTS',
            `Cannot store ${file.path}: ${displayPath(ctx.projectDir, local)} already exists (nothing was fetched)`,
            {
              path: 'with.if_exists',
              hint: 'Set if_exists: overwrite or skip, or fetch into a dated folder.',
            },
          );
        }
        plan.push({ file, local, skip: existing !== undefined && config.if_exists === 'skip' });
      }

      const stored: string[] = [];
      const skipped: string[] = [];
      const moved: string[] = [];
      let bytes = 0;
      const movedDirs = new Set<string>();
      for (const { file, local, skip } of plan) {
        const shown = displayPath(ctx.projectDir, local);
        if (skip) {
          skipped.push(shown);
          ctx.log.info(`Skipped ${file.path}: ${shown} exists`, { remote: file.path, path: shown });
          continue;
        }
        await storeLocally(local, shown, async (temp) => {
          await session.download(file.path, temp);
          const size = (await stat(temp)).size;
          if (size !== file.size) {
            throw new PwError(
              'PW_SFTP_REMOTE',
              `Step '${ctx.stepId}': download of ${file.path} is incomplete: ${size} of ${file.size} bytes (the file may be changing on the server)`,
              { hint: 'Retry later; have the sender upload under a temporary name and rename when done.' },
            );
          }
        });
        stored.push(shown);
        bytes += file.size;
        ctx.log.info(`Fetched ${file.path} to ${shown} (${file.size} bytes)`, {
          remote: file.path,
          path: shown,
          bytes: file.size,
        });
        if (config.move_to !== undefined) {
          const target = movedPath(file.path, config.move_to);
          const folder = posix.dirname(target);
          if (!movedDirs.has(folder)) {
            await session.mkdirp(folder);
            movedDirs.add(folder);
          }
          await session.rename(file.path, target, true);
          moved.push(target);
          ctx.log.info(`Moved ${file.path} to ${target} on the server`, {
            remote: file.path,
            moved_to: target,
          });
        }
      }
      return {
        bytes,
        outputs: {
          files: stored,
          count: stored.length,
          skipped,
          moved,
          into: relative(ctx.projectDir, intoDir).split('\\').join('/') || '.',
        },
      };
    } catch (error) {
      throw session.error(error, `fetching ${config.remote}`);
    } finally {
      session.close();
    }
  },
});
