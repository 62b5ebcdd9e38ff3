// Benchmark (issue 6): the weekly report cycle. 1 million 1-minute probe readings (CSV) → hourly and
// per-probe aggregates → 3 charts → HTML + PDF report → e-mail with the PDF and a CSV attached, sent to
// an SMTP server this script runs on 127.0.0.1. A Pipewright pipeline run through the CLI against a
// Python script (bench/report_cycle.py: pandas, matplotlib, reportlab, smtplib from Debian), alternately.
// Goal: Pipewright ≤ 0.5× the Python script's wall time, with its peak RSS reported beside it.
//
//   node bench/report-cycle.mjs [--rows 1000000] [--probes 100] [--reps 3]
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { clearInterval, setInterval } from 'node:timers';
import { SMTPServer } from 'smtp-server';
import {
  CLI,
  COMPARISON_HEADERS,
  DATA_DIR,
  WORK_DIR,
  compare,
  comparisonRows,
  duckdbVersion,
  ensureBuilt,
  fail,
  fmt,
  fmtMiB,
  machineInfo,
  markdownTable,
  median,
  note,
  parseOptions,
  query,
  runIdFrom,
  runTimes,
  sqlString,
  summarize,
  warmPageCache,
} from './lib.mjs';

const options = parseOptions(
  {
    rows: { default: 1_000_000, help: 'readings to generate (rounded down to a multiple of --probes)' },
    probes: { default: 100, help: 'number of probes; each reports every minute' },
    python: {
      default: '/usr/bin/python3',
      help: "the Python that has Debian's python3-pandas, -matplotlib and -reportlab",
    },
    chromium: { default: '/usr/bin/chromium', help: 'the Chromium that prints the PDF report' },
    'generate-only': { default: false, help: 'write the input data to bench/.data and stop' },
  },
  'node bench/report-cycle.mjs — readings → aggregates → 3 charts → HTML + PDF → e-mail: Pipewright vs. Python',
);
ensureBuilt();
if (!existsSync(options.chromium)) fail(`no Chromium at ${options.chromium} (apt-get install chromium)`);

// ---------------------------------------------------------------------------------------------------
// Python with Debian's packages, installed when missing.

const PACKAGES = ['python3-pandas', 'python3-matplotlib', 'python3-reportlab'];

