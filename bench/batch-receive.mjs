// Batch payloads (issue 5): how fast and in how much memory a 50 MB payload of 200 files is unpacked.
// The payload is generated once (bench/.data/, with payloadChunks of dist/, the format `pipewright send`
// writes). Two ways alternate in child processes (bench/batch-unpack-child.mjs): the streaming core of
// dist/ (stream-json tokens, base64 decoded piece by piece to temporary files, checks, hard links into
// the folder) and a plain baseline (readFile, JSON.parse, Buffer.from(base64), writeFile). Both outputs
// are compared byte for byte after each run. Reported: wall time, MB/s of payload (in-process time),
// peak RSS (VmHWM) and CPU.
//
// Goal: peak RSS ≤ 300 MB for the streaming core.
//
//   node bench/batch-receive.mjs [--mb 50] [--files 200] [--reps 3]
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import {
  DATA_DIR,
  REPO_DIR,
  WORK_DIR,
  compare,
  ensureBuilt,
  fail,
  fmt,
  freshDir,
  machineInfo,
  markdownTable,
  median,
  note,
  parseOptions,
  warmPageCache,
} from './lib.mjs';

const options = parseOptions(
  {
    mb: { default: 50, help: 'payload size in MB (base64 text included)' },
    files: { default: 200, help: 'files in the payload' },
  },
  'node bench/batch-receive.mjs: streaming batch unpack vs JSON.parse + Buffer.from(base64)',
);
ensureBuilt();

const payload = join(DATA_DIR, `batch-${options.mb}mb-${options.files}.json`);
const sources = join(DATA_DIR, `batch-${options.mb}mb-${options.files}-files`);

async function generate() {
  note(`generating ${payload}`);
  const { payloadChunks } = await import(
    pathToFileURL(join(REPO_DIR, 'dist', 'src', 'connectors', 'batch', 'build-payload.js')).href
  );
  freshDir(sources);
  // Base64 makes 4 characters of 3 bytes; the JSON around the contents is small.
  const perFile = Math.floor((options.mb * 1024 * 1024 * 3) / 4 / options.files);
  const files = [];
  for (let index = 0; index < options.files; index += 1) {
    const ext = ['csv', 'txt', 'json'][index % 3];
    const body =
      ext === 'json'
        ? Buffer.from(
            `{"values":"${randomBytes(perFile)
              .toString('hex')
              .slice(0, perFile - 14)}"}`,
          )
        : Buffer.from(randomBytes(perFile).toString('hex').slice(0, perFile));
    const name = `file_${String(index).padStart(3, '0')}.${ext}`;
    const path = join(sources, name);
    const stream = createWriteStream(path);
    stream.end(body);
    await once(stream, 'finish');
    files.push({ name, path, bytes: body.length });
  }
  const out = createWriteStream(payload);
  for await (const chunk of payloadChunks(files, { sourceFolder: sources, now: new Date() })) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

if (options.regen || !existsSync(payload)) await generate();
const payloadBytes = statSync(payload).size;
const payloadMb = payloadBytes / 1024 / 1024;
note(`payload ${fmt(payloadMb, 1)} MB, ${options.files} files`);

const digest = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const expected = new Map(readdirSync(sources).map((name) => [name, digest(join(sources, name))]));

function check(out) {
  const names = readdirSync(out).filter((name) => !name.startsWith('.') && !name.endsWith('_summary.json'));
  if (names.length !== expected.size)
    throw new Error(`${out}: ${names.length} files, expected ${expected.size}`);
  for (const name of names) {
    const original = name.replace(/^\d{8}-\d{6}(-\d+)?_/, '');
    if (expected.get(original) !== digest(join(out, name))) throw new Error(`${out}/${name} differs`);
  }
}

const ways = ['pipewright', 'baseline'].map((way) => {
  const out = join(WORK_DIR, `batch-${way}`);
  return {
    name: way === 'pipewright' ? 'streaming core (Pipewright)' : 'JSON.parse + Buffer.from(base64)',
    prepare: async () => {
      freshDir(out);
      await warmPageCache(payload);
    },
    spec: () => ({
      node: true,
      args: [join(REPO_DIR, 'bench', 'batch-unpack-child.mjs'), way, payload, out],
    }),
    check: (result) => {
      check(out);
      const line = JSON.parse(result.stdout.trim().split('\n').at(-1));
      return line;
    },
  };
});

const results = await compare(ways, options);
const rows = [...results.entries()].map(([name, measurements]) => {
  const inner = measurements.map((m) => m.extra.seconds);
  const hwm = Math.max(...measurements.map((m) => m.extra.vmHwmMiB));
  return [
    name,
    `${fmt(median(measurements.map((m) => m.seconds)))} s`,
    `${fmt(median(inner))} s`,
    `${fmt(payloadMb / median(inner), 1)} MB/s`,
    `${Math.round(hwm)} MiB`,
    `${fmt(median(measurements.map((m) => m.cpuSeconds)), 2)} s`,
    fmt(Math.max(...measurements.map((m) => m.noiseCores ?? 0))),
  ];
});
const info = machineInfo();
process.stdout.write(
  [
    `Batch unpack, ${fmt(payloadMb, 1)} MB payload of ${options.files} files, ${options.reps} reps (median):`,
    '',
    markdownTable(
      [
        'way',
        'wall (process)',
        'unpack (in process)',
        'throughput',
        'peak RSS (VmHWM, max)',
        'CPU',
        'others (cores, max)',
      ],
      rows,
    ),
    '',
    `Machine: ${info.cpu}, ${info.memory}, Node ${info.node}, commit ${info.commit}, load ${info.load}`,
    '',
  ].join('\n'),
);
if (!results) fail('no results');
