// Runs a program that is not Node (psql) for `measure()`: `node bench/child-usage.mjs <program> <args…>`
// spawns it, waits, and writes its CPU time to BENCH_RUSAGE_FILE as the rusage preload does for Node
// children — from this process's cutime and cstime in /proc/self/stat, which hold the CPU of reaped
// children. Its peak RSS is not known this way and is left out. Exits with the program's exit code.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const target = process.env.BENCH_RUSAGE_FILE;
delete process.env.BENCH_RUSAGE_FILE;
const [program, ...args] = process.argv.slice(2);
if (program === undefined) {
  process.stderr.write('usage: node bench/child-usage.mjs <program> [args…]\n');
  process.exit(2);
}
const child = spawn(program, args, { stdio: 'inherit' });
child.on('error', (error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(127);
});
child.on('close', (code, signal) => {
  if (target) {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // cutime and cstime are fields 16 and 17 of stat, 13 and 14 after the command name and state.
    const ticks = (index) => (Number(fields[index]) / 100) * 1e6;
    writeFileSync(target, JSON.stringify({ userMicros: ticks(13), systemMicros: ticks(14) }));
  }
  process.exit(code ?? (signal ? 1 : 0));
});
