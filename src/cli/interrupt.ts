/**
 * Ctrl-C (SIGINT) or SIGTERM while a command waits on something open-ended, such as `logs --follow`:
 * the first one aborts the returned signal so the command can stop and clean up; a second one quits at
 * once with exit code 130.
 */
export function abortOnInterrupt(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error(name));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
