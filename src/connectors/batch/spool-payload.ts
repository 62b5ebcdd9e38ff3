/**
 * Stores a request body durably before anything reads it: streamed to `<dir>/<id>.json.part`, the
 * byte count checked against the limit on the way (PW_REQUEST_TOO_LARGE as soon as it is passed),
 * flushed to disk, renamed to `<id>.json` and the folder entry flushed too. A crash after this leaves
 * the whole payload on disk; one before it leaves at most a `.part` file.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { PwError } from '../../core/errors/pw-error.js';

export function tooLarge(limitBytes: number, what: string): PwError {
  return new PwError(
    'PW_REQUEST_TOO_LARGE',
    `The batch payload is larger than ${what}'s limit of ${formatMb(limitBytes)}`,
    { hint: `Send fewer or smaller files per batch, or raise max_payload_mb of ${what} in pipewright.yaml.` },
  );
}

export function formatMb(bytes: number): string {
  return `${Number((bytes / 1024 / 1024).toFixed(2))} MB`;
}

export async function spoolPayload(
  body: Readable,
  dir: string,
  id: string,
  limitBytes: number,
  what: string,
): Promise<{ path: string; bytes: number }> {
  await mkdir(dir, { recursive: true });
  const part = join(dir, `${id}.json.part`);
  const path = join(dir, `${id}.json`);
  const handle = await open(part, 'wx');
  let bytes = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > limitBytes) {
        // Read and drop the rest rather than reset the connection, so the client sees the 413.
        body.resume();
        throw tooLarge(limitBytes, what);
      }
      let offset = 0;
      while (offset < chunk.length) offset += (await handle.write(chunk, offset)).bytesWritten;
    }
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(part, { force: true });
    throw error;
  }
  await rename(part, path);
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
  return { path, bytes };
}
