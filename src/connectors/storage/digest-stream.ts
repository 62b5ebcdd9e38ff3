/**
 * A pass-through stream that hashes the bytes flowing through it, so a download is verified as it is
 * written, without reading the file again: the SHA-256 and/or MD5 of everything, and the MD5 of each
 * part of `partSize` bytes (part N is bytes [(N-1)·partSize, N·partSize)), from which the multipart
 * ETag S3 gives an object uploaded in such parts follows.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** The multipart ETag S3 gives parts with these MD5s: md5(md5(part 1) … md5(part N))-N. */
export function multipartEtagOf(partMd5s: readonly Buffer[]): string {
  return `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
}

export interface DigestChoice {
  sha256?: boolean;
  md5?: boolean;
  /** Hash parts of this many bytes too. */
  partSize?: number;
}

export class DigestStream extends Transform {
  private readonly sha256Hash: Hash | undefined;
  private readonly md5Hash: Hash | undefined;
  private readonly partSize: number | undefined;
  private partHash: Hash | undefined;
  private partBytes = 0;
  private readonly partMd5s: Buffer[] = [];
  private total = 0;
  private result: { sha256: string | undefined; md5: string | undefined } | undefined;

  constructor(choice: DigestChoice) {
    super();
    this.sha256Hash = choice.sha256 === true ? createHash('sha256') : undefined;
    this.md5Hash = choice.md5 === true ? createHash('md5') : undefined;
    this.partSize = choice.partSize;
    this.partHash = choice.partSize === undefined ? undefined : createHash('md5');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sha256Hash?.update(chunk);
    this.md5Hash?.update(chunk);
    if (this.partSize !== undefined) this.hashParts(chunk, this.partSize);
    this.total += chunk.length;
    callback(null, chunk);
  }

  private hashParts(chunk: Buffer, partSize: number): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, partSize - this.partBytes);
      this.partHash?.update(take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
      this.partBytes += take;
      offset += take;
      if (this.partBytes === partSize) this.closePart();
    }
  }

  private closePart(): void {
    if (this.partHash === undefined) return;
    this.partMd5s.push(this.partHash.digest());
    this.partHash = createHash('md5');
    this.partBytes = 0;
  }

  override _flush(callback: TransformCallback): void {
    // The last, shorter part (an empty input is one empty part).
    if (this.partBytes > 0 || this.partMd5s.length === 0) this.closePart();
    this.result = { sha256: this.sha256Hash?.digest('hex'), md5: this.md5Hash?.digest('hex') };
    callback();
  }

  /** Bytes that went through so far. */
  get bytes(): number {
    return this.total;
  }

  /** Whether the input has ended and every digest is final. */
  get complete(): boolean {
    return this.result !== undefined;
  }

  /** Number of parts (after the end: including the last, shorter one). */
  get parts(): number {
    return this.partMd5s.length;
  }

  get sha256(): string {
    return this.final('sha256');
  }

  get md5(): string {
    return this.final('md5');
  }

  /** The ETag S3 gives a multipart upload of these parts: md5(md5(part 1) … md5(part N))-N. */
  get multipartEtag(): string {
    if (!this.complete || this.partSize === undefined) throw new Error('the parts are not all hashed yet');
    return multipartEtagOf(this.partMd5s);
  }

  private final(which: 'sha256' | 'md5'): string {
    const value = this.result?.[which];
    if (value === undefined) throw new Error(`the ${which} of the stream is not known (yet)`);
    return value;
  }
}
