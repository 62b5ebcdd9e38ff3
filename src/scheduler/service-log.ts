/**
 * The log of the service processes (serve, scheduler, worker): one line per event, with a UTC time
 * and a component, on stdout (errors and warnings on stderr), which journald or a log file collects.
 */
export type ServiceLogLevel = 'info' | 'warn' | 'error';

export type ServiceLog = (level: ServiceLogLevel, message: string) => void;

export function consoleServiceLog(component: string): ServiceLog {
  return (level, message) => {
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${component}: ${message}\n`;
    (level === 'info' ? process.stdout : process.stderr).write(line);
  };
}

/** A log that drops everything (tests, embedding). */
export const silentLog: ServiceLog = () => {};
