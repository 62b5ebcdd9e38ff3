/**
 * The `email` step against a real SMTP server on 127.0.0.1 (email-test-server.ts): STARTTLS with a
 * certificate trusted through ca_file, AUTH, and every received message parsed with mailparser.
 * Faults: a refused login, a connection dropped in the middle of the message, 451 then 250, 550,
 * attachments over the limit, an untrusted certificate, an unreachable server; and the outbox.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser, type AddressObject } from 'mailparser';
import { z } from 'zod';
import { defineStep } from '../../core/step.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError, rejectsWith } from '../../testing/assertions.js';
import { filesWriteStep } from '../load/files-write.js';
import { emailStep } from './email.js';
import { startTestSmtpServer, type TestSmtpServer } from './email-test-server.js';
import { svgToPng } from './email-html.js';

const PASSWORD = 'correct horse battery staple';
const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60"><title>Hourly temperature</title><rect width="120" height="60" fill="#eef"/><polyline points="0,50 40,20 80,30 120,5" stroke="#c00" fill="none"/><text x="4" y="12" font-size="10">°C</text></svg>';

/** Registers the files it is given as artifacts of its step (a stand-in for report and chart steps). */
const artifactStep = defineStep({
  type: 'test.artifacts',
  kind: 'custom',
  description: 'Writes files and registers them as artifacts.',
  config: z.strictObject({ files: z.record(z.string(), z.string()) }),
  producesDataset: false,
  async run(ctx, config) {
    await mkdir(ctx.artifacts.dir, { recursive: true });
    for (const [name, base64] of Object.entries(config.files)) {
      const path = join(ctx.artifacts.dir, name);
      await writeFile(path, Buffer.from(base64, 'base64'));
      await ctx.artifacts.register(path);
    }
    return {};
  },
});

let server: TestSmtpServer;
let harness: StepHarness;
let pdf: Buffer;
let chartPng: Buffer;

function mailConnection(overrides: Record<string, unknown> = {}) {
  return {
    type: 'smtp',
    host: '127.0.0.1',
    port: server.port,
    security: 'starttls',
    user: 'reporter',
    password: '${env:SMTP_PASSWORD}',
    ca_file: server.caFile,
    from: 'Reports <reports@example.com>',
    timeout: '5s',
    ...overrides,
  };
}

async function newHarness(
  connection: Record<string, unknown> = {},
  password = PASSWORD,
): Promise<StepHarness> {
  const created = await createStepHarness({
    connections: { mail: mailConnection(connection) as { type: string } },
    env: { SMTP_PASSWORD: password },
  });
  await created.query(
    "CREATE TABLE hourly AS SELECT * FROM (VALUES (TIMESTAMP '2026-11-23 08:00:00', 'p1', 21.5), (TIMESTAMP '2026-11-23 09:00:00', 'p1', 22.25)) t(hour, probe, temp_c)",
  );
  await created.runStep(
    filesWriteStep,
    { input: 'hourly', path: 'out/hourly.csv' },
    { stepId: 'export_csv' },
  );
  await created.runStep(
    filesWriteStep,
    { input: 'hourly', path: 'out/hourly.parquet' },
    { stepId: 'export_parquet' },
  );
  await created.runStep(
    artifactStep,
    {
      files: {
        'report.pdf': pdf.toString('base64'),
        'temps.png': chartPng.toString('base64'),
        'temps.svg': Buffer.from(SVG).toString('base64'),
        'report.html': Buffer.from(
          `<!doctype html><html><body><h1>Weekly temperature</h1><p>Mean &amp; max per probe.</p>${SVG.replace('<svg ', '<svg data-pw-chart="temps" ')}<p>Second chart:</p><img src="temps.svg" alt="Temps again"><table><tr><th>probe</th><th>max</th></tr><tr><td>p1</td><td>22.25</td></tr></table></body></html>`,
        ).toString('base64'),
      },
    },
    { stepId: 'report' },
  );
  return created;
}

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap((entry) => entry.value.map((address) => address.address ?? ''));
}

