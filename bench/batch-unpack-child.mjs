// One measured way of bench/batch-receive.mjs: `pipewright` unpacks a payload file with the streaming
// core of dist/ (the code behind POST /api/inboxes/…/batches and batch.unpack), or `baseline` reads it
// whole, JSON.parse, Buffer.from(base64) and writeFile per file. Prints one JSON line: seconds inside
// the process, files written, and VmHWM (peak resident set) from /proc/self/status.
//
//   node bench/batch-unpack-child.mjs pipewright|baseline <payload.json> <out-dir>
import { Buffer } from 'node:buffer';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [way, payload, out] = process.argv.slice(2);
await mkdir(out, { recursive: true });
const started = performance.now();
let files = 0;
if (way === 'pipewright') {
  const { unpackPayload } = await import(
    pathToFileURL(join(import.meta.dirname, '..', 'dist', 'src', 'connectors', 'batch', 'unpack-payload.js'))
      .href
  );
  const result = await unpackPayload(createReadStream(payload, { highWaterMark: 256 * 1024 }), {
    storageDir: out,
    batchId: 'bench',
    allowedTypes: ['csv', 'txt', 'json'],
    maxFiles: 10_000,
    maxFileBytes: 1024 ** 3,
    now: new Date(),
    source: payload,
  });
  files = result.files.length;
} else {
  const parsed = JSON.parse(await readFile(payload, 'utf8'));
  for (const [name, entry] of Object.entries(parsed.files)) {
    await writeFile(join(out, name), Buffer.from(entry.content, 'base64'));
    files += 1;
  }
}
const seconds = (performance.now() - started) / 1000;
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
process.stdout.write(`${JSON.stringify({ seconds, files, vmHwmMiB: Number(hwm) / 1024 })}\n`);
