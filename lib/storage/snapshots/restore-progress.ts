import { spawn } from 'node:child_process';

import { SAFE_PATH } from './process.js';

/**
 * Progress of a restore push (docs/datapath.md, "Restore progress"): rsync's own
 * `--info=progress2` line gives the bytes and files sent so far; the totals come from a walk of
 * the tree being pushed, run beside rsync so that it never delays the push.
 */

export interface Counts {
  /** Bytes of regular files (a hard-linked file once). */
  readonly bytes: number;
  /** Regular files. */
  readonly files: number;
}

const PROGRESS2 = /^\s*(\d+)\s+\d+%\s+\S+\s+\d+:\d{2}:\d{2}(?:\s+\(xfr#(\d+),\s*(?:ir|to)-chk=\d+\/\d+\))?\s*$/;

/** One `--info=progress2 --no-human-readable` line: bytes so far, and files when rsync says. */
export function parseProgress2(line: string): { bytes: number; files: number | undefined } | undefined {
  const match = PROGRESS2.exec(line);
  if (match === null) return undefined;
  return { bytes: Number(match[1]), files: match[2] === undefined ? undefined : Number(match[2]) };
}

/**
 * What rsync will send from `root`: regular files and their bytes, an inode with several links
 * once (as `--hard-links` sends it), never following a symbolic link. `find -printf` does the
 * stat calls: a walk with Node's lstat cost 30-70 µs of CPU per file, find a few.
 */
export function measureTree(root: string): Promise<Counts> {
  return new Promise((resolve, reject) => {
    const find = spawn('find', ['-P', root, '-type', 'f', '-printf', '%n %D:%i %s\\n'], {
      env: { PATH: SAFE_PATH, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const seen = new Set<string>();
    let bytes = 0;
    let files = 0;
    let held = '';
    const take = (line: string) => {
      const [links, inode, size] = line.split(' ');
      if (size === undefined) return;
      if (links !== '1') {
        if (seen.has(inode!)) return;
        seen.add(inode!);
      }
      bytes += Number(size);
      files += 1;
    };
    find.stdout.setEncoding('latin1').on('data', (chunk: string) => {
      const lines = (held + chunk).split('\n');
      held = lines.pop() ?? '';
      for (const line of lines) take(line);
    });
    find.on('error', reject);
    // find exits 1 when something vanished or could not be read: the totals are then a bit low.
    find.on('close', () => {
      take(held);
      resolve({ bytes, files });
    });
  });
}

export interface ProgressSample extends Counts {
  readonly totalBytes: number | null;
  readonly totalFiles: number | null;
  /** Since the push started. */
  readonly seconds: number;
}

/**
 * Collects rsync's progress lines and passes a sample on at most every `intervalMs` (the last
 * one always at `finish`).
 */
export class ProgressRelay {
  private bytes = 0;
  private files = 0;
  private totals: Counts | undefined;
  private lastSent = -Infinity;
  private readonly started: number;

  constructor(
    private readonly send: (sample: ProgressSample) => void,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  /** For runLogged's `takeLine`: true for a progress line, which is then not logged. */
  readonly takeLine = (line: string): boolean => {
    const parsed = parseProgress2(line);
    if (parsed === undefined) return false;
    this.bytes = Math.max(this.bytes, parsed.bytes);
    if (parsed.files !== undefined) this.files = Math.max(this.files, parsed.files);
    if (this.now() - this.lastSent >= this.intervalMs) this.emit();
    return true;
  };

  setTotals(totals: Counts): void {
    this.totals = totals;
  }

  /** The last sample, with the totals; sent too. */
  finish(): ProgressSample {
    return this.emit();
  }

  private emit(): ProgressSample {
    const now = this.now();
    this.lastSent = now;
    const sample: ProgressSample = {
      bytes: this.bytes,
      files: this.files,
      totalBytes: this.totals?.bytes ?? null,
      totalFiles: this.totals?.files ?? null,
      seconds: (now - this.started) / 1000,
    };
    this.send(sample);
    return sample;
  }
}
