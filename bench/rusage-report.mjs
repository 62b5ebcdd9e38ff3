// Preload for benchmark children: `node --import ./bench/rusage-report.mjs …` with BENCH_RUSAGE_FILE
// set. At exit it writes this process's resource usage as JSON to that file: maxRSS (KiB, from
// getrusage, so it counts DuckDB's native allocations and every thread) and CPU time (µs). The variable
// is removed from the environment at once, so a process this one starts cannot overwrite the file.
import { writeFileSync } from 'node:fs';

const target = process.env.BENCH_RUSAGE_FILE;
delete process.env.BENCH_RUSAGE_FILE;

if (target) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    try {
      writeFileSync(
        target,
        JSON.stringify({
          maxRssKiB: usage.maxRSS,
          userMicros: usage.userCPUTime,
          systemMicros: usage.systemCPUTime,
        }),
      );
    } catch {
      // A benchmark without its RSS figure is reported as such; never change the child's exit.
    }
  });
}
