import type { Logger } from '../common/logger.js';
import type { LogLevel } from './settings.js';

/**
 * The API server's logger: one-line records on stderr (journald or the charm's log collects
 * them). Callers pass names and ids, never secrets or request bodies.
 */

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const at =
    (messageLevel: LogLevel) =>
    (message: string): void => {
      if (ORDER[messageLevel] < ORDER[level]) return;
      write(`${new Date().toISOString()} ${messageLevel.toUpperCase()} ${message.replace(/[\r\n]+/g, ' ')}\n`);
    };
  return { debug: at('debug'), info: at('info'), warning: at('warning'), error: at('error') };
}

/** A logger that keeps its lines, for tests. */
export function memoryLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  return { ...createLogger('debug', (line) => lines.push(line.trimEnd())), lines };
}
