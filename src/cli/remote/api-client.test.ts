/**
 * The REST API client of the CLI's --server mode, against a small real HTTP server: server addresses,
 * the bearer header, problem+json answers turned back into the PwError (code, message, hint, exit
 * code) the server made them from, servers that are down, slow or not Pipewright, and event streams.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { problemFor } from '../../api/problem.js';
import { exitCodeFor } from '../exit-codes.js';
import { formatError } from '../format-error.js';
import { styleFor } from '../style.js';
import { ApiClient, normaliseServerUrl, problemToPwError } from './api-client.js';
import { connect } from './connection.js';

const TOKEN = 'pw_test-token-never-printed';
type Handler = (request: IncomingMessage, response: ServerResponse) => void;
const handlers = new Map<string, Handler>();
const seen: { url: string; authorization: string | undefined; accept: string | undefined; body: string }[] =
  [];
let server: Server;
let base: string;

before(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      seen.push({
        url: request.url ?? '',
        authorization: request.headers.authorization,
        accept: request.headers.accept,
        body,
      });
      const handler = handlers.get((request.url ?? '').split('?')[0] ?? '');
      if (handler) handler(request, response);
      else response.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const json = (status: number, body: unknown, type = 'application/json'): Handler => {
  return (_request, response) => {
    response.writeHead(status, { 'content-type': type }).end(JSON.stringify(body));
  };
};

test('server addresses are normalised; credentials, queries and other schemes are refused', () => {
  assert.equal(normaliseServerUrl('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
  assert.equal(normaliseServerUrl('127.0.0.1:8080/'), 'http://127.0.0.1:8080');
  assert.equal(normaliseServerUrl('localhost:8080'), 'http://localhost:8080');
  assert.equal(normaliseServerUrl(' https://pw.example.org/api/ '), 'https://pw.example.org');
  assert.equal(
    normaliseServerUrl('https://example.org/tools/pipewright//'),
    'https://example.org/tools/pipewright',
  );
  for (const bad of [
    '',
    'ftp://example.org',
    'http://user:secret@example.org',
    'http://x/?a=1',
    'http://x/#f',
  ]) {
    assert.throws(
      () => normaliseServerUrl(bad),
      (error: unknown) =>
        error instanceof PwError && error.code === 'PW_USAGE' && !error.message.includes('secret'),
      bad,
    );
  }
});

test('a problem becomes the PwError it was made from: code, message, hint and exit code', () => {
  const original = new PwError('PW_PARAM_INVALID', 'Invalid run parameters:\n  - low: expected a number', {
    hint: 'Pass parameters as --param name=value.',
  });
  const problem = problemFor(original);
  const back = problemToPwError(JSON.parse(JSON.stringify(problem)), problem.status, base);
  assert.equal(back.code, 'PW_PARAM_INVALID');
  assert.equal(back.message, original.message);
  assert.equal(back.hint, original.hint);
  assert.equal(exitCodeFor(back), 2);
  const style = styleFor({ isTTY: false } as NodeJS.WriteStream);
  assert.equal(formatError(back, style), formatError(original, style));

  const notFound = problemToPwError(
    problemFor(new PwError('PW_RUN_NOT_FOUND', "No run has the id 'x'")),
    404,
    base,
  );
  assert.equal(notFound.code, 'PW_RUN_NOT_FOUND');
  assert.equal(exitCodeFor(notFound), 2);

  const spec = problemToPwError({ code: 'PW_SPEC_INVALID', detail: '2 problems in definition' }, 400, base);
  assert.equal(spec.message, '2 problems in definition');
  assert.match(spec.hint ?? '', /pipewright validate/);

  const internal = problemToPwError(problemFor(new Error('boom')), 500, base);
  assert.equal(internal.code, 'PW_INTERNAL');
  assert.equal(exitCodeFor(internal), 3);
  assert.doesNotMatch(internal.message, /boom/);
});

test('401 gets a hint about where the CLI takes its token from; 403 keeps the server message', () => {
  const unknown = problemToPwError(
    problemFor(
      new PwError('PW_AUTH_REQUIRED', 'The bearer token is unknown or revoked', { hint: 'Send the header' }),
    ),
    401,
    base,
  );
  assert.equal(unknown.code, 'PW_AUTH_REQUIRED');
  assert.equal(unknown.message, 'The bearer token is unknown or revoked');
  assert.match(unknown.hint ?? '', /PIPEWRIGHT_TOKEN, --token-file or --token/);
  const forbidden = problemToPwError(
    {
      code: 'PW_AUTH_FORBIDDEN',
      detail: "Token 'r' has scope read; POST /api/runs/:id/cancel needs operate",
      hint: 'Use operate.',
    },
    403,
    base,
  );
  assert.equal(forbidden.code, 'PW_AUTH_FORBIDDEN');
  assert.equal(forbidden.hint, 'Use operate.');
});

test('codes this CLI does not know and bodies that are not problems fall back on the HTTP status', () => {
  assert.equal(
    problemToPwError({ code: 'PW_FROM_THE_FUTURE', detail: 'new' }, 409, base).code,
    'PW_REQUEST_INVALID',
  );
  assert.equal(problemToPwError(undefined, 401, base).code, 'PW_AUTH_REQUIRED');
  assert.equal(problemToPwError(undefined, 403, base).code, 'PW_AUTH_FORBIDDEN');
  assert.equal(problemToPwError(undefined, 404, base).code, 'PW_NOT_FOUND');
  const gateway = problemToPwError('<html>', 502, base);
  assert.equal(gateway.code, 'PW_SERVER_UNREACHABLE');
  assert.equal(exitCodeFor(gateway), 3);
  assert.match(gateway.message, new RegExp(`${base}.*HTTP 502`));
});

test('sends the bearer token, query and JSON body; parses JSON answers', async () => {
  handlers.set('/api/runs', json(200, { runs: [], next: null }));
  handlers.set('/api/pipelines/a%20b/runs', json(201, { id: 'r1' }));
  const client = new ApiClient({ server: `${base}/api`, token: TOKEN });
  seen.length = 0;
  assert.deepEqual(await client.get('/api/runs', { status: 'failed', limit: 5, cursor: undefined }), {
    runs: [],
    next: null,
  });
  assert.deepEqual(await client.post('/api/pipelines/a%20b/runs', { params: { low: '2' } }), { id: 'r1' });
  assert.equal(seen[0]?.url, '/api/runs?status=failed&limit=5');
  assert.equal(seen[0]?.authorization, `Bearer ${TOKEN}`);
  assert.equal(seen[0]?.accept, 'application/json');
  assert.equal(seen[1]?.body, '{"params":{"low":"2"}}');
});

test('a problem answer is thrown as its PwError; an answer that is not JSON is an operational error', async () => {
  handlers.set(
    '/api/runs/nope',
    json(
      404,
      problemFor(new PwError('PW_RUN_NOT_FOUND', "No run has the id 'nope'")),
      'application/problem+json',
    ),
  );
  handlers.set('/not-json', (_request, response) =>
    response.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi'),
  );
  handlers.set('/bad-gateway', (_request, response) =>
    response.writeHead(502, { 'content-type': 'text/html' }).end('<p>'),
  );
  const client = new ApiClient({ server: base, token: TOKEN });
  await assert.rejects(client.get('/api/runs/nope'), (error: PwError) => error.code === 'PW_RUN_NOT_FOUND');
  await assert.rejects(
    client.get('/not-json'),
    (error: PwError) => error.code === 'PW_SERVER_UNREACHABLE' && error.message.includes(base),
  );
  await assert.rejects(
    client.get('/bad-gateway'),
    (error: PwError) => error.code === 'PW_SERVER_UNREACHABLE' && /502/.test(error.message),
  );
});

test('a server that is down or silent is an operational error naming it, never the token', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const down = new ApiClient({ server: `127.0.0.1:${port}`, token: TOKEN });
  await assert.rejects(down.get('/api/runs'), (error: PwError) => {
    assert.equal(error.code, 'PW_SERVER_UNREACHABLE');
    assert.equal(exitCodeFor(error), 3);
    assert.match(
      error.message,
      new RegExp(`Cannot reach the Pipewright server at http://127\\.0\\.0\\.1:${port}: connection refused`),
    );
    assert.doesNotMatch(formatError(error, styleFor(process.stderr), { verbose: true }), /test-token/);
    return true;
  });

  handlers.set('/silent', () => undefined);
  const slow = new ApiClient({ server: base, token: TOKEN, timeoutMs: 200 });
  await assert.rejects(
    slow.get('/silent'),
    (error: PwError) =>
      error.code === 'PW_SERVER_UNREACHABLE' && /no answer within 0.2 s/.test(error.message),
  );
});

test('streams events until the server ends the stream; a silent stream times out; abort ends quietly', async () => {
  handlers.set('/events', (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(': hello\n\nid: 1\nevent: log\ndata: {"n":1}\n\n');
    setTimeout(() => response.end('id: 2\nevent: log\ndata: {"n":2}\n\nevent: end\ndata: {}\n\n'), 50);
  });
  const client = new ApiClient({ server: base, token: TOKEN, streamIdleTimeoutMs: 300 });
  const events: string[] = [];
  seen.length = 0;
  assert.equal(
    await client.stream('/events', { step: 'a' }, (event) => events.push(`${event.event}:${event.data}`)),
    'ended',
  );
  assert.deepEqual(events, ['log:{"n":1}', 'log:{"n":2}', 'end:{}']);
  assert.equal(seen[0]?.accept, 'text/event-stream');
  assert.equal(seen[0]?.url, '/events?step=a');

  handlers.set('/quiet', (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(': open\n\n');
  });
  await assert.rejects(
    client.stream('/quiet', {}, () => undefined),
    (error: PwError) => error.code === 'PW_SERVER_UNREACHABLE',
  );

  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const patient = new ApiClient({ server: base, token: TOKEN });
  assert.equal(await patient.stream('/quiet', {}, () => undefined, controller.signal), 'aborted');

  handlers.set(
    '/denied',
    json(403, problemFor(new PwError('PW_AUTH_FORBIDDEN', 'no')), 'application/problem+json'),
  );
  await assert.rejects(
    patient.stream('/denied', {}, () => undefined),
    (error: PwError) => error.code === 'PW_AUTH_FORBIDDEN',
  );
});

test('connect: flags before environment, a token is required, and a token needs a server', async () => {
  assert.equal(await connect({}, {}), undefined);
  const fromEnv = await connect({}, { PIPEWRIGHT_SERVER: 'localhost:9000', PIPEWRIGHT_TOKEN: TOKEN });
  assert.equal(fromEnv?.server, 'http://localhost:9000');
  const flag = await connect({ server: 'http://a:1', token: TOKEN }, { PIPEWRIGHT_SERVER: 'http://b:2' });
  assert.equal(flag?.server, 'http://a:1');
  await assert.rejects(connect({ server: 'http://a:1' }, {}), (error: PwError) => {
    return error.code === 'PW_AUTH_REQUIRED' && error.message.includes('http://a:1');
  });
  await assert.rejects(
    connect({ token: TOKEN }, {}),
    (error: PwError) => error.code === 'PW_USAGE' && /--server/.test(error.message),
  );
  await assert.rejects(
    connect({ server: 'http://a:1', token: TOKEN, tokenFile: '/x' }, {}),
    (error: PwError) => error.code === 'PW_USAGE',
  );
  await assert.rejects(
    connect({ server: 'http://a:1', tokenFile: '/nonexistent/token' }, {}),
    (error: PwError) => {
      return error.code === 'PW_USAGE' && /ENOENT/.test(error.message);
    },
  );
  await assert.rejects(connect({ server: 'http://a:1', token: 'pw_ with space' }, {}), (error: PwError) => {
    return error.code === 'PW_USAGE' && !error.message.includes('pw_');
  });

  // A token file (with its trailing newline) wins over PIPEWRIGHT_TOKEN, and its token is what is sent.
  const dir = mkdtempSync(join(tmpdir(), 'pw-token-file-'));
  try {
    writeFileSync(join(dir, 'token'), `${TOKEN}-from-file\n`, { mode: 0o600 });
    handlers.set('/api/runs', json(200, { runs: [], next: null }));
    const client = await connect(
      { server: base, tokenFile: join(dir, 'token') },
      { PIPEWRIGHT_TOKEN: TOKEN },
    );
    seen.length = 0;
    await client?.get('/api/runs');
    assert.equal(seen[0]?.authorization, `Bearer ${TOKEN}-from-file`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
