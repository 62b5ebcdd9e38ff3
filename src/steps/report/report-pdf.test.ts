/**
 * The report's PDF, printed by the real Chromium (Debian's `chromium`) and read back with `pdftotext`
 * and `pdfinfo` (Debian's `poppler-utils`): metric values, table contents, headers and page numbers,
 * page size; and a missing, crashing or vanishing Chromium, which must leave the HTML report behind.
 * Chromium starts a handful of times in this file, never per assertion.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { asPwError, rejectsWith } from '../../testing/assertions.js';
import { reportStep } from './report.js';
import { DEFAULT_CHROMIUM, findChromium, renderPdf } from './report-pdf.js';
import { pdfOptions } from './report-schema.js';

const run = promisify(execFile);

/**
 * Chromium and poppler-utils are needed here. Outside CI a machine without them skips the tests that
 * print, saying so; under CI=true they run anyway and fail.
 */
async function missingTools(): Promise<string | undefined> {
  if (process.env.CI === 'true') return undefined;
  const missing: string[] = [];
  if (
    !(await access(DEFAULT_CHROMIUM, constants.X_OK).then(
      () => true,
      () => false,
    ))
  )
    missing.push(`chromium (${DEFAULT_CHROMIUM})`);
  if (
    !(await run('pdftotext', ['-v']).then(
      () => true,
      () => false,
    ))
  )
    missing.push('pdftotext (poppler-utils)');
  if (missing.length === 0) return undefined;
  console.log(`# skipping report PDF tests: ${missing.join(', ')} not installed`);
  return `${missing.join(', ')} not installed`;
}
const skipPrinting = await missingTools();
let harness: StepHarness;

const RUN = {
  timezone: 'Europe/Berlin',
  scheduledFor: new Date('2026-03-23T07:00:00Z'),
  params: { low: 25 },
  previousOutputs: {
    runId: '20260316-070000-abcdef',
    scheduledFor: new Date('2026-03-16T07:00:00Z'),
    finishedAt: new Date('2026-03-16T07:01:00Z'),
    outputs: { metrics: { mean_temp: 20 } },
  },
};

const METRICS = {
  mean_temp: { dataset: 'hourly', column: 'temp_c', agg: 'avg', format: '0.0 °C', better: 'higher' },
  hot_hours: {
    query: "SELECT count(*) FROM hourly WHERE temp_c > getvariable('low')",
    label: 'Hours above low',
  },
};

async function pdfText(path: string): Promise<string> {
  return (await run('pdftotext', ['-layout', path, '-'])).stdout;
}

async function pdfInfo(path: string): Promise<{ pages: number; size: string }> {
  const { stdout } = await run('pdfinfo', [path]);
  return {
    pages: Number(/^Pages:\s+(\d+)/m.exec(stdout)?.[1]),
    size: /^Page size:\s+(.*)$/m.exec(stdout)?.[1]?.trim() ?? '',
  };
}

function artifactsOf(stepId: string) {
  return harness.artifacts.filter((artifact) => artifact.stepId === stepId);
}

before(async () => {
  harness = await createStepHarness();
  await harness.query(`CREATE TABLE hourly AS SELECT * FROM (VALUES
      (TIMESTAMP '2026-03-16 00:00', 'north', 21.04),
      (TIMESTAMP '2026-03-16 00:00', 'south', 19.5),
      (TIMESTAMP '2026-03-16 01:00', 'north', 22.96),
      (TIMESTAMP '2026-03-16 01:00', 'south', 18.25),
      (TIMESTAMP '2026-03-16 02:00', 'north', 25.75)
    ) AS t(hour, probe, temp_c)`);
  await harness.query(
    `CREATE TABLE big AS SELECT i AS id, 'row ' || i AS label, i * 1.5 AS amount FROM range(12345) t(i)`,
  );
});
after(async () => {
  await harness.close();
});

