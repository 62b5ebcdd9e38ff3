// Preload for the footprint benchmark: `node --import ./bench/memory-report.mjs …` with
// BENCH_MEMORY_FILE set. On SIGUSR2 it writes this process's memory as JSON to that file:
// process.memoryUsage() (rss, V8 heap used/total, external, array buffers), V8's heap statistics, the
// same after a full GC when node runs with --expose-gc, and the event-loop delay since the last report
// (how long the main thread was blocked) with BENCH_EVENT_LOOP=1.
// With BENCH_TRACE_MODULES=1 it also records every ES module resolved (through a module hook, which runs
// on its own thread and so costs memory: never combined with a memory measurement) and lists them,
// with the CommonJS modules in require.cache, in the same file. Both variables are removed from the
// environment at once, so processes this one starts are not affected.
import { writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

const target = process.env.BENCH_MEMORY_FILE;
const trace = process.env.BENCH_TRACE_MODULES === '1';
const watchLoop = process.env.BENCH_EVENT_LOOP === '1';
delete process.env.BENCH_MEMORY_FILE;
delete process.env.BENCH_TRACE_MODULES;
delete process.env.BENCH_EVENT_LOOP;

const esm = new Set();
if (trace) {
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => esm.add(url));
  port1.unref();
  register('./module-trace-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
}

if (target) {
  // With BENCH_EVENT_LOOP=1: how long the main thread was blocked (event-loop delay, 10 ms resolution)
  // since the last report. Off otherwise: its timer wakes the process 100 times a second, which an
  // idle-CPU figure would count.
  const delay = watchLoop ? monitorEventLoopDelay({ resolution: 10 }) : undefined;
  delay?.enable();
  process.on('SIGUSR2', () => {
    const heap = getHeapStatistics();
    const memoryUsage = process.memoryUsage();
    // With --expose-gc: the same after a full garbage collection, to tell retained memory from garbage.
    globalThis.gc?.();
    const report = {
      memoryUsage,
      afterGc: globalThis.gc ? process.memoryUsage() : undefined,
      eventLoopDelayMs: delay && {
        p50: delay.percentile(50) / 1e6,
        p99: delay.percentile(99) / 1e6,
        max: delay.max / 1e6,
      },
      heap: {
        used: heap.used_heap_size,
        total: heap.total_heap_size,
        limit: heap.heap_size_limit,
        external: heap.external_memory,
        malloced: heap.malloced_memory,
      },
      ...(trace ? { esm: [...esm], cjs: Object.keys(createRequire(import.meta.url).cache) } : {}),
    };
    try {
      writeFileSync(target, JSON.stringify(report));
    } catch {
      // A missing report shows up as such in the benchmark; never disturb the process.
    }
    delay?.reset();
  });
}
