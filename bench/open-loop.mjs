// An open-loop HTTP load generator for bench/footprint.mjs: sends GET requests at a fixed rate whatever
// the responses do (a slow response never delays the next request, unlike wrk or autocannon), over
// keep-alive connections, and prints one JSON object at the end. Request i is due at start + i / rate;
// its latency is measured from that due time (so queueing on the client side, when every connection
// is busy, counts as latency: no coordinated omission) and, for comparison, from the moment it was
// actually written.
//
//   node bench/open-loop.mjs '{"url":"http://127.0.0.1:8080/api/runs?limit=50","token":"pw_…","rate":500,"seconds":20}'
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';

const {
  url,
  token,
  rate,
  seconds,
  connections = 64,
  timeoutMs = 10_000,
} = JSON.parse(process.argv[2] ?? '{}');
if (!url || !rate || !seconds) {
  process.stderr.write('usage: node bench/open-loop.mjs \'{"url":…,"token":…,"rate":500,"seconds":20}\'\n');
  process.exit(2);
}

const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
const headers = token ? { authorization: `Bearer ${token}` } : {};
const total = Math.round(rate * seconds);
const fromDue = [];
const fromSend = [];
const errors = {};
let bytes = 0;
let completed = 0;
let sent = 0;
const cpuStart = process.cpuUsage();

function countError(kind) {
  errors[kind] = (errors[kind] ?? 0) + 1;
  completed += 1;
}

function fire(index, start) {
  const due = start + (index * 1000) / rate;
  const request = http.request(
    { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, agent, headers },
    (response) => {
      let size = 0;
      response.on('data', (chunk) => (size += chunk.length));
      response.on('end', () => {
        const now = performance.now();
        if (response.statusCode !== 200) return countError(`HTTP ${response.statusCode}`);
        bytes += size;
        fromDue.push(now - due);
        fromSend.push(now - written);
        completed += 1;
      });
      response.on('error', () => countError('response error'));
    },
  );
  let written = performance.now();
  request.on('socket', () => (written = performance.now()));
  request.setTimeout(timeoutMs, () => {
    request.destroy(new Error('timeout'));
  });
  request.on('error', (error) =>
    countError(error.message === 'timeout' ? 'timeout' : (error.code ?? error.message)),
  );
  request.end();
  sent += 1;
}

const start = performance.now() + 50;
let next = 0;
await new Promise((resolve) => {
  const tick = () => {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
    while (next < due) fire(next++, start);
    if (next >= total) return resolve();
    setTimeout(tick, 1);
  };
  setTimeout(tick, Math.max(0, start - performance.now()));
});
const sendingSeconds = (performance.now() - start) / 1000;
const deadline = performance.now() + timeoutMs + 1000;
while (completed < sent && performance.now() < deadline)
  await new Promise((resolve) => setTimeout(resolve, 20));
const unfinished = sent - completed;
if (unfinished > 0) errors.unfinished = unfinished;
const cpu = process.cpuUsage(cpuStart);
agent.destroy();
process.stdout.write(
  `${JSON.stringify({
    sent,
    ok: fromDue.length,
    errors,
    sendingSeconds,
    rate: sent / sendingSeconds,
    meanBytes: fromDue.length > 0 ? bytes / fromDue.length : 0,
    fromDue,
    fromSend,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  })}\n`,
);
