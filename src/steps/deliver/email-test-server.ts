/**
 * A real SMTP server on 127.0.0.1 for the delivery tests (smtp-server): STARTTLS (or TLS from the start)
 * with a self-signed certificate made by openssl for the test, AUTH PLAIN/LOGIN required after TLS,
 * every accepted message parsed with mailparser. Faults are planned per DATA command: answer 451 or
 * 550, or drop the connection in the middle of the message. A helper for tests, not part of the engine.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { selfSignedCertificate } from '../../testing/self-signed-certificate.js';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface ReceivedMessage {
  envelopeFrom: string;
  envelopeTo: string[];
  /** The connection was encrypted (STARTTLS or implicit TLS) when the message came. */
  secure: boolean;
  user: string | undefined;
  raw: Buffer;
  parsed: ParsedMail;
}

export type DataFault = '451' | '550' | 'close';

export interface TestSmtpServer {
  host: string;
  port: number;
  /** The PEM certificate of the server, to trust as ca_file. */
  caFile: string;
  received: ReceivedMessage[];
  /** Logins tried, with the method and whether they were accepted. */
  logins: Array<{ user: string; method: string; accepted: boolean }>;
  /** Faults for the next DATA commands, taken one per message in order. */
  faults: DataFault[];
  /** Recipients refused at RCPT TO with 550. */
  refuse: Set<string>;
  dataCommands: number;
  close(): Promise<void>;
}

export async function startTestSmtpServer(
  options: { user?: string; password?: string; implicitTls?: boolean } = {},
): Promise<TestSmtpServer> {
  const user = options.user ?? 'reporter';
  const password = options.password ?? 'correct horse battery staple';
  const { key, cert, certFile } = selfSignedCertificate();
  const state: Omit<TestSmtpServer, 'host' | 'port' | 'close'> = {
    caFile: certFile,
    received: [],
    logins: [],
    faults: [],
    refuse: new Set(),
    dataCommands: 0,
  };
  const server: SMTPServer = new SMTPServer({
    secure: options.implicitTls ?? false,
    key,
    cert,
    name: 'localhost',
    banner: 'Pipewright test SMTP server',
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    logger: false,
    onAuth(auth, _session, callback) {
      const accepted = auth.username === user && auth.password === password;
      state.logins.push({ user: auth.username ?? '', method: auth.method, accepted });
      if (accepted) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      if (state.refuse.has(address.address)) {
        callback(Object.assign(new Error(`No such user here: ${address.address}`), { responseCode: 550 }));
      } else callback();
    },
    onData(stream, session, callback) {
      state.dataCommands += 1;
      const fault = state.faults.shift();
      if (fault === 'close') {
        // Drop the connection in the middle of the message, as a crashing server or a network cut would.
        stream.once('data', () => {
          for (const connection of server.connections) {
            if (connection.remotePort === session.remotePort) connection._socket.destroy();
          }
        });
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (fault === '451')
          return callback(Object.assign(new Error('Greylisted, try again later'), { responseCode: 451 }));
        if (fault === '550')
          return callback(Object.assign(new Error('Message refused by policy'), { responseCode: 550 }));
        const raw = Buffer.concat(chunks);
        simpleParser(raw, { keepCidLinks: true })
          .then((parsed) => {
            state.received.push({
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              envelopeTo: session.envelope.rcptTo.map((entry) => entry.address),
              secure: session.secure,
              user: typeof session.user === 'string' ? session.user : undefined,
              raw,
              parsed,
            });
            callback(null, 'Message queued as test');
          })
          .catch((error: unknown) => callback(error as Error));
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address() as AddressInfo;
  return Object.assign(state, {
    host: '127.0.0.1',
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
