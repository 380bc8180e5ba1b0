import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * One JSON logger per process. Level from BANYAN_LOG_LEVEL (default info); tests set it to silent
 * through the environment rather than by code so that a failing test can turn logs back on.
 */
export function createLogger(name = 'banyan', level = process.env.BANYAN_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

let rootLogger: Logger | undefined;
export function logger(): Logger {
  rootLogger ??= createLogger();
  return rootLogger;
}
