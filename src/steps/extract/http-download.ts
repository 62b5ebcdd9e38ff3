/**
 * Saving a response body as a file for `http.fetch`. The name comes from the step, from
 * Content-Disposition or from the URL path, all of which a server or a page controls, so it is cut
 * down to one safe file name (no folders, `..`, NUL or control characters, no Windows device names)
 * and the final path is checked to lie inside the target folder. Bytes stream to a temporary name in
 * that folder, stop at the size limit, and are renamed into place only when complete.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join, resolve, sep } from 'node:path';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { PwError } from '../../core/errors/pw-error.js';
import { redactUrl, tooLarge, type HttpAnswer } from './http-request.js';

const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const MAX_NAME_BYTES = 200;

/** One safe file name from untrusted text, or undefined when nothing usable is left. */
export function sanitiseFileName(raw: string): string | undefined {
  const last = raw.split(/[/\\]/).pop() ?? '';
  // NUL and other control characters go first: they cut names short on some file systems.
  let name = [...last]
    .filter((char) => char >= ' ' && char !== '\u007f')
    .join('')
    .replace(/[<>:"|?*]/g, '_')
    .trim()
    .replace(/^\.+/, '')
    .replace(/[. ]+$/, '');
  if (name === '') return undefined;
  if (RESERVED.test(name)) name = `_${name}`;
  while (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 10 ? name.slice(dot) : '';
    name = name.slice(0, name.length - ext.length - 1) + ext;
  }
  return name;
}

/** The file name a Content-Disposition header proposes (filename* preferred), unsanitised. */
export function dispositionName(header: string | null): string | undefined {
  if (header === null) return undefined;
  const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (extended?.[2]) {
    try {
      return decodeURIComponent(extended[2].trim());
    } catch {
      // Fall through to the plain parameter.
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(header);
  const value = plain?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[2]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function urlName(url: string): string | undefined {
  try {
    const segment = new URL(url).pathname.split('/').pop() ?? '';
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Picks the file name: the configured one, Content-Disposition, the URL path, then a fallback. */
export function chooseFileName(
  configured: string | undefined,
  answer: Pick<HttpAnswer, 'headers' | 'url'>,
  fallback: string,
): string {
  const candidates = [
    configured,
    dispositionName(answer.headers.get('content-disposition')),
    urlName(answer.url),
  ];
  for (const candidate of candidates) {
    const safe = candidate === undefined ? undefined : sanitiseFileName(candidate);
    if (safe !== undefined) return safe;
  }
  return sanitiseFileName(fallback) ?? 'download';
}

/** `folder/name`, refusing anything that would land outside `folder`. */
export function pathInside(folder: string, name: string): string {
  const root = resolve(folder);
  const target = resolve(root, name);
  if (!target.startsWith(root + sep) || target.slice(root.length + 1).includes(sep)) {
    throw new PwError('PW_INTERNAL', `Refusing to write ${name} outside ${root}`);
  }
  return target;
}

/** Streams the body to `folder/name` through a temporary file; returns the bytes written. */
export async function saveBody(
  answer: HttpAnswer,
  folder: string,
  name: string,
  limit: number,
): Promise<number> {
  const target = pathInside(folder, name);
  const declared = Number(answer.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await answer.body?.cancel().catch(() => undefined);
    answer.done();
    throw tooLarge(answer.url, limit, `it declares ${declared} bytes`);
  }
  await mkdir(folder, { recursive: true });
  const temp = join(resolve(folder), `.${name}.${randomBytes(4).toString('hex')}.part`);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > limit) callback(tooLarge(answer.url, limit, `more than ${limit} bytes arrived`));
      else callback(null, chunk);
    },
  });
  try {
    const source =
      answer.body === null
        ? Readable.from([])
        : Readable.fromWeb(answer.body as WebReadableStream<Uint8Array>);
    await pipeline(source, counter, createWriteStream(temp, { flags: 'wx' }));
    await rename(temp, target);
    return bytes;
  } catch (error) {
    await rm(temp, { force: true });
    if (error instanceof PwError) throw error;
    throw new PwError(
      'PW_HTTP_UNAVAILABLE',
      `Downloading ${redactUrl(answer.url)} failed: ${(error as Error).message}`,
      {
        hint: 'The server stopped sending, the timeout passed or the folder is not writable; nothing was kept.',
        cause: error,
      },
    );
  } finally {
    answer.done();
  }
}
