import type { SnapshotLog } from '../snapshots/types.js';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/**
 * The snapshot engines' log lines, kept while a command runs: the warnings and errors reach
 * stderr ahead of the command's result (turku-storage-admin writes no log file of its own).
 */
export class CollectedLog implements SnapshotLog {
  readonly lines: { level: LogLevel; message: string }[] = [];
  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  warning(message: string): void {
    this.lines.push({ level: 'warning', message });
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
}