before(async () => {
  server = await startTestSmtpServer({ password: PASSWORD });
  pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(2048, 7), Buffer.from('\n%%EOF\n')]);
  chartPng = (await svgToPng(SVG)).png;
});

after(async () => {
  await server.close();
});

beforeEach(() => {
  server.received.length = 0;
  server.logins.length = 0;
  server.faults.length = 0;
  server.refuse.clear();
  server.dataCommands = 0;
});

describe('email over SMTP (STARTTLS, AUTH)', () => {
  before(async () => {
    harness = await newHarness();
  });
  after(async () => {
    await harness.close();
  });

  it('sends to to/cc/bcc with the subject, inline chart PNGs referenced by the HTML, and attachments equal to the artifacts', async () => {
    const result = await harness.runStep(
      emailStep,
      {
        connection: 'mail',
        to: 'ana@example.com, Bo <bo@example.com>',
        cc: ['cy@example.com'],
        bcc: 'audit@example.com',
        reply_to: 'team@example.com',
        subject: 'Weekly temperature 2026-W48',
        body: `# Weekly temperature\n\nAll **probes** reported.\n\n${SVG.replace('<svg ', '<svg data-pw-chart="temps" ')}\n\nAnd a drawing of our own:\n\n${SVG.replace('Hourly temperature', 'Own drawing')}\n`,
        attach: [
          'report/report.pdf',
          { step: 'export_csv' },
          { step: 'export_parquet', name: 'hourly.parquet' },
        ],
      },
      { stepId: 'mail_report' },
    );

    assert.equal(server.received.length, 1);
    const [message] = server.received;
    assert.ok(message);
    assert.equal(message.secure, true, 'the message came over TLS (STARTTLS)');
    assert.equal(message.user, 'reporter');
    assert.deepEqual(server.logins, [{ user: 'reporter', method: 'PLAIN', accepted: true }]);
    assert.equal(message.envelopeFrom, 'reports@example.com');
    assert.deepEqual(message.envelopeTo.sort(), [
      'ana@example.com',
      'audit@example.com',
      'bo@example.com',
      'cy@example.com',
    ]);
    const parsed = message.parsed;
    assert.equal(parsed.subject, 'Weekly temperature 2026-W48');
    assert.deepEqual(addresses(parsed.to), ['ana@example.com', 'bo@example.com']);
    assert.deepEqual(addresses(parsed.cc), ['cy@example.com']);
    assert.deepEqual(addresses(parsed.bcc), [], 'bcc recipients are not in the headers');
    assert.deepEqual(addresses(parsed.replyTo), ['team@example.com']);
    assert.equal(parsed.headers.get('x-pipewright-run'), 'test-run');

    // Inline images: every cid: in the HTML is an inline PNG part, and the chart is the artifact itself.
    const html = String(parsed.html);
    assert.doesNotMatch(html, /<svg/i, 'no SVG is left in the HTML');
    const cids = [...html.matchAll(/src="cid:([^"]+)"/g)].map((match) => match[1]);
    assert.deepEqual(cids, ['temps.png', 'chart-1.png']);
    const inline = parsed.attachments.filter((attachment) => attachment.cid !== undefined);
    assert.deepEqual(inline.map((attachment) => attachment.cid).sort(), ['chart-1.png', 'temps.png']);
    for (const image of inline) {
      assert.equal(image.contentType, 'image/png');
      assert.equal(image.related, true, `${image.cid} is in multipart/related`);
      assert.deepEqual(
        image.content.subarray(0, 8),
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
    }
    assert.deepEqual(inline.find((image) => image.cid === 'temps.png')?.content, chartPng);

    // Attachments: byte for byte the artifacts.
    const files = parsed.attachments.filter((attachment) => attachment.cid === undefined);
    assert.deepEqual(
      files.map((file) => file.filename),
      ['report.pdf', 'hourly.csv', 'hourly.parquet'],
    );
    assert.deepEqual(
      files.map((file) => file.contentType),
      ['application/pdf', 'text/csv', 'application/vnd.apache.parquet'],
    );
    assert.deepEqual(files[0]?.content, pdf);
    assert.deepEqual(files[1]?.content, await readFile(join(harness.projectDir, 'out/hourly.csv')));
    assert.deepEqual(files[2]?.content, await readFile(join(harness.projectDir, 'out/hourly.parquet')));

    // The plain-text alternative is derived from the HTML.
    assert.match(String(parsed.text), /^Weekly temperature\n\nAll probes reported\./);
    assert.match(String(parsed.text), /\[Hourly temperature\]/);

    assert.deepEqual(result.outputs, {
      status: 'sent',
      message_id: parsed.messageId,
      recipients: 4,
      attachments: 3,
      inline_images: 2,
      attempts: 1,
    });
    assert.deepEqual(harness.deliveries.at(-1), {
      kind: 'email',
      target: 'ana@example.com, Bo <bo@example.com>, cy@example.com, audit@example.com',
      subject: 'Weekly temperature 2026-W48',
      status: 'sent',
      attempts: 1,
      messageId: parsed.messageId,
    });
  });

  it('uses a report step’s report.html (html_from) with its charts as inline PNGs and a text alternative', async () => {
    await harness.runStep(
      emailStep,
      {
        connection: 'mail',
        to: 'ana@example.com',
        subject: 'Report',
        html_from: 'report',
        text: 'See the HTML part.',
      },
      { stepId: 'mail_html' },
    );
    const parsed = server.received[0]?.parsed;
    assert.ok(parsed);
    const html = String(parsed.html);
    assert.match(html, /<h1>Weekly temperature<\/h1>/);
    // Both the marked inline SVG and <img src="temps.svg"> point at the chart step's PNG, attached once.
    assert.deepEqual(
      [...html.matchAll(/src="cid:([^"]+)"/g)].map((match) => match[1]),
      ['temps.png', 'temps.png'],
    );
    const inline = parsed.attachments.filter((attachment) => attachment.cid !== undefined);
    assert.equal(inline.length, 1);
    assert.deepEqual(inline[0]?.content, chartPng);
    assert.equal(parsed.text, 'See the HTML part.');
  });

  it('refuses the first recipient at RCPT TO but sends to the others, with a warning', async () => {
    server.refuse.add('gone@example.com');
    const result = await harness.runStep(
      emailStep,
      { connection: 'mail', to: ['gone@example.com', 'ana@example.com'], subject: 'Partial', text: 'Hello' },
      { stepId: 'mail_partial' },
    );
    assert.deepEqual(server.received[0]?.envelopeTo, ['ana@example.com']);
    assert.deepEqual(result.warnings, [
      'the server refused gone@example.com; the other recipients got the message',
    ]);
    assert.equal(harness.deliveries.at(-1)?.status, 'sent');
    assert.match(harness.deliveries.at(-1)?.error ?? '', /refused gone@example.com/);
  });

  it('retries after the server closes the connection in the middle of the message, then sends', async () => {
    server.faults.push('close');
    const result = await harness.runStep(
      emailStep,
      {
        connection: 'mail',
        to: 'ana@example.com',
        subject: 'Cut once',
        text: 'x'.repeat(200_000),
        retry_delay: '50ms',
      },
      { stepId: 'mail_cut' },
    );
    assert.equal(server.dataCommands, 2);
    assert.equal(server.received.length, 1);
    assert.equal(server.received[0]?.parsed.subject, 'Cut once');
    assert.equal(result.outputs?.['attempts'], 2);
    assert.deepEqual(
      harness.deliveries.at(-1) && {
        status: harness.deliveries.at(-1)?.status,
        attempts: harness.deliveries.at(-1)?.attempts,
      },
      { status: 'sent', attempts: 2 },
    );
    const retry = harness.logs.find((entry) => entry.stepId === 'mail_cut' && entry.level === 'warn');
    assert.match(
      retry?.message ?? '',
      /^Cannot deliver to SMTP server 127\.0\.0\.1:\d+: .*; attempt 2 of 3 in \d+ ms$/,
    );
  });

  it('retries a 451 answer and sends on the 250 that follows', async () => {
    server.faults.push('451');
    const result = await harness.runStep(
      emailStep,
      {
        connection: 'mail',
        to: 'ana@example.com',
        subject: 'Greylisted',
        text: 'Hello',
        retry_delay: '50ms',
      },
      { stepId: 'mail_451' },
    );
    assert.equal(server.dataCommands, 2);
    assert.equal(server.received.length, 1);
    assert.equal(result.outputs?.['attempts'], 2);
    const retry = harness.logs.find((entry) => entry.stepId === 'mail_451' && entry.level === 'warn');
    assert.match(
      retry?.message ?? '',
      /deferred the message to ana@example\.com: 451 Greylisted, try again later \(DATA\); attempt 2 of 3/,
    );
  });

  it('fails at once on 550, naming server and recipient', async () => {
    server.faults.push('550', '550');
    await rejectsWith(
      (thrown) => {
        const error = asPwError(thrown);
        assert.equal(error.code, 'PW_DELIVERY_REJECTED');
        assert.equal(error.kind, 'user');
        assert.match(
          error.message,
          new RegExp(
            `^SMTP server 127\\.0\\.0\\.1:${server.port} refused the message to ana@example\\.com: 550 Message refused by policy \\(DATA\\)$`,
          ),
        );
      },
      harness.runStep(
        emailStep,
        { connection: 'mail', to: 'ana@example.com', subject: 'No', text: 'x', retry_delay: '50ms' },
        { stepId: 'mail_550' },
      ),
    );
    assert.equal(server.dataCommands, 1, 'a permanent refusal is not retried');
    assert.equal(server.received.length, 0);
    const record = harness.deliveries.at(-1);
    assert.equal(record?.status, 'failed');
    assert.equal(record?.attempts, 1);
    assert.match(record?.error ?? '', /550 Message refused by policy/);
  });

  it('fails when the attachments exceed max_attachment_bytes, listing their sizes, and sends nothing', async () => {
    await rejectsWith(
      (thrown) => {
        const error = asPwError(thrown);
        assert.equal(error.code, 'PW_ATTACHMENTS_TOO_LARGE');
        assert.equal(error.path, 'with.attach');
        assert.match(
          error.message,
          /^The attachments total 2\.\d kB \(\d+ bytes\), over the limit of 1\.0 kB \(1000 bytes\): report\/report\.pdf 2\.1 kB, export_csv\/hourly\.csv \d+ B$/,
        );
      },
      harness.runStep(
        emailStep,
        {
          connection: 'mail',
          to: 'ana@example.com',
          subject: 'Too big',
          text: 'x',
          attach: ['export_csv/hourly.csv', 'report/report.pdf'],
          max_attachment_bytes: '1KB',
        },
        { stepId: 'mail_big' },
      ),
    );
    assert.equal(server.dataCommands, 0);
    assert.equal(server.logins.length, 0, 'not even connected');
    const record = harness.deliveries.at(-1);
    assert.deepEqual([record?.status, record?.attempts], ['failed', 0]);
    assert.match(record?.error ?? '', /over the limit/);
  });

  it('says which artifact is missing and what the step has', async () => {
    await rejectsWith(
      (thrown) => {
        const error = asPwError(thrown);
        assert.equal(error.code, 'PW_INPUT_NOT_FOUND');
        assert.equal(error.message, "Step 'report' registered no artifact named 'report.docx'");
        assert.equal(error.found, "'report.pdf', 'temps.png', 'temps.svg' and 'report.html'");
      },
      harness.runStep(
        emailStep,
        { connection: 'mail', to: 'a@example.com', subject: 's', text: 'x', attach: ['report/report.docx'] },
        { stepId: 'mail_missing' },
      ),
    );
  });
});

describe('email faults of the connection', () => {
  it('refused login: PW_SMTP_AUTH at once, naming server and user, never the password', async () => {
    const wrong = 'wrong password 12345';
    const local = await newHarness({}, wrong);
    try {
      await rejectsWith(
        (thrown) => {
          const error = asPwError(thrown);
          assert.equal(error.code, 'PW_SMTP_AUTH');
          assert.equal(
            error.message,
            `SMTP server 127.0.0.1:${server.port} refused the login of user 'reporter': 535 Authentication credentials invalid`,
          );
          const everything = JSON.stringify({ message: error.message, hint: error.hint, stack: error.stack });
          const plain = Buffer.from(`\u0000reporter\u0000${wrong}`).toString('base64');
          for (const secret of [wrong, plain, Buffer.from(wrong).toString('base64')])
            assert.ok(!everything.includes(secret), `the error does not contain ${secret}`);
        },
        local.runStep(
          emailStep,
          { connection: 'mail', to: 'ana@example.com', subject: 's', text: 'x', retry_delay: '50ms' },
          { stepId: 'mail' },
        ),
      );
      assert.deepEqual(
        server.logins,
        [{ user: 'reporter', method: 'PLAIN', accepted: false }],
        'one login, not retried',
      );
      assert.ok(!JSON.stringify(local.logs).includes(wrong));
      const record = local.deliveries.at(-1);
      assert.deepEqual([record?.status, record?.attempts], ['failed', 1]);
      assert.ok(!JSON.stringify(local.deliveries).includes(wrong));
    } finally {
      await local.close();
    }
  });

  it('an untrusted certificate: PW_DELIVERY_TLS, not retried', async () => {
    const local = await createStepHarness({
      connections: { mail: mailConnection({ ca_file: undefined }) as { type: string } },
      env: { SMTP_PASSWORD: PASSWORD },
    });
    try {
      await rejectsWith(
        (thrown) => {
          const error = asPwError(thrown);
          assert.equal(error.code, 'PW_DELIVERY_TLS');
          assert.match(
            error.message,
            /^TLS with SMTP server 127\.0\.0\.1:\d+ failed: DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate$/,
          );
          assert.match(error.hint ?? '', /set ca_file on connection 'mail'/);
        },
        local.runStep(emailStep, {
          connection: 'mail',
          to: 'a@example.com',
          subject: 's',
          text: 'x',
          retry_delay: '50ms',
        }),
      );
      assert.equal(local.deliveries.at(-1)?.attempts, 1);
      assert.equal(server.logins.length, 0);
    } finally {
      await local.close();
    }
  });

  it('an unreachable server: PW_DELIVERY_UNAVAILABLE (operational) after the attempts', async () => {
    const closed = await startTestSmtpServer();
    const port = closed.port;
    await closed.close();
    const local = await createStepHarness({
      connections: { mail: mailConnection({ port }) as { type: string } },
      env: { SMTP_PASSWORD: PASSWORD },
    });
    try {
      await rejectsWith(
        (thrown) => {
          const error = asPwError(thrown);
          assert.equal(error.code, 'PW_DELIVERY_UNAVAILABLE');
          assert.equal(error.kind, 'operational');
          assert.match(
            error.message,
            new RegExp(
              `^Cannot deliver to SMTP server 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(after 2 attempts\\)$`,
            ),
          );
        },
        local.runStep(emailStep, {
          connection: 'mail',
          to: 'a@example.com',
          subject: 's',
          text: 'x',
          attempts: 2,
          retry_delay: '20ms',
        }),
      );
      assert.equal(local.deliveries.at(-1)?.attempts, 2);
    } finally {
      await local.close();
    }
  });

  it('implicit TLS (security: tls) works as well', async () => {
    const tlsServer = await startTestSmtpServer({ implicitTls: true });
    const local = await createStepHarness({
      connections: {
        mail: { ...mailConnection({ port: tlsServer.port, security: 'tls', ca_file: tlsServer.caFile }) } as {
          type: string;
        },
      },
      env: { SMTP_PASSWORD: PASSWORD },
    });
    try {
      await local.runStep(emailStep, { connection: 'mail', to: 'a@example.com', subject: 'TLS', text: 'x' });
      assert.equal(tlsServer.received.length, 1);
      assert.equal(tlsServer.received[0]?.secure, true);
    } finally {
      await local.close();
      await tlsServer.close();
    }
  });

  it('a connection of another type is refused with PW_CONNECTION_UNKNOWN', async () => {
    const local = await createStepHarness({ connections: { mail: { type: 'postgres', host: 'db' } } });
    try {
      await rejectsWith(
        (thrown) => {
          assert.equal(asPwError(thrown).code, 'PW_CONNECTION_UNKNOWN');
        },
        local.runStep(emailStep, { connection: 'mail', to: 'a@example.com', subject: 's', text: 'x' }),
      );
    } finally {
      await local.close();
    }
  });
});

describe('email without a connection: the outbox', () => {
  it('writes a parseable .eml per message into outbox/, numbered, and records it as outbox', async () => {
    const local = await newHarness();
    try {
      const first = await local.runStep(
        emailStep,
        {
          to: 'ana@example.com',
          subject: 'Offline report',
          body: 'Hello *world*',
          attach: ['report/report.pdf'],
        },
        { stepId: 'mail' },
      );
      await local.runStep(
        emailStep,
        { to: 'ana@example.com', subject: 'Second', text: 'again' },
        { stepId: 'mail' },
      );
      const outbox = join(local.projectDir, 'outbox');
      assert.deepEqual((await readdir(outbox)).sort(), ['test-run-mail-1.eml', 'test-run-mail-2.eml']);
      const parsed = await simpleParser(await readFile(join(outbox, 'test-run-mail-1.eml')));
      assert.equal(parsed.subject, 'Offline report');
      assert.deepEqual(addresses(parsed.to), ['ana@example.com']);
      assert.deepEqual(addresses(parsed.from), ['pipewright@localhost']);
      assert.match(String(parsed.html), /<p>Hello <em>world<\/em><\/p>/);
      assert.equal(parsed.text, 'Hello world\n');
      assert.deepEqual(parsed.attachments[0]?.content, pdf);
      assert.equal(first.outputs?.['status'], 'outbox');
      assert.equal(first.outputs?.['path'], 'outbox/test-run-mail-1.eml');
      assert.equal(first.outputs?.['message_id'], parsed.messageId);
      assert.deepEqual(
        local.deliveries.map((record) => [record.status, record.subject, record.attempts]),
        [
          ['outbox', 'Offline report', 1],
          ['outbox', 'Second', 1],
        ],
      );
      assert.equal(server.dataCommands, 0);
    } finally {
      await local.close();
    }
  });

  it('leaves out optional attachments that do not exist, saying so, and attaches the rest', async () => {
    const local = await newHarness();
    try {
      await local.runStep(
        emailStep,
        {
          to: 'ana@example.com',
          subject: 'Maybe a PDF',
          text: 'see attached',
          attach: [
            { step: 'report', name: 'report.pdf' },
            { step: 'report', name: 'report.docx', optional: true },
            { path: 'out/nothing.csv', optional: true },
          ],
        },
        { stepId: 'mail' },
      );
      const parsed = await simpleParser(
        await readFile(join(local.projectDir, 'outbox', 'test-run-mail-1.eml')),
      );
      assert.deepEqual(
        parsed.attachments.map((attachment) => attachment.filename),
        ['report.pdf'],
      );
      assert.deepEqual(
        local.logs.filter((entry) => entry.message.startsWith('not attached')).map((entry) => entry.message),
        [
          "not attached: step 'report' registered no 'report.docx' (optional)",
          'not attached: out/nothing.csv does not exist (optional)',
        ],
      );
    } finally {
      await local.close();
    }
  });
});
