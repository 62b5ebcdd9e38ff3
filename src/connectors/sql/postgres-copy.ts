/**
 * Two pieces of the PostgreSQL wire protocol that `pg` does not offer, written as pg "submittables"
 * (objects the client queues like a query):
 *
 * - `describeStatement`: Parse + Describe + Sync, which returns a statement's result columns (type OIDs
 *   and modifiers) without running it, so nothing executes twice and a slow query costs nothing here.
 * - `CopyOutStream`: `COPY (…) TO STDOUT` read straight off the socket. Every CopyData message the
 *   server sends holds exactly one row, so the stream hands on runs of whole rows and says where rows
 *   end and how long the longest was: the bulk path cuts its part files there and sizes DuckDB's line
 *   buffer from it. Backpressure pauses the socket, which stalls the server's COPY in turn.
 *
 * While the copy runs the stream owns the socket's data; on CopyDone or an ErrorResponse the rest of
 * the bytes go back to `pg`, which reads the CommandComplete/ReadyForQuery (or the error) as usual. A
 * copy that is destroyed halfway leaves the connection unusable: the caller closes the client.
 */
import { Readable } from 'node:stream';
import type pg from 'pg';

/** The protocol messages met during a copy (first byte of each). */
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const COPY_OUT_RESPONSE = 0x48; // 'H'
const NOTICE_RESPONSE = 0x4e; // 'N'
const PARAMETER_STATUS = 0x53; // 'S'
const NOTIFICATION_RESPONSE = 0x41; // 'A'

/** The parts of pg's Connection the submittables use (not in its type declarations). */
interface PgConnection {
  stream: NodeJS.ReadableStream & { pause(): void; resume(): void };
  query(text: string): void;
  parse(query: { text: string; name?: string; types?: number[] }): void;
  describe(message: { type: 'S' | 'P'; name?: string }): void;
  sync(): void;
}

export interface DescribedField {
  name: string;
  dataTypeID: number;
  dataTypeModifier: number;
}

/** The statement's result columns, or undefined for one that returns no rows (NoData). */
export function describeStatement(client: pg.Client, text: string): Promise<DescribedField[] | undefined> {
  return new Promise((resolve, reject) => {
    let fields: DescribedField[] | undefined;
    const submittable = {
      submit(connection: PgConnection) {
        connection.parse({ text, name: '', types: [] });
        connection.describe({ type: 'S', name: '' });
        connection.sync();
      },
      handleRowDescription(message: { fields: DescribedField[] }) {
        fields = message.fields.map((field) => ({
          name: field.name,
          dataTypeID: field.dataTypeID,
          dataTypeModifier: field.dataTypeModifier,
        }));
      },
      handleError(error: Error) {
        reject(error);
      },
      handleReadyForQuery() {
        resolve(fields);
      },
      handleCommandComplete() {},
      handleEmptyQuery() {},
    };
    void client.query(submittable as unknown as pg.QueryConfig);
  });
}

/** A run of whole CSV rows (or, for a row longer than one socket read, a piece of one). */
export interface CopyPiece {
  data: Buffer;
  /** Rows that end in this piece. */
  rows: number;
  /** Whether the piece ends where a row ends: a part file may be cut after it. */
  endsRow: boolean;
  /** Bytes of the longest row that ends in this piece (0 when none does). */
  longest: number;
}

export class CopyOutStream extends Readable {
  /** Rows the server reported in its CommandComplete (`COPY n`), once the copy has ended. */
  reportedRows: number | undefined;
  /** Whether any CopyData arrived (a failure before it means the statement never produced rows). */
  started = false;
  #connection: PgConnection | undefined;
  #pgListener: ((chunk: Buffer) => void) | undefined;
  #attached = false;
  #pausedByUs = false;
  /** The start of a message whose header or body is still incomplete. */
  #pending: Buffer | undefined;
  /** Bytes of the current CopyData message still to come, and of it seen so far. */
  #rowLeft = 0;
  #rowSeen = 0;
  readonly #onData = (chunk: Buffer) => this.#consume(chunk);

