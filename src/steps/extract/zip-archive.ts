/**
 * Reads a zip archive (an .xlsx workbook is one) through its central directory, so any part can be
 * opened by name, in any order, and streamed. The XLSX reader needs that to read the parts a worksheet
 * refers to (shared strings, styles, the sheet list) before the worksheet itself, wherever the writer
 * stored them: exceljs' own streaming reader walks the local headers in file order and silently drops
 * parts its parser has run past. yauzl does the zip work (central directory, Zip64, size checks, file
 * names that would escape); on top of it every part is checked against its CRC-32 as it is read, so
 * a damaged part fails instead of yielding wrong data. Errors are plain `Error`s with a message meant
 * for the user; the caller says which file they concern.
 */
import type { Readable } from 'node:stream';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';

const STORED = 0;
const DEFLATED = 8;

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  size: number;
  /** yauzl's own record of the entry, for opening it. */
  source: yauzl.Entry;
}

/** Passes data through unchanged and fails at the end unless its CRC-32 and length are the expected. */
class IntegrityCheck extends Transform {
  #crc = 0;
  #length = 0;

  constructor(readonly entry: ZipEntry) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#crc = crc32(chunk, this.#crc);
    this.#length += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const { entry } = this;
    if (this.#length !== entry.size || this.#crc >>> 0 !== entry.crc >>> 0) {
      callback(new Error(`the part ${entry.name} is damaged (its checksum or length does not match)`));
      return;
    }
    callback();
  }
}

/** yauzl's messages name zip internals; say what it means for the workbook. */
function archiveError(cause: unknown): Error {
  const message = (cause as Error).message;
  if (/end of central directory record signature not found/i.test(message))
    return new Error('the file is not a zip archive (or it is truncated)', { cause });
  return new Error(`the zip archive is damaged: ${message}`, { cause });
}

async function listEntries(zip: yauzl.ZipFile): Promise<ZipEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: ZipEntry[] = [];
    zip.on('entry', (source: yauzl.Entry) => {
      entries.push({
        name: source.fileName,
        method: source.compressionMethod,
        crc: source.crc32,
        size: source.uncompressedSize,
        source,
      });
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', (error: unknown) => reject(archiveError(error)));
    zip.readEntry();
  });
}

export class ZipArchive {
  private constructor(
    private readonly zip: yauzl.ZipFile,
    /** In the order of the central directory, which is normally the order they are stored in. */
    readonly entries: readonly ZipEntry[],
  ) {}

  static async open(path: string): Promise<ZipArchive> {
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
    } catch (error) {
      throw archiveError(error);
    }
    try {
      return new ZipArchive(zip, await listEntries(zip));
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  entry(name: string): ZipEntry | undefined {
    return this.entries.find((entry) => entry.name === name);
  }

  /** The entry's uncompressed bytes as a stream that fails if they are damaged. */
  async openEntry(entry: ZipEntry): Promise<Readable> {
    if (entry.source.isEncrypted()) throw new Error(`the part ${entry.name} is encrypted`);
    if (entry.method !== STORED && entry.method !== DEFLATED)
      throw new Error(
        `the part ${entry.name} uses compression method ${entry.method}, which is not supported`,
      );
    let raw: Readable;
    try {
      raw = await this.zip.openReadStreamPromise(entry.source);
    } catch (error) {
      throw archiveError(error);
    }
    const check = new IntegrityCheck(entry);
    // The last stream carries any error of the chain; the callback only keeps it from going unhandled.
    pipeline(raw, check, () => undefined);
    return check;
  }

  /** The entry's bytes, opened only when iteration starts and released when it ends or stops early. */
  async *chunks(entry: ZipEntry): AsyncGenerator<Buffer> {
    const stream = await this.openEntry(entry);
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } finally {
      stream.destroy();
    }
  }

  /** Closes the file; yauzl keeps it open until the streams still reading it have ended. */
  async close(): Promise<void> {
    this.zip.close();
  }
}
