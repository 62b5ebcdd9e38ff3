/**
 * A local HTTP server that receives webhooks for the tests: it verifies the X-Pipewright-Signature of
 * each request the way a receiver should (HMAC-SHA256 over "<timestamp>.<raw body>", compared in
 * constant time, timestamp within five minutes) and answers from a planned list of statuses.
 * A helper for tests, not part of the engine.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: unknown;
  /** undefined without a secret; else whether the signature verified. */
  signatureValid: boolean | undefined;
  at: number;
}

export interface PlannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (to test timeouts). */
  delayMs?: number;
}

export interface TestWebhookServer {
  url: string;
  received: ReceivedHook[];
  /** Answers for the next requests, in order; 200 when empty. */
  plan: PlannedAnswer[];
  close(): Promise<void>;
}

/** How a receiver verifies a Pipewright webhook: the documented scheme, as code. */
export function verifySignature(
  secret: string,
  headers: IncomingHttpHeaders,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const timestamp = String(headers['x-pipewright-timestamp'] ?? '');
  const signature = String(headers['x-pipewright-signature'] ?? '');
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startTestWebhookServer(secret?: string): Promise<TestWebhookServer> {
  const state: { received: ReceivedHook[]; plan: PlannedAnswer[] } = { received: [], plan: [] };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      state.received.push({
        path: request.url ?? '',
        headers: request.headers,
        body,
        json,
        signatureValid: secret === undefined ? undefined : verifySignature(secret, request.headers, body),
        at: Date.now(),
      });
      const answer = state.plan.shift() ?? { status: 200, body: 'ok' };
      const respond = () => {
        if (response.destroyed) return;
        response.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        response.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(respond, answer.delayMs);
      else respond();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