  constructor(readonly text: string) {
    super({ objectMode: true, highWaterMark: 16 });
  }

  submit(connection: PgConnection): void {
    this.#connection = connection;
    const socket = connection.stream;
    const listeners = socket.listeners('data') as ((chunk: Buffer) => void)[];
    if (listeners.length !== 1)
      throw new Error(`expected one reader of the connection, found ${listeners.length}`);
    this.#pgListener = listeners[0];
    socket.removeListener('data', this.#pgListener as (chunk: Buffer) => void);
    socket.on('data', this.#onData);
    this.#attached = true;
    connection.query(this.text);
  }

  override _read(): void {
    if (this.#pausedByUs && this.#connection !== undefined) {
      this.#pausedByUs = false;
      this.#connection.stream.resume();
    }
  }

  #consume(chunk: Buffer): void {
    const buffer = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    const out = Buffer.allocUnsafe(buffer.length);
    let length = 0;
    let rows = 0;
    let longest = 0;
    let position = 0;
    let rest: Buffer | undefined;
    while (position < buffer.length) {
      if (this.#rowLeft > 0) {
        const take = Math.min(this.#rowLeft, buffer.length - position);
        buffer.copy(out, length, position, position + take);
        length += take;
        position += take;
        this.#rowLeft -= take;
        this.#rowSeen += take;
        if (this.#rowLeft === 0) {
          rows += 1;
          if (this.#rowSeen > longest) longest = this.#rowSeen;
        }
        continue;
      }
      if (buffer.length - position < 5) {
        this.#pending = Buffer.from(buffer.subarray(position));
        break;
      }
      const code = buffer[position] as number;
      const size = buffer.readUInt32BE(position + 1);
      if (code === COPY_DATA) {
        this.started = true;
        this.#rowLeft = size - 4;
        this.#rowSeen = 0;
        position += 5;
        if (this.#rowLeft === 0) rows += 1;
        continue;
      }
      if (
        code === COPY_OUT_RESPONSE ||
        code === NOTICE_RESPONSE ||
        code === PARAMETER_STATUS ||
        code === NOTIFICATION_RESPONSE ||
        code === COPY_DONE
      ) {
        if (buffer.length - position < 1 + size) {
          this.#pending = Buffer.from(buffer.subarray(position));
          break;
        }
        position += 1 + size;
        if (code === COPY_DONE) {
          rest = buffer.subarray(position);
          break;
        }
        continue;
      }
      // An ErrorResponse (or anything unexpected): pg reads it and tells this stream through handleError.
      rest = buffer.subarray(position);
      break;
    }
    if (length > 0 || rows > 0) {
      const more = this.push({ data: out.subarray(0, length), rows, endsRow: this.#rowLeft === 0, longest });
      if (!more && rest === undefined && this.#connection !== undefined) {
        this.#pausedByUs = true;
        this.#connection.stream.pause();
      }
    }
    if (rest !== undefined) this.#handBack(rest);
  }

  /** Gives the socket back to pg, with the bytes it has not read yet. */
  #handBack(rest: Buffer): void {
    if (!this.#attached || this.#connection === undefined || this.#pgListener === undefined) return;
    this.#attached = false;
    const socket = this.#connection.stream;
    socket.removeListener('data', this.#onData);
    socket.on('data', this.#pgListener);
    if (this.#pausedByUs) {
      this.#pausedByUs = false;
      socket.resume();
    }
    if (rest.length > 0) this.#pgListener(rest);
  }

  // Called by pg (the client's active query):
  handleCommandComplete(message: { text?: string }): void {
    const match = /^COPY (\d+)/.exec(message.text ?? '');
    if (match?.[1] !== undefined) this.reportedRows = Number(match[1]);
  }

  handleReadyForQuery(): void {
    this.push(null);
  }

  handleError(error: Error): void {
    this.destroy(error);
  }

  handleEmptyQuery(): void {}
}
