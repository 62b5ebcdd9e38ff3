/**
 * `pipewright send --folder DIR | --file F… | --data JSON --to URL`: packs files into one batch payload
 * (the format of connectors/batch/) and posts it to an inbox of a running `pipewright serve`. The
 * payload is streamed while it is built, so a large folder is never held in memory; progress (files and
 * bytes) goes to stderr, the batch id is the last line on stdout. The token comes from --token,
 * --token-file or PIPEWRIGHT_TOKEN and is never printed.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PwError } from '../../core/errors/pw-error.js';
import {
  describeSources,
  payloadChunks,
  type PayloadProgress,
  type PayloadSource,
} from '../../connectors/batch/build-payload.js';
import { DEFAULT_ALLOWED_TYPES, extensionOf, nameProblem } from '../../connectors/batch/file-names.js';
import { formatMb } from '../../connectors/batch/spool-payload.js';
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { connect } from '../remote/connection.js';

export interface SendOptions {
  folder?: string;
  file: string[];
  data?: string;
  batchName?: string;
  to?: string;
  inbox?: string;
  types?: string;
  dryRun?: boolean;
}

interface BatchAnswer {
  id: string;
  files_accepted: number;
  bytes: number;
  run_id: string | null;
  run_error: string | null;
}

/** Splits `--to` into the server and the route: a full `…/api/inboxes/<x>/batches` URL, or a server with --inbox. */
export function sendTarget(to: string | undefined, inbox: string | undefined, env = process.env) {
  const full = to === undefined ? undefined : /^(.*?)\/api\/inboxes\/([^/]+)\/batches\/?$/.exec(to.trim());
  if (full !== null && full !== undefined) {
    return { server: full[1] ?? '', path: `/api/inboxes/${full[2] ?? ''}/batches` };
  }
  const server = to ?? env.PIPEWRIGHT_SERVER;
  if (server === undefined || server.trim() === '' || inbox === undefined) {
    throw new PwError('PW_USAGE', 'send needs an inbox address', {
      hint: 'Pass --to http://host:8080/api/inboxes/<inbox>/batches, or --to http://host:8080 (or PIPEWRIGHT_SERVER) with --inbox <inbox>.',
    });
  }
  return { server, path: `/api/inboxes/${encodeURIComponent(inbox)}/batches` };
}

async function collectSources(
  options: SendOptions,
  types: readonly string[],
): Promise<{
  sources: PayloadSource[];
  skipped: string[];
  sourceFolder: string;
}> {
  const sources: PayloadSource[] = [];
  const skipped: string[] = [];
  let sourceFolder = process.cwd();
  if (options.folder !== undefined) {
    const folder = resolve(options.folder);
    sourceFolder = folder;
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      throw new PwError(
        'PW_INPUT_NOT_FOUND',
        `Cannot read --folder ${options.folder}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!entry.isFile()) continue;
      if (!types.includes(extensionOf(entry.name)) || nameProblem(entry.name) !== undefined) {
        skipped.push(entry.name);
        continue;
      }
      sources.push({ name: entry.name, path: join(folder, entry.name) });
    }
  }
  for (const file of options.file) {
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile() !== true) throw new PwError('PW_INPUT_NOT_FOUND', `--file ${file} is not a file`);
    sources.push({ name: file.split(/[/\\]/).pop() ?? file, path: resolve(file) });
  }
  if (options.data !== undefined) {
    try {
      JSON.parse(options.data);
    } catch (error) {
      throw new PwError('PW_USAGE', `--data is not valid JSON: ${(error as Error).message}`);
    }
    sources.push({ name: 'data.json', data: Buffer.from(options.data) });
  }
  const seen = new Set<string>();
  for (const source of sources) {
    if (seen.has(source.name))
      throw new PwError('PW_USAGE', `Two files would be sent as '${source.name}'`, {
        hint: 'Names must be unique in a batch.',
      });
    seen.add(source.name);
  }
  return { sources, skipped, sourceFolder };
}

export async function sendCommand(globals: GlobalOptions, options: SendOptions): Promise<number> {
  if (options.folder === undefined && options.file.length === 0 && options.data === undefined) {
    throw new PwError('PW_USAGE', 'Nothing to send', {
      hint: 'Give --folder <dir>, --file <path> (repeatable) or --data <json>.',
    });
  }
  const types =
    options.types === undefined
      ? [...DEFAULT_ALLOWED_TYPES]
      : options.types
          .split(',')
          .map((type) => type.trim().replace(/^\./, '').toLowerCase())
          .filter(Boolean);
  const { sources, skipped, sourceFolder } = await collectSources(options, types);
  if (skipped.length > 0) {
    process.stderr.write(
      `Skipping ${skipped.length} file(s) of other types: ${skipped.slice(0, 10).join(', ')}${skipped.length > 10 ? ', …' : ''}\n`,
    );
  }
  if (sources.length === 0)
    throw new PwError('PW_INPUT_EMPTY', `No file of the types ${types.join(', ')} to send`);
  const files = await describeSources(sources);
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  if (options.dryRun === true) {
    for (const file of files) process.stdout.write(`${file.name}\t${file.bytes}\n`);
    process.stdout.write(
      `Would send ${files.length} file(s), ${formatMb(total)} (nothing sent: --dry-run)\n`,
    );
    return EXIT.ok;
  }
  const target = sendTarget(options.to, options.inbox);
  const client = await connect({ server: target.server, token: globals.token, tokenFile: globals.tokenFile });
  if (client === undefined) throw new PwError('PW_USAGE', 'send needs a server');
  const tty = process.stderr.isTTY;
  const progress = (step: PayloadProgress) => {
    const line = `packed ${step.filesDone}/${files.length} files, ${formatMb(step.bytesDone)} of ${formatMb(total)}`;
    if (tty) process.stderr.write(`\r${line}`);
    else if (step.filesDone === files.length) process.stderr.write(`${line}\n`);
  };
  const answer = await client.postStream<BatchAnswer>(
    target.path,
    payloadChunks(files, { sourceFolder, batchName: options.batchName, now: new Date() }, progress),
    'application/json',
  );
  if (tty) process.stderr.write('\n');
  process.stdout.write(
    [
      `Sent ${answer.files_accepted} file(s) to ${client.server}${target.path}; batch stored.`,
      ...(answer.run_id === null
        ? []
        : [`Queued run ${answer.run_id}; follow it with: pipewright show ${answer.run_id}`]),
      ...(answer.run_error === null ? [] : [`The inbox's pipeline was not queued: ${answer.run_error}`]),
      answer.id,
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}
