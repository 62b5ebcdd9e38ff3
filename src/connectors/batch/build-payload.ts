/**
 * Writes a batch payload as a stream of chunks, in the users' format (batch_metadata first, then
 * files), reading and base64-encoding each file in pieces of a multiple of 3 bytes so the payload is
 * never held in memory: `pipewright send` posts it as a streamed body, tests and benchmarks write it
 * to a file.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { contentTypeFor, extensionOf } from './file-names.js';

export interface PayloadSource {
  /** The name in the payload. */
  name: string;
  /** A file to read, or the bytes themselves (`--data`). */
  path?: string;
  data?: Buffer;
}

export interface PayloadFile extends PayloadSource {
  bytes: number;
}

export interface PayloadProgress {
  file: string;
  filesDone: number;
  bytesDone: number;
}

export async function describeSources(sources: readonly PayloadSource[]): Promise<PayloadFile[]> {
  return Promise.all(
    sources.map(async (source) => ({
      ...source,
      bytes: source.data !== undefined ? source.data.length : (await stat(source.path ?? '')).size,
    })),
  );
}

const PIECE = 3 * 64 * 1024;

/** The payload's JSON text as chunks. `sourceFolder` and `batchName` go into batch_metadata. */
export async function* payloadChunks(
  files: readonly PayloadFile[],
  meta: { sourceFolder: string; batchName?: string | undefined; now: Date },
  onProgress?: (progress: PayloadProgress) => void,
): AsyncGenerator<Buffer> {
  const entry = (file: PayloadFile) => ({
    filename: file.name,
    size: file.bytes,
    extension: extensionOf(file.name) === '' ? '' : `.${extensionOf(file.name)}`,
  });
  const metadata = {
    timestamp: meta.now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    source_folder: meta.sourceFolder,
    ...(meta.batchName === undefined ? {} : { batch_name: meta.batchName }),
    total_files: files.length,
    files: files.map(entry),
  };
  yield Buffer.from(`{"batch_metadata":${JSON.stringify(metadata)},"files":{`);
  let bytesDone = 0;
  for (const [index, file] of files.entries()) {
    const head = { ...entry(file), content_type: contentTypeFor(file.name) };
    const open = JSON.stringify(head).slice(0, -1);
    yield Buffer.from(`${index === 0 ? '' : ','}${JSON.stringify(file.name)}:${open},"content":"`);
    if (file.data !== undefined) {
      yield Buffer.from(file.data.toString('base64'));
      bytesDone += file.data.length;
    } else {
      let carry: Buffer = Buffer.alloc(0);
      for await (const chunk of createReadStream(file.path ?? '', { highWaterMark: PIECE })) {
        const all = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
        const usable = all.length - (all.length % 3);
        carry = all.subarray(usable);
        if (usable > 0) yield Buffer.from(all.subarray(0, usable).toString('base64'));
        bytesDone += (chunk as Buffer).length;
      }
      if (carry.length > 0) yield Buffer.from(carry.toString('base64'));
    }
    yield Buffer.from('"}');
    onProgress?.({ file: file.name, filesDone: index + 1, bytesDone });
  }
  yield Buffer.from('}}');
}

export function nameOf(path: string): string {
  return basename(path);
}
