/**
 * The Server-Sent Events parser: events split at any byte, CRLF/CR/LF line ends (a CRLF split between
 * chunks counts once), comments, multi-line data, ids, events without data, and an unfinished event at
 * the end of the stream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser, readSse, type SseEvent } from './sse.js';

const STREAM =
  ': keep-alive\n\n' +
  'id: 75\nevent: log\ndata: {"id":75,"message":"started"}\n\n' +
  'id: 76\r\nevent: log\r\ndata: {"id":76,\r\ndata: "message":"two lines"}\r\n\r\n' +
  'event: end\rdata:{"status":"succeeded"}\r\r';

const EXPECTED: SseEvent[] = [
  { event: 'log', data: '{"id":75,"message":"started"}', id: '75' },
  { event: 'log', data: '{"id":76,\n"message":"two lines"}', id: '76' },
  { event: 'end', data: '{"status":"succeeded"}', id: '76' },
];

test('parses a stream fed at once', () => {
  const parser = new SseParser();
  assert.deepEqual([...parser.push(STREAM), ...parser.end()], EXPECTED);
});

test('parses the same stream fed one character at a time, and in every two-piece split', () => {
  const parser = new SseParser();
  const events = [...STREAM].flatMap((char) => parser.push(char));
  assert.deepEqual([...events, ...parser.end()], EXPECTED);
  for (let cut = 1; cut < STREAM.length; cut += 1) {
    const split = new SseParser();
    const got = [...split.push(STREAM.slice(0, cut)), ...split.push(STREAM.slice(cut)), ...split.end()];
    assert.deepEqual(got, EXPECTED, `split at ${cut}`);
  }
});

test('a CRLF split across chunks is one line end, not a line end and an empty line', () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push('data: a\r'), []);
  assert.deepEqual(parser.push('\ndata: b\r'), []);
  assert.deepEqual(parser.push('\n\r\n'), [{ event: 'message', data: 'a\nb', id: undefined }]);
});

test('drops events without data, and an event the stream ends before dispatching', () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push('event: ping\n\nid: 3\n\n'), []);
  assert.deepEqual(parser.push('data: late\n'), []);
  assert.deepEqual(parser.end(), []);
});

test('keeps only one leading space of a value; a field without colon has an empty value', () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push('data:  two spaces\ndata\n\n'), [
    { event: 'message', data: ' two spaces\n', id: undefined },
  ]);
});

test('readSse decodes UTF-8 split inside a character and stops when the handler throws', async () => {
  const bytes = new TextEncoder().encode(
    'event: log\ndata: 25 °C\n\nevent: error\ndata: x\n\nevent: log\ndata: y\n\n',
  );
  const degree = bytes.indexOf(0xb0); // the second byte of '°'
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, degree));
      controller.enqueue(bytes.slice(degree));
      controller.close();
    },
  });
  const seen: string[] = [];
  await assert.rejects(
    readSse(body, (event) => {
      if (event.event === 'error') throw new Error('stop');
      seen.push(event.data);
    }),
    /stop/,
  );
  assert.deepEqual(seen, ['25 °C']);
});