describe('report PDF with Chromium', { skip: skipPrinting ?? false }, () => {
  it('prints metrics, tables, the header and "Page 1 of N" into report.pdf, after report.html', async (t) => {
    const result = await harness.runStep(
      reportStep,
      {
        title: 'Weekly temperature',
        datasets: ['hourly', 'big'],
        metrics: METRICS,
        chromium_path: DEFAULT_CHROMIUM,
      },
      { ...RUN, stepId: 'weekly' },
    );
    const files = artifactsOf('weekly');
    assert.deepEqual(
      files.map((file) => [file.name, file.contentType]),
      [
        ['report.html', 'text/html'],
        ['report.pdf', 'application/pdf'],
      ],
    );
    const pdf = files[1]!.path;
    assert.equal(result.outputs?.['pdf'], '.pipewright/artifacts/test-run/weekly/report.pdf');
    assert.equal(result.outputs?.['path'], result.outputs?.['pdf']);

    const text = await pdfText(pdf);
    const { pages, size } = await pdfInfo(pdf);
    assert.ok(pages >= 3, `expected several pages, got ${pages}`);
    assert.match(size, /^59\d(\.\d+)? x 84\d(\.\d+)? pts \(A4\)$/);
    // Metrics with their change against the previous run.
    assert.match(text, /Mean temp/);
    assert.match(text, /21\.5 °C/);
    assert.match(text, /Mean temp\s+Hours above low\n\s*21\.5 °C\s+1\n\s*▲ \+1\.5 °C \(\+7\.5%\) vs\./);
    // Table contents, the truncation note, run metadata in the pipeline zone.
    assert.match(text, /2026-03-16 01:00\s+north\s+22\.96/);
    assert.match(text, /2026-03-16 02:00\s+north\s+25\.75/);
    assert.match(text, /199\s+row 199\s+298\.5/);
    assert.doesNotMatch(text, /row 200\b/);
    assert.match(text, /Showing 200 of 12,345 rows\./);
    assert.match(text, /Scheduled for: Mon 23 Mar 2026, 08:00 \(Europe\/Berlin\)/);
    // Header and footer on every page.
    assert.equal(text.match(/Weekly temperature\s+2026-03-23/g)?.length, pages);
    assert.match(text, /test · run test-run\s+Page 1 of \d+/);
    assert.match(text, new RegExp(`Page ${pages} of ${pages}`));

    const timings = harness.logs
      .filter((entry) => entry.stepId === 'weekly' && typeof entry.data?.['ms'] === 'number')
      .map((entry) => `${String(entry.data?.['path']).split('/').pop()}: ${String(entry.data?.['ms'])} ms`);
    t.diagnostic(`render times: ${timings.join(', ')}`);
  });

  it('uses the page size, orientation, margins, header and footer asked for', async () => {
    await harness.runStep(
      reportStep,
      {
        template: '# Letter\n\n{% table hourly %}',
        pdf: {
          page: 'Letter',
          landscape: true,
          margin: '10mm',
          header: false,
          footer: 'Confidential|{page}/{pages}',
        },
        chromium_path: DEFAULT_CHROMIUM,
        output: { html: 'letter.html', pdf: 'letter.pdf' },
      },
      { ...RUN, stepId: 'letter' },
    );
    const pdf = artifactsOf('letter').find((file) => file.name === 'letter.pdf');
    assert.ok(pdf);
    assert.deepEqual(await pdfInfo(pdf.path), { pages: 1, size: '792 x 612 pts (letter)' });
    const text = await pdfText(pdf.path);
    assert.match(text, /Confidential\s+1\/1/);
    assert.match(text, /2026-03-16 00:00\s+south\s+19\.50/);
    assert.doesNotMatch(text, /Page 1 of|2026-03-23/);
  });
});

