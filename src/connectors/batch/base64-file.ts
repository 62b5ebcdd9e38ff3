/**
 * A base64 string arriving in pieces, decoded to a file as it comes: strict standard base64 (A–Z a–z
 * 0–9 + /, padded to a multiple of four; line breaks are skipped), counted, hashed and size-limited on
 * the way, so a file of any size costs a few kilobytes of memory. Buffer's own decoder silently skips
 * characters it does not know; this one refuses them.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

const VALID = /^[A-Za-z0-9+/]*$/;
const HEAD_BYTES = 32;
const BATCH_CHARS = 256 * 1024;

export class Base64Error extends Error {}

export interface DecodedFile {
  path: string;
  bytes: number;
  sha256: string;
  /** The first bytes, for checking the content type against the signature. */
  head: Buffer;
}

export class Base64File {
  #handle: FileHandle | undefined;
  #carry = '';
  #padding = 0;
  #bytes = 0;
  #head = Buffer.alloc(0);
  readonly #hash: Hash = createHash('sha256');

  private constructor(
    readonly path: string,
    readonly maxBytes: number,
    handle: FileHandle,
  ) {
    this.#handle = handle;
  }

  /** Creates the file (it must not exist). */
  static async create(path: string, maxBytes: number): Promise<Base64File> {
    return new Base64File(path, maxBytes, await open(path, 'wx'));
  }

  /** Decodes a piece; throws Base64Error for a character outside the alphabet or data after padding. */
  async write(piece: string): Promise<void> {
    let text = piece.includes('\n') || piece.includes('\r') ? piece.replace(/[\r\n]/g, '') : piece;
    if (text === '') return;
    if (this.#padding > 0) {
      if (!/^=*$/.test(text)) throw new Base64Error('data continues after the = padding');
      this.#padding += text.length;
      this.#carry += text;
      if (this.#padding > 2) throw new Base64Error('more than two = padding characters');
      return;
    }
    const pad = text.indexOf('=');
    let tail = '';
    if (pad >= 0) {
      tail = text.slice(pad);
      if (!/^=*$/.test(tail)) throw new Base64Error('data continues after the = padding');
      if (tail.length > 2) throw new Base64Error('more than two = padding characters');
      this.#padding = tail.length;
      text = text.slice(0, pad);
    }
    if (!VALID.test(text)) {
      const bad = /[^A-Za-z0-9+/]/.exec(text)?.[0] ?? '?';
      throw new Base64Error(`the character ${JSON.stringify(bad)} is not base64`);
    }
    // The parser hands over pieces of at most 256 characters: gather them, decode and write in batches.
    const all = this.#carry + text;
    if (all.length < BATCH_CHARS && tail === '') {
      this.#carry = all;
      return;
    }
    const usable = all.length - (all.length % 4);
    // The padding stays in the carry with the last quartet; end() decodes them together.
    this.#carry = all.slice(usable) + tail;
    if (usable > 0) await this.#emit(all.slice(0, usable));
  }

  /** Checks the end (length a multiple of four), flushes to disk and closes. */
  async end(): Promise<DecodedFile> {
    const rest = this.#carry;
    if (rest.length % 4 !== 0) {
      throw new Base64Error('its length is not a multiple of 4 (truncated or unpadded base64)');
    }
    if (rest !== '') await this.#emit(rest);
    const handle = this.#handle;
    if (handle === undefined) throw new Error('Base64File ended twice');
    this.#handle = undefined;
    await handle.sync();
    await handle.close();
    return { path: this.path, bytes: this.#bytes, sha256: this.#hash.digest('hex'), head: this.#head };
  }

  /** Closes without checking (the caller removes the file). */
  async abandon(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  async #emit(text: string): Promise<void> {
    const decoded = Buffer.from(text, 'base64');
    this.#bytes += decoded.length;
    if (this.#bytes > this.maxBytes) throw new FileTooLargeError(this.maxBytes);
    if (this.#head.length < HEAD_BYTES)
      this.#head = Buffer.concat([this.#head, decoded.subarray(0, HEAD_BYTES - this.#head.length)]);
    this.#hash.update(decoded);
    const handle = this.#handle;
    if (handle === undefined) throw new Error('Base64File written after its end');
    let offset = 0;
    while (offset < decoded.length) {
      const { bytesWritten } = await handle.write(decoded, offset);
      offset += bytesWritten;
    }
  }
}

export class FileTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`larger than the limit of ${maxBytes} bytes`);
  }
}
