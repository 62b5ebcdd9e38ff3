/**
 * A Server-Sent Events parser, as the HTML standard describes the format: lines end with CRLF, LF or
 * CR; `field: value` lines (one optional space after the colon) build an event; a blank line dispatches
 * it; lines starting with a colon are comments (keep-alives). Only `event`, `data` and `id` matter here;
 * an event without data is dropped, as browsers do.
 */
export interface SseEvent {
  /** `message` when the event has no `event:` field. */
  event: string;
  data: string;
  /** The last `id:` seen on the stream so far, as for `Last-Event-ID`. */
  id: string | undefined;
}

export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #lastId: string | undefined;

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.#buffer += text;
    const events: SseEvent[] = [];
    const lineEnd = /\r\n?|\n/g;
    let start = 0;
    for (;;) {
      lineEnd.lastIndex = start;
      const match = lineEnd.exec(this.#buffer);
      if (match === null) break;
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(start, match.index);
      start = match.index + match[0].length;
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  /** At the end of the stream: a pending CR ends its line; an event without its blank line is dropped. */
  end(): SseEvent[] {
    const events = this.#buffer.endsWith('\r') ? this.push('\n') : [];
    this.#buffer = '';
    this.#event = '';
    this.#data = [];
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      const event =
        this.#data.length > 0
          ? { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#lastId }
          : undefined;
      this.#event = '';
      this.#data = [];
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\u0000')) this.#lastId = value;
    return undefined;
  }
}

/**
 * Reads an event stream body to its end, calling `onEvent` for each event (an exception from it stops
 * reading and propagates) and `onChunk` for every chunk received, comments included.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: SseEvent) => void,
  onChunk: () => void = () => {},
): Promise<void> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk();
      for (const event of parser.push(decoder.decode(value, { stream: true }))) onEvent(event);
    }
    for (const event of parser.push(decoder.decode())) onEvent(event);
    for (const event of parser.end()) onEvent(event);
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