describe('report PDF without a working Chromium', () => {
  it('a missing Chromium fails clearly, naming the package, and the HTML report is there', async () => {
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_REPORT_BROWSER_MISSING');
        assert.equal(pw.kind, 'user');
        assert.equal(pw.path, 'with.chromium_path');
        assert.match(
          pw.message,
          /^Cannot render report\.pdf: chromium_path names .*\/no\/such\/chromium, which is not an executable file$/,
        );
        assert.match(
          pw.hint ?? '',
          /The HTML report was written: \.pipewright\/artifacts\/test-run\/missing\/report\.html\./,
        );
        assert.match(pw.hint ?? '', /apt-get install chromium/);
        assert.match(pw.hint ?? '', /chromium_path/);
      },
      harness.runStep(
        reportStep,
        { datasets: ['hourly'], chromium_path: 'no/such/chromium' },
        { ...RUN, stepId: 'missing' },
      ),
    );
    assert.deepEqual(
      artifactsOf('missing').map((file) => file.name),
      ['report.html'],
    );
    assert.deepEqual(await readdir(join(harness.projectDir, '.pipewright/artifacts/test-run/missing')), [
      'report.html',
    ]);

    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_REPORT_BROWSER_MISSING');
        assert.match(pw.message, /PIPEWRIGHT_CHROMIUM names \/opt\/nothing\/chrome/);
      },
      findChromium(undefined, { PIPEWRIGHT_CHROMIUM: '/opt/nothing/chrome' }, 'report.pdf', 'report.html'),
    );
  });

  it('with pdf: auto and no Chromium, the step succeeds with the HTML report and a warning', async () => {
    const result = await harness.runStep(
      reportStep,
      { datasets: ['hourly'], pdf: 'auto', chromium_path: 'no/such/chromium' },
      { ...RUN, stepId: 'auto' },
    );
    assert.deepEqual(
      artifactsOf('auto').map((file) => file.name),
      ['report.html'],
    );
    assert.deepEqual(result.warnings, [
      'report.pdf skipped: no Chromium found (pdf: auto); install it with apt-get install chromium',
    ]);
    assert.equal(result.outputs?.['pdf'], undefined);
  });

  it('a Chromium that crashes on start fails the step (operational), and the HTML report is there', async () => {
    const fake = await harness.writeFile(
      'bin/fake-chromium',
      '#!/bin/sh\necho "fake chromium: cannot open display" >&2\nexit 3\n',
    );
    await chmod(fake, 0o755);
    await rejectsWith(
      (error) => {
        const pw = asPwError(error);
        assert.equal(pw.code, 'PW_REPORT_BROWSER');
        assert.equal(pw.kind, 'operational');
        assert.match(pw.message, /^Chromium failed while rendering report\.pdf: /);
        assert.match(
          pw.hint ?? '',
          /The HTML report was written: \.pipewright\/artifacts\/test-run\/crash\/report\.html/,
        );
      },
      harness.runStep(
        reportStep,
        { datasets: ['hourly'], chromium_path: 'bin/fake-chromium' },
        { ...RUN, stepId: 'crash' },
      ),
    );
    assert.deepEqual(
      artifactsOf('crash').map((file) => file.name),
      ['report.html'],
    );
    // No half-written PDF or temporary file is left.
    assert.deepEqual(await readdir(join(harness.projectDir, '.pipewright/artifacts/test-run/crash')), [
      'report.html',
    ]);
  });

  it(
    'a Chromium that goes away while printing fails with PW_REPORT_BROWSER',
    { skip: skipPrinting ?? false },
    async () => {
      await rejectsWith(
        (error) => {
          const pw = asPwError(error);
          assert.equal(pw.code, 'PW_REPORT_BROWSER');
          assert.match(pw.message, /^Chromium failed while rendering report\.pdf: .*closed/);
        },
        renderPdf({
          html: '<p>hello</p>',
          path: join(harness.projectDir, 'gone.pdf'),
          executablePath: DEFAULT_CHROMIUM,
          options: pdfOptions.parse({}),
          page: { title: 't', date: 'd', pipeline: 'p', run: 'r' },
          target: 'report.pdf',
          htmlShown: 'report.html',
          signal: new AbortController().signal,
          beforePrint: (browser) => browser.close(),
        }),
      );
    },
  );

  it('an aborted step stops printing and closes the browser', { skip: skipPrinting ?? false }, async () => {
    const controller = new AbortController();
    let connected: () => boolean = () => true;
    const started = performance.now();
    await rejectsWith(
      (error) => assert.equal((error as Error).message, 'cancelled by test'),
      renderPdf({
        html: '<p>hello</p>',
        path: join(harness.projectDir, 'aborted.pdf'),
        executablePath: DEFAULT_CHROMIUM,
        options: pdfOptions.parse({}),
        page: { title: 't', date: 'd', pipeline: 'p', run: 'r' },
        target: 'report.pdf',
        htmlShown: 'report.html',
        signal: controller.signal,
        beforePrint: async (browser) => {
          connected = () => browser.isConnected();
          controller.abort(new Error('cancelled by test'));
          // Printing would go on; the abort must close the browser under it.
          await new Promise((resolve) => setTimeout(resolve, 50));
        },
      }),
    );
    assert.equal(connected(), false);
    assert.ok(performance.now() - started < 30_000);
  });
});