function pythonVersions() {
  const probe = spawnSync(
    options.python,
    [
      '-c',
      'import sys, pandas, matplotlib, reportlab; ' +
        'print(sys.version.split()[0], pandas.__version__, matplotlib.__version__, reportlab.Version)',
    ],
    { encoding: 'utf8' },
  );
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

let versions = pythonVersions();
if (versions === undefined) {
  note(`installing Debian's ${PACKAGES.join(', ')} (apt-get install -y …) …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', ...PACKAGES], { stdio: 'inherit', env });
  if (install().status !== 0) {
    note('apt-get install failed; running apt-get update first and trying again …');
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (install().status !== 0)
      fail(`could not install ${PACKAGES.join(' ')} (run as root, or install them)`);
  }
  versions = pythonVersions();
  if (versions === undefined) fail(`${options.python} still cannot import them; pass --python <path>`);
}
const [pythonRelease, pandasRelease, matplotlibRelease, reportlabRelease] = versions.split(' ');

// ---------------------------------------------------------------------------------------------------
// Data: `ts,probe,temp_c`, every probe every minute, as a logger's export sorted by time.

const GENERATOR_VERSION = 1;
const probes = options.probes;
const minutes = Math.floor(options.rows / probes);
const rows = minutes * probes;

function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function generate(path) {
  const next = random(6);
  const names = Array.from({ length: probes }, (_, index) => `probe-${String(index + 1).padStart(3, '0')}`);
  const bases = names.map(() => 22 + next() * 11);
  const start = Date.parse('2026-11-16T00:00:00Z');
  const stream = createWriteStream(path);
  stream.write('ts,probe,temp_c\n');
  for (let minute = 0; minute < minutes; minute += 1) {
    const at = start + minute * 60_000;
    const ts = new Date(at).toISOString().slice(0, 19).replace('T', ' ');
    const diurnal = Math.sin((((at / 3.6e6) % 24) / 24) * 2 * Math.PI) * 4;
    let chunk = '';
    for (let probe = 0; probe < probes; probe += 1) {
      const temp = bases[probe] + diurnal + (next() - 0.5) * 3;
      chunk += `${ts},${names[probe]},${temp.toFixed(2)}\n`;
    }
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}

mkdirSync(DATA_DIR, { recursive: true });
const input = join(DATA_DIR, `minute-readings-${rows}-${probes}.csv`);
const metaPath = `${input}.meta.json`;
const wanted = JSON.stringify({ generator: GENERATOR_VERSION, rows, probes });
if (
  options.regen ||
  !existsSync(input) ||
  (existsSync(metaPath) ? readFileSync(metaPath, 'utf8') : '') !== wanted
) {
  note(`generating ${rows} readings (${probes} probes × ${minutes} minutes) into ${input} …`);
  rmSync(metaPath, { force: true });
  await generate(input);
  writeFileSync(metaPath, wanted);
}
const inputBytes = statSync(input).size;
note(`input: ${input} (${(inputBytes / 1e6).toFixed(0)} MB, ${rows} rows)`);
if (options['generate-only']) process.exit(0);

// ---------------------------------------------------------------------------------------------------
// The SMTP server both ways send to: in this process, 127.0.0.1, no TLS, no login. It keeps each
// message's size, its sender way (a header) and the names of its attachments.

const received = [];
const smtp = new SMTPServer({
  secure: false,
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  logger: false,
  size: 50 * 1024 * 1024,
  onData(stream, _session, callback) {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const headers = raw.slice(0, raw.search(/\r?\n\r?\n/));
      received.push({
        bytes: Buffer.byteLength(raw, 'latin1'),
        way: /^X-Pipewright-Run:/im.test(headers)
          ? 'pipewright'
          : /^X-Bench-Way: python/im.test(headers)
            ? 'python'
            : '?',
        attachments: [
          ...raw.matchAll(/Content-Disposition:\s*attachment;[\s\S]{0,200}?filename="?([^"\r\n;]+)/gi),
        ].map((match) => match[1]),
        inline: [...raw.matchAll(/Content-Disposition:\s*inline/gi)].length,
        at: Date.now(),
      });
      callback();
    });
  },
});
smtp.listen(0, '127.0.0.1');
await once(smtp.server, 'listening');
const smtpPort = smtp.server.address().port;
note(`SMTP server on 127.0.0.1:${smtpPort}`);

// ---------------------------------------------------------------------------------------------------
// The two ways

const work = join(WORK_DIR, 'report-cycle');
const project = join(work, 'project');
const pythonDir = join(work, 'python');
rmSync(work, { recursive: true, force: true });
mkdirSync(join(project, 'pipelines'), { recursive: true });
mkdirSync(pythonDir, { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  `# Written by bench/report-cycle.mjs
name: bench-report-cycle
timezone: UTC
state: .pipewright/state.db
workspace: { keep: never }
duckdb: { memory_limit: 1GB }
connections:
  mail: { type: smtp, host: 127.0.0.1, port: ${smtpPort}, security: none, from: "Reports <reports@example.com>" }
`,
);
const FOCUS = ['probe-001', 'probe-002', 'probe-003', 'probe-004'];
writeFileSync(
  join(project, 'pipelines', 'weekly-report.yaml'),
  `# Written by bench/report-cycle.mjs
id: weekly-report
description: 1-minute probe readings to a weekly report, mailed with its PDF and the per-probe summary
params:
  low: { type: number, default: 25 }
  high: { type: number, default: 35 }
steps:
  - id: readings
    uses: files.read
    with:
      path: ${JSON.stringify(input)}
      columns: { ts: TIMESTAMP, probe: VARCHAR, temp_c: DOUBLE }

  - id: hourly
    uses: sql
    with:
      query: |
        SELECT date_trunc('hour', ts) AS hour, probe, avg(temp_c) AS temp_c
        FROM readings GROUP BY ALL ORDER BY ALL

  - id: summary
    uses: sql
    with:
      query: |
        SELECT r.probe, count(*) AS readings, min(temp_c) AS min_c, avg(temp_c) AS mean_c, max(temp_c) AS max_c,
               any_value(h.hot) AS hours_above_high
        FROM readings r
        JOIN (SELECT probe, count(*) FILTER (WHERE temp_c > getvariable('high')) AS hot FROM hourly GROUP BY probe) h
          USING (probe)
        GROUP BY r.probe ORDER BY r.probe

  - id: daily
    uses: sql
    with:
      query: SELECT CAST(ts AS DATE) AS day, max(temp_c) AS max_c FROM readings GROUP BY ALL ORDER BY ALL

  - id: distribution
    uses: sql
    with:
      query: SELECT floor(temp_c * 2) / 2 AS bin_c, count(*) AS readings FROM readings GROUP BY ALL ORDER BY ALL

  - id: hourly_focus
    uses: sql
    with:
      query: SELECT * FROM hourly WHERE probe IN (${FOCUS.map((probe) => `'${probe}'`).join(', ')})

  - id: hourly_chart
    uses: chart
    with:
      input: hourly_focus
      title: Hourly mean temperature
      x: { field: hour, title: Hour }
      y: { field: temp_c, title: "Temperature (°C)" }
      series: probe
      rules:
        - { y: "{{ params.low }}", label: "{{ params.low }} °C" }
        - { y: "{{ params.high }}", label: "{{ params.high }} °C", color: "#d62728" }

  - id: daily_chart
    uses: chart
    with:
      input: daily
      title: Daily maximum
      mark: bar
      x: { field: day, title: Day }
      y: { field: max_c, title: "Temperature (°C)" }

  - id: distribution_chart
    uses: chart
    with:
      input: distribution
      title: Distribution of readings
      mark: area
      x: { field: bin_c, title: "Temperature (°C, 0.5 °C bins)" }
      y: { field: readings, title: Readings }

  - id: export_summary
    uses: files.write
    with: { input: summary, path: out/summary.csv }

  - id: report
    uses: report
    with:
      title: "Weekly temperature report, {{ run.scheduled_for | date: 'yyyy-MM-dd' }}"
      charts: [hourly_chart, daily_chart, distribution_chart]
      datasets:
        - { id: summary, title: Per probe, format: { min_c: "0.00", mean_c: "0.00", max_c: "0.00" } }
        - { id: daily, title: Daily maximum, format: { max_c: "0.00" } }
      metrics:
        mean_temp: { dataset: readings, column: temp_c, agg: avg, format: "0.0 °C", label: Mean temperature }
        max_temp: { dataset: readings, column: temp_c, agg: max, format: "0.0 °C", label: Highest reading }
        readings: { dataset: readings, format: "#,##0", label: Readings }
        hot_hours: { dataset: hourly, where: "temp_c > getvariable('high')", format: "#,##0", label: Hours above 35 °C }
      pdf: true
      chromium_path: ${JSON.stringify(options.chromium)}

  - id: mail
    uses: email
    with:
      connection: mail
      to: facilities@example.com
      subject: "Weekly temperature report, {{ run.scheduled_for | date: 'yyyy-MM-dd' }}"
      html_from: report
      attach:
        - report/report.pdf
        - { step: export_summary }
`,
);

const validate = spawnSync(process.execPath, [CLI, '--project', project, 'validate'], { encoding: 'utf8' });
if (validate.status !== 0)
  fail(`the benchmark pipeline does not validate:\n${validate.stdout}${validate.stderr}`);

const PIPEWRIGHT = 'Pipewright (CLI run)';
const PYTHON = 'Python (pandas, matplotlib, reportlab, smtplib)';
const pipewrightSummary = join(project, 'out', 'summary.csv');
const pythonSummary = join(pythonDir, 'summary.csv');

// The whole process tree: the CLI starts Chromium to print the PDF, and neither the child's own
// getrusage maxRSS nor its CPU time counts Chromium's processes. Every 100 ms the harness reads, for
// every descendant of this process, its proportional set size (Pss, from /proc/<pid>/smaps_rollup, so
// pages shared between Chromium's processes count once; the peak of the sum is reported) and, for the
// grandchildren (Chromium), their CPU time so far (/proc/<pid>/stat). That CPU is added to the child's
// and taken off "others", so Chromium's work does not make a measurement look disturbed; the last
// < 100 ms of each Chromium process is missed. The sampling itself costs the harness a little CPU,
// which counts as "others".
function sampleTree(cpuTicks) {
  const children = new Map();
  const stats = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const parent = Number(fields[1]);
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(Number(entry));
      stats.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the process ended meanwhile
    }
  }
  let pss = 0;
  const queue = [[process.pid, 0]];
  while (queue.length > 0) {
    const [parent, depth] = queue.pop();
    for (const pid of children.get(parent) ?? []) {
      try {
        const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
        pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      } catch {
        // the process ended meanwhile
      }
      if (depth >= 1) cpuTicks.set(pid, Math.max(cpuTicks.get(pid) ?? 0, stats.get(pid) ?? 0));
      queue.push([pid, depth + 1]);
    }
  }
  return pss;
}

function treeSampler() {
  let peak = 0;
  const cpuTicks = new Map();
  const timer = setInterval(() => (peak = Math.max(peak, sampleTree(cpuTicks))), 100);
  return () => {
    clearInterval(timer);
    const ticks = [...cpuTicks.values()].reduce((sum, value) => sum + value, 0);
    return { treeMiB: peak / 1024, descendantCpu: ticks / 100 };
  };
}

/** Adds the CPU of the child's own children (Chromium) to the child's and takes it off "others". */
function accountTree(result, tree) {
  if (result.cpuSeconds !== undefined) result.cpuSeconds += tree.descendantCpu;
  if (result.noiseCores !== undefined) {
    result.noiseCores = Math.max(0, result.noiseCores - tree.descendantCpu / result.seconds);
  }
  return { treeMiB: tree.treeMiB, descendantCpu: tree.descendantCpu };
}

let stopSampler;
let receivedBefore = 0;
function checkMail(way) {
  const arrived = received.slice(receivedBefore);
  if (arrived.length !== 1 || arrived[0].way !== way) {
    throw new Error(`expected one message from ${way}, the SMTP server got ${JSON.stringify(arrived)}`);
  }
  const attachments = arrived[0].attachments.join(', ');
  if (!attachments.includes('report.pdf') || !attachments.includes('summary.csv')) {
    throw new Error(`${way}'s message lacks an attachment: ${attachments}`);
  }
  return { mailKiB: arrived[0].bytes / 1024, inline: arrived[0].inline, attachments };
}

const ways = [
  {
    name: PIPEWRIGHT,
    prepare: () => {
      rmSync(pipewrightSummary, { force: true });
      receivedBefore = received.length;
    },
    spec: () => {
      stopSampler = treeSampler();
      return { node: true, args: [CLI, '--project', project, 'run', 'weekly-report', '--json'] };
    },
    check: (result) => {
      const tree = accountTree(result, stopSampler());
      const id = runIdFrom(result.stdout);
      const { steps, span } = runTimes(project, id);
      const pdfBytes = statSync(join(project, '.pipewright', 'artifacts', id, 'report', 'report.pdf')).size;
      return {
        ...steps,
        outside: result.seconds - span,
        span,
        ...tree,
        pdfKiB: pdfBytes / 1024,
        ...checkMail('pipewright'),
      };
    },
  },
  {
    name: PYTHON,
    prepare: () => {
      rmSync(pythonDir, { recursive: true, force: true });
      receivedBefore = received.length;
    },
    spec: () => {
      stopSampler = treeSampler();
      return {
        command: options.python,
        args: [join(import.meta.dirname, 'report_cycle.py'), input, pythonDir, String(smtpPort)],
      };
    },
    check: (result) => {
      const tree = accountTree(result, stopSampler());
      const phases = JSON.parse(result.stdout.trim().split('\n').pop());
      return {
        ...phases,
        ...tree,
        pdfKiB: statSync(join(pythonDir, 'report.pdf')).size / 1024,
        ...checkMail('python'),
      };
    },
  },
];

await warmPageCache(input);
const machine = machineInfo();
const results = await compare(ways, options);
smtp.close();

// ---------------------------------------------------------------------------------------------------
// Checks: the per-probe summaries agree (every number; means within 1e-9) and every message arrived.

const summaryColumns = `{'probe': 'VARCHAR', 'readings': 'BIGINT', 'min_c': 'DOUBLE', 'mean_c': 'DOUBLE', 'max_c': 'DOUBLE', 'hours_above_high': 'BIGINT'}`;
const readSummary = (path) =>
  `read_csv(${sqlString(path)}, header = true, auto_detect = false, columns = ${summaryColumns})`;
const [agreement] = await query(`
  WITH p AS (SELECT * FROM ${readSummary(pipewrightSummary)}),
       q AS (SELECT * FROM ${readSummary(pythonSummary)})
  SELECT (SELECT count(*) FROM p) AS probes_pipewright,
         (SELECT count(*) FROM q) AS probes_python,
         (SELECT count(*) FROM p JOIN q USING (probe)
           WHERE p.readings = q.readings AND p.min_c = q.min_c AND p.max_c = q.max_c
             AND p.hours_above_high = q.hours_above_high AND abs(p.mean_c - q.mean_c) <= 1e-9) AS equal,
         (SELECT max(abs(p.mean_c - q.mean_c)) FROM p JOIN q USING (probe)) AS max_mean_difference,
         (SELECT sum(readings) FROM p) AS readings,
         (SELECT sum(hours_above_high) FROM p) AS hot_hours`);
const agree =
  Number(agreement.probes_pipewright) === probes &&
  Number(agreement.probes_python) === probes &&
  Number(agreement.equal) === probes &&
  Number(agreement.readings) === rows;
const messages = {
  pipewright: received.filter((message) => message.way === 'pipewright'),
  python: received.filter((message) => message.way === 'python'),
};

const pipewright = summarize(results.get(PIPEWRIGHT));
const python = summarize(results.get(PYTHON));
const ratio = pipewright.median / python.median;
const extra = (way, name, digits = 2) => fmt(median(results.get(way).map((m) => m.extra[name])), digits);
const maxExtra = (way, name) => Math.max(...results.get(way).map((m) => m.extra[name]));
const STEPS = [
  'readings',
  'hourly',
  'summary',
  'daily',
  'distribution',
  'hourly_focus',
  'hourly_chart',
  'daily_chart',
  'distribution_chart',
  'export_summary',
  'report',
  'mail',
];
const stepRows = STEPS.map((step) => [step, `${extra(PIPEWRIGHT, step)} s`]);
stepRows.push(['(run span, first step start → last step end)', `${extra(PIPEWRIGHT, 'span')} s`]);
stepRows.push([
  '(outside the run span: CLI start-up, validation, state store)',
  `${extra(PIPEWRIGHT, 'outside')} s`,
]);
const PHASES = ['import_s', 'read_s', 'aggregate_s', 'charts_s', 'html_s', 'pdf_s', 'email_s'];

const lines = [
  `## Weekly report cycle: ${rows.toLocaleString('en')} readings (${probes} probes × ${minutes} minutes), ${(inputBytes / 1e6).toFixed(0)} MB CSV`,
  '',
  markdownTable(COMPARISON_HEADERS, comparisonRows(results, PYTHON)),
  '',
  `- goal ≤ 0.5× the Python script's wall time: ${fmt(ratio)}× — ${ratio <= 0.5 ? 'met' : 'missed'}`,
  `- peak memory of the whole process tree (sum of Pss over the child and its children, sampled every 100 ms, Chromium included): Pipewright ${fmtMiB(maxExtra(PIPEWRIGHT, 'treeMiB'))}, ` +
    `Python ${fmtMiB(maxExtra(PYTHON, 'treeMiB'))} (the table's peak RSS is the main process's getrusage maxRSS only); CPU includes Chromium's, ${extra(PIPEWRIGHT, 'descendantCpu', 1)} s median`,
  `- results agree: ${agree ? 'yes' : 'NO'} — ${Number(agreement.equal)} of ${probes} per-probe summaries equal ` +
    `(readings, min, max, hours above ${35} °C exactly; largest difference of a mean ${Number(agreement.max_mean_difference).toExponential(1)}), ` +
    `${Number(agreement.readings)} readings, ${Number(agreement.hot_hours)} probe-hours above 35 °C`,
  `- e-mails received by the SMTP server: Pipewright ${messages.pipewright.length} (median ${extra(PIPEWRIGHT, 'mailKiB', 0)} KiB, ` +
    `${extra(PIPEWRIGHT, 'inline', 0)} inline parts, attached ${results.get(PIPEWRIGHT)[0].extra.attachments}), ` +
    `Python ${messages.python.length} (median ${extra(PYTHON, 'mailKiB', 0)} KiB, ${extra(PYTHON, 'inline', 0)} inline parts, ` +
    `attached ${results.get(PYTHON)[0].extra.attachments}); PDF ${extra(PIPEWRIGHT, 'pdfKiB', 0)} KiB vs ${extra(PYTHON, 'pdfKiB', 0)} KiB`,
  '',
  'Pipewright by step (median s, from `pipewright show --json`):',
  '',
  markdownTable(['step', 'median'], stepRows),
  '',
  `Python by phase (median s): ${PHASES.map((phase) => `${phase.replace(/_s$/, '')} ${extra(PYTHON, phase)}`).join(', ')}`,
  '',
  `- ${options.reps} runs each, alternating; peak RSS = max getrusage maxRSS over the runs; DuckDB memory_limit 1GB`,
  `- machine: ${machine.cpu}, ${machine.memory}, Node ${machine.node}, DuckDB ${await duckdbVersion()} (${machine.duckdb}), ` +
    `Python ${pythonRelease}, pandas ${pandasRelease}, matplotlib ${matplotlibRelease}, reportlab ${reportlabRelease} (Debian, ${options.python}), ` +
    `Chromium ${spawnSync(options.chromium, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '?'}, commit ${machine.commit}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
// Each measurement was checked for exactly one message with both attachments; re-runs add messages.
if (!agree || messages.pipewright.length < options.reps || messages.python.length < options.reps) {
  process.exitCode = 1;
}
