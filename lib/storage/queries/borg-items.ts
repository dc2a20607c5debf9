import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { borgArgv, borgEnv, type BorgSettings } from '../snapshots/borg-cli.js';
import { parseSidecarTime } from '../snapshots/names.js';
import type { SnapshotLog } from '../snapshots/types.js';
import type { Expired } from './tree.js';

/**
 * Borg's side of the queries: `borg list --json-lines` read line by line as borg writes it (an
 * archive may hold millions of items, which are never all in memory) and stopped when the time
 * allowed is over or the caller has seen enough.
 */

export interface BorgItem {
  readonly type: string;
  readonly mode: string;
  readonly path: string;
  readonly size: number;
  readonly mtime: string | null;
  readonly linktarget: string;
}

export interface StreamOutcome {
  /** False when stopped early (the time ran out or the caller said stop). */
  readonly complete: boolean;
  /** Why borg failed, when it did. */
  readonly failure?: string;
}

/** Returns 'stop' to end the listing early. */
export type ItemVisitor = (item: BorgItem) => 'stop' | void;

const CHECK_EVERY_MS = 250;
const MAX_KEPT_STDERR = 4096;

export async function streamBorgItems(
  settings: BorgSettings,
  args: readonly string[],
  options: { readonly log: SnapshotLog; readonly expired: Expired },
  visit: ItemVisitor,
): Promise<StreamOutcome> {
  await mkdir(join(settings.varDir, 'borg'), { recursive: true, mode: 0o700 });
  const argv = borgArgv(settings, 'list', ['--json-lines', ...args]);
  options.log.debug(`Running: ${argv.join(' ')}`);
  const child = spawn(argv[0]!, argv.slice(1), { env: borgEnv(settings), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < MAX_KEPT_STDERR) stderr += chunk.toString();
  });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    child.kill('SIGTERM');
  };
  const timer = setInterval(() => {
    if (options.expired()) stop();
  }, CHECK_EVERY_MS);
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  try {
    for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
      if (stopped) continue;
      const item = parseItem(line);
      if (item !== undefined && visit(item) === 'stop') stop();
    }
    const { code, error } = await exited;
    if (stopped) return { complete: false };
    if (error !== undefined) return { complete: false, failure: `cannot run borg: ${error.message}` };
    if (code !== 0) return { complete: false, failure: borgMessage(stderr, code) };
    return { complete: true };
  } finally {
    clearInterval(timer);
    stop();
  }
}

function borgMessage(stderr: string, code: number | null): string {
  const last = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .at(-1);
  return `borg list exited with return code ${code ?? 'unknown'}${last === undefined ? '' : `: ${last}`}`;
}

export function parseItem(line: string): BorgItem | undefined {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || typeof data.path !== 'string') return undefined;
  const mtime = typeof data.mtime === 'string' ? parseSidecarTime(data.mtime, 'UTC') : null;
  return {
    type: typeof data.type === 'string' ? data.type : '?',
    mode: typeof data.mode === 'string' ? data.mode : '?',
    path: data.path,
    size: typeof data.size === 'number' ? data.size : 0,
    mtime: mtime === null ? null : mtime.toISOString(),
    linktarget: typeof data.linktarget === 'string' ? data.linktarget : '',
  };
}

/** Borg's one-letter item types (those of `ls -l`) in the answer's words. */
export function borgEntryType(type: string): 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'other' {
  switch (type) {
    case '-':
      return 'file';
    case 'd':
      return 'dir';
    case 'l':
      return 'symlink';
    case 'p':
      return 'fifo';
    case 'c':
      return 'char';
    case 'b':
      return 'block';
    default:
      return 'other';
  }
}

/**
 * `borg list` arguments for the direct entries of `dir` ("" the top) of `location` (repo::archive):
 * deeper items are left out by a pattern so that their JSON is never written (the caller still
 * keeps only the direct entries); none is for a path holding wildcard characters, which the
 * pattern would read as such. Paths come after `--`, so a name starting with "-" is no option.
 */
export function oneLevelArgs(location: string, dir: string): string[] {
  const paths = dir === '' ? [] : [dir];
  if (/[*?[\]\\]/.test(dir)) return ['--', location, ...paths];
  return ['--exclude', dir === '' ? 'sh:*/*' : `sh:${dir}/*/*`, '--', location, ...paths];
}
