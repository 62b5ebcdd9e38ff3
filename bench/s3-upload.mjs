// Benchmark: uploading a large file to a local S3-compatible server (s3rver, started in a process of
// its own with its data under bench/.work). A Pipewright pipeline (one storage.put step) run through
// the CLI, against the AWS SDK's `Upload` helper used alone (bench/s3-upload-sdk.mjs) with the same
// part size and queue size, alternately in one run. Goal (issue "Connectors I"): Pipewright ≥ 0.8×
// the throughput of the SDK's Upload alone.
//
//   node bench/s3-upload.mjs [--mb 1024] [--reps 3]
import { spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { createCipheriv, createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CLI,
  DATA_DIR,
  WORK_DIR,
  compare,
  ensureBuilt,
  fmt,
  fmtMiB,
  freshDir,
  machineInfo,
  markdownTable,
  median,
  note,
  parseOptions,
  runIdFrom,
  runTimes,
  summarize,
  warmPageCache,
} from './lib.mjs';

const options = parseOptions(
  {
    mb: { default: 1024, help: 'size of the file to upload, in MiB' },
    'part-mb': { default: 8, help: 'part size in MiB (storage.put part_size_mb; 8 is its default)' },
  },
  'node bench/s3-upload.mjs — a large file to S3 (s3rver): Pipewright storage.put vs. the SDK Upload helper alone',
);
ensureBuilt();

const BUCKET = 'bench';
const PART_SIZE = options['part-mb'] * 1024 * 1024;
/** Parts in flight at once in Pipewright's S3 store (src/connectors/storage/s3-store.ts). */
const QUEUE_SIZE = 4;

// ---------------------------------------------------------------------------------------------------
// The file: AES-256-CTR keystream (fixed key), so it is the same everywhere and does not compress.

async function generate(path, bytes) {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  const stream = createWriteStream(path);
  for (let written = 0; written < bytes; written += zeros.length) {
    const chunk = cipher.update(zeros.subarray(0, Math.min(zeros.length, bytes - written)));
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}

mkdirSync(DATA_DIR, { recursive: true });
const input = join(DATA_DIR, `upload-${options.mb}mib.bin`);
const bytes = options.mb * 1024 * 1024;
if (options.regen || !existsSync(input) || statSync(input).size !== bytes) {
  note(`generating ${options.mb} MiB into ${input} …`);
  await generate(input, bytes);
}

/**
 * The ETags a store may give the object: AWS, R2 and MinIO answer md5(md5 of each part …)-N for a
 * multipart upload, s3rver (and some others) the MD5 of the whole object. Also its SHA-256.
 */
async function digests() {
  const whole = createHash('md5');
  const sha256 = createHash('sha256');
  const partsMd5 = createHash('md5');
  let parts = 0;
  for await (const chunk of createReadStream(input, { highWaterMark: PART_SIZE })) {
    whole.update(chunk);
    sha256.update(chunk);
    partsMd5.update(createHash('md5').update(chunk).digest());
    parts += 1;
  }
  const md5 = whole.digest('hex');
  return {
    etags: bytes <= PART_SIZE ? [md5] : [`${partsMd5.digest('hex')}-${parts}`, md5],
    sha256: sha256.digest('hex'),
  };
}
const { etags, sha256: inputSha256 } = await digests();

// ---------------------------------------------------------------------------------------------------
// The server, the project and the two ways

const work = join(WORK_DIR, 's3-upload');
const project = join(work, 'project');
const serverDir = freshDir(join(work, 's3rver-data'));
const server = spawn(process.execPath, [join(import.meta.dirname, 's3rver-child.mjs'), serverDir, BUCKET], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
process.on('exit', () => server.kill('SIGTERM'));
const [first] = await once(createInterface({ input: server.stdout }), 'line');
const endpoint = `http://127.0.0.1:${JSON.parse(first).port}`;
note(`s3rver (pid ${server.pid}) at ${endpoint}, data in ${serverDir}`);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const sdk = await import('@aws-sdk/client-s3');
const client = new sdk.S3Client({
  region: 'auto',
  endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});
const head = (key) => client.send(new sdk.HeadObjectCommand({ Bucket: BUCKET, Key: key }));
const remove = (key) => client.send(new sdk.DeleteObjectCommand({ Bucket: BUCKET, Key: key }));

mkdirSync(join(project, 'pipelines'), { recursive: true });
writeFileSync(
  join(project, 'pipewright.yaml'),
  `# Written by bench/s3-upload.mjs
name: bench-s3-upload
state: .pipewright/state.db
workspace: { keep: never }
connections:
  bucket:
    type: s3
    bucket: ${BUCKET}
    endpoint: ${endpoint}
    force_path_style: true
    access_key_id: S3RVER
    secret_access_key: "\${env:BENCH_S3_SECRET}"
`,
);
writeFileSync(
  join(project, 'pipelines', 's3-upload.yaml'),
  `# Written by bench/s3-upload.mjs
id: s3-upload
description: One large file to S3
steps:
  - id: upload
    uses: storage.put
    with: { connection: bucket, path: ${JSON.stringify(input)}, key: pipewright/upload.bin, part_size_mb: ${options['part-mb']} }
`,
);

/** Size, ETag and metadata of the stored object, then the object removed (s3rver keeps every upload on disk). */
async function stored(key) {
  const info = await head(key);
  await remove(key);
  return {
    size: info.ContentLength,
    etag: info.ETag?.replace(/"/g, ''),
    metadata: info.Metadata ?? {},
  };
}

const PIPEWRIGHT = 'Pipewright (CLI run)';
const SDK = 'SDK Upload alone';
const ways = [
  {
    name: PIPEWRIGHT,
    spec: () => ({
      node: true,
      args: [CLI, '--project', project, 'run', 's3-upload', '--json'],
      env: { BENCH_S3_SECRET: 'S3RVER' },
      serverPid: server.pid,
    }),
    check: async (result) => {
      const times = runTimes(project, runIdFrom(result.stdout));
      const outputs = times.shown.steps.find((step) => step.step === 'upload')?.outputs ?? {};
      return { ...(await stored('pipewright/upload.bin')), step: times.steps.upload, sha256: outputs.sha256 };
    },
  },
  {
    name: SDK,
    spec: () => ({
      node: true,
      args: [
        join(import.meta.dirname, 's3-upload-sdk.mjs'),
        endpoint,
        BUCKET,
        'sdk/upload.bin',
        input,
        String(PART_SIZE),
        String(QUEUE_SIZE),
      ],
      serverPid: server.pid,
    }),
    check: async () => stored('sdk/upload.bin'),
  },
];

await warmPageCache(input);
const machine = machineInfo();
const results = await compare(ways, options);
client.destroy();
server.kill('SIGTERM');
await once(server, 'exit');
rmSync(serverDir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------------
// Checks and report

const all = [...results.values()].flat();
const sizesOk = all.every((m) => m.extra.size === bytes);
const etagsOk = all.every((m) => etags.includes(m.extra.etag));
const etagKind = (m) =>
  m.extra.etag === etags[0] && etags.length > 1 ? 'the multipart ETag' : 'the MD5 of the whole file';
// The step reports the SHA-256 it computed while uploading; a single-part object also stores it as
// metadata, a multipart one its part size (which lets storage.get verify the multipart ETag).
const shaOk = results
  .get(PIPEWRIGHT)
  .every(
    (m) =>
      m.extra.sha256 === inputSha256 &&
      (bytes <= PART_SIZE
        ? m.extra.metadata.sha256 === inputSha256
        : m.extra.metadata['part-size'] === String(PART_SIZE)),
  );
const pipewright = summarize(results.get(PIPEWRIGHT));
const alone = summarize(results.get(SDK));
const step = median(results.get(PIPEWRIGHT).map((m) => m.extra.step));
const mbps = (seconds) => (bytes / 2 ** 20 / seconds).toFixed(0);
const ratio = alone.median / pipewright.median;
const serverCpu = (name) => fmt(median(results.get(name).map((m) => m.serverCpuSeconds ?? NaN)), 1);
const rows = [
  [PIPEWRIGHT, pipewright],
  [SDK, alone],
].map(([name, summary]) => [
  name,
  `${fmt(summary.median)} s`,
  summary.all.map((value) => fmt(value)).join(' / '),
  `${mbps(summary.median)} MiB/s`,
  `${fmt(alone.median / summary.median)}×`,
  fmtMiB(summary.peakRssMiB),
  `${fmt(summary.cpuMedian, 1)} s`,
  `${serverCpu(name)} s`,
  `${fmt(summary.maxNoise)}${summary.reruns > 0 ? ` (${summary.reruns} re-run)` : ''}`,
]);
const lines = [
  `## File → S3 (s3rver), ${options.mb.toLocaleString('en')} MiB, parts of ${options['part-mb']} MiB, ${QUEUE_SIZE} parts at a time`,
  '',
  markdownTable(
    [
      'way',
      'median wall',
      'each run (s)',
      'throughput',
      'throughput ÷ SDK alone',
      'peak RSS',
      'median CPU',
      's3rver CPU',
      'others (cores, max)',
    ],
    rows,
  ),
  '',
  `- goal ≥ 0.8× the SDK's Upload alone: ${fmt(ratio)}× — ${ratio >= 0.8 ? 'met' : `missed by ${fmt((1 - ratio / 0.8) * 100, 0)} %`}; ` +
    `the storage.put step alone ${fmt(step)} s (${mbps(step)} MiB/s, ${fmt(alone.median / step)}×)`,
  `- both ways: parts of ${PART_SIZE} bytes (${options['part-mb']} MiB), ${QUEUE_SIZE} in flight, requestChecksumCalculation WHEN_REQUIRED, path-style requests to ${endpoint}; ` +
    `the SDK's Upload reads a 1 MiB stream and copies it into part buffers; Pipewright (src/connectors/storage/s3-upload.ts) reads each part once straight into a reused buffer, hashes it there (its MD5, and the file's running SHA-256), ` +
    `sends it with its Content-MD5 and compares the ETag answered with that MD5`,
  `- checks: object size ${sizesOk ? `${bytes} bytes every time` : 'WRONG'}; ETag ${etagsOk ? `${all[0]?.extra.etag} (${etagKind(all[0])}) every time` : `DIFFERS from the file’s (${etags.join(' or ')})`}; ` +
    `Pipewright's SHA-256 (step output) ${shaOk ? `equals the file’s, and the object carries ${bytes <= PART_SIZE ? 'it as metadata' : 'its part size as metadata'}` : 'or its metadata DIFFERS'}`,
  `- s3rver CPU: the server process during each measurement, counted as the measurement's own; s3rver writes each part to disk and concatenates them on completion`,
  `- ${options.reps} runs each, alternating; s3rver ${JSON.parse(readFileSync(join(import.meta.dirname, '..', 'node_modules', 's3rver', 'package.json'), 'utf8')).version}, @aws-sdk/lib-storage ${JSON.parse(readFileSync(join(import.meta.dirname, '..', 'node_modules', '@aws-sdk', 'lib-storage', 'package.json'), 'utf8')).version}`,
  `- machine: ${machine.cpu}, ${machine.memory}, load average ${machine.load}, Node ${machine.node}, commit ${machine.commit}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (!sizesOk || !etagsOk || !shaOk) process.exitCode = 1;
