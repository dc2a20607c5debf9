import { type ChildProcess } from 'node:child_process';

/**
 * What a benchmark started must not outlive it, however it ends (its last line, an uncaught error,
 * Ctrl-C): children are killed and cleanup actions run, newest first, from one synchronous exit
 * hook. SIGINT and SIGTERM become an ordinary exit so that hook runs.
 */

const children = new Set<ChildProcess>();
const exitActions = new Set<() => void>();

process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const action of [...exitActions].reverse()) {
    try {
      action();
    } catch {
      // best effort: the process is going anyway
    }
  }
});
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

/** Kills `child` at exit unless it ended first. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Runs `action` (synchronous) at exit; the returned function cancels it. */
export function atExit(action: () => void): () => void {
  exitActions.add(action);
  return () => exitActions.delete(action);
}

/** Drops every exit action, once the benchmark has undone it all itself (a pid it would kill may be reused). */
export function cancelExitActions(): void {
  exitActions.clear();
}

export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An error as a report records it: its stack when it has one. */
export function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
