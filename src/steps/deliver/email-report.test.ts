/**
 * The `email` step with the real `chart` and `report` steps: `html_from` takes the report's
 * report.html, and each chart figure of it (an SVG data: URI, which mail clients do not show) is sent
 * as the chart step's own PNG, inline, referenced by `cid:<chart id>.png`. Received by the test SMTP
 * server and parsed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { chartStep } from '../report/chart.js';
import { reportStep } from '../report/report.js';
import { emailStep } from './email.js';
import { startTestSmtpServer, type TestSmtpServer } from './email-test-server.js';

const PASSWORD = 'report-mail-password';

let server: TestSmtpServer;
let harness: StepHarness;

before(async () => {
  server = await startTestSmtpServer({ password: PASSWORD });
  harness = await createStepHarness({
    connections: {
      mail: {
        type: 'smtp',
        host: '127.0.0.1',
        port: server.port,
        user: 'reporter',
        password: '${env:SMTP_PASSWORD}',
        ca_file: server.caFile,
        from: 'reports@example.com',
      },
    },
    env: { SMTP_PASSWORD: PASSWORD },
  });
  await harness.query(`
    CREATE TABLE hourly AS
    SELECT TIMESTAMP '2026-03-02 00:00:00' + INTERVAL (i) HOUR AS hour, probe,
           round(20 + 8 * sin(i / 5.0), 2)::DOUBLE AS temp_c
    FROM range(24) t(i), (VALUES ('probe1'), ('probe2')) v(probe)`);
});

after(async () => {
  await harness.close();
  await server.close();
});

describe('email of a report', () => {
  it('sends report.html with the chart as the chart step’s PNG, inline', async () => {
    await harness.runStep(
      chartStep,
      { input: 'hourly', x: 'hour', y: 'temp_c', series: 'probe', title: 'Hourly temperature' },
      { stepId: 'temps' },
    );
    await harness.runStep(
      reportStep,
      { title: 'Weekly temperature', datasets: ['hourly'], charts: ['temps'], pdf: false },
      { stepId: 'report' },
    );
    await harness.runStep(
      emailStep,
      { connection: 'mail', to: 'ana@example.com', subject: 'Weekly temperature', html_from: 'report' },
      { stepId: 'mail' },
    );

    const parsed = server.received[0]?.parsed;
    assert.ok(parsed, 'the server received the message');
    const html = String(parsed.html);
    assert.match(html, /Weekly temperature/);
    assert.doesNotMatch(html, /src="data:/, 'no data: URI is left');
    assert.match(html, /<figure class="pw-chart" data-chart="temps">\s*<img src="cid:temps\.png"/);
    const png = harness.artifacts.find(
      (artifact) => artifact.stepId === 'temps' && artifact.name === 'temps.png',
    );
    assert.ok(png);
    const inline = parsed.attachments.filter((attachment) => attachment.cid === 'temps.png');
    assert.equal(inline.length, 1);
    assert.equal(inline[0]?.contentType, 'image/png');
    assert.deepEqual(inline[0]?.content, await readFile(png.path));
    assert.match(String(parsed.text), /Weekly temperature/);
  });
});
