// Module hooks for bench/memory-report.mjs (BENCH_TRACE_MODULES=1): passes the URL of every ES module
// resolved to the main thread.
let port;

export function initialize(data) {
  port = data.port;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  port?.postMessage(resolved.url);
  return resolved;
}
