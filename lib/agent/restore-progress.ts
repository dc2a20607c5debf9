import {
  parseRestoreDone,
  parseRestoreProgress,
  type RestoreDone,
  type RestoreProgress,
} from '../turku/protocol/restore-report.js';
import { isManifestLine, parseManifestChunk } from '../turku/protocol/restore-manifest.js';

/**
 * The storage's restore reports (lib/turku/protocol/restore-report.ts), taken out of ssh's
 * stdout, and the one progress line the agent shows for them (docs/datapath.md, "Restore
 * progress"): rewritten in place with \r on a terminal, else a plain line at most every
 * `PLAIN_INTERVAL_MS`, which the charm's restore action passes on through action-log.
 */

/** Plain (non-terminal) progress lines are at least this far apart. */
export const PLAIN_INTERVAL_MS = 5000;
/** What every progress line starts with (the charm's restore action looks for it). */
export const PROGRESS_LINE_START = 'Restoring: ';

export interface RestoreReportCatcher {
  push(chunk: string): void;
  end(): void;
  readonly done: RestoreDone | undefined;
}

/**
 * Progress and done lines go to `onProgress` / `done`, manifest lines (restore-verify.ts) to
 * `onManifest`; everything else to `passThrough`.
 */
export function catchRestoreReports(
  onProgress: (progress: RestoreProgress) => void,
  passThrough: (text: string) => void,
  onManifest: (chunk: Buffer) => void = () => undefined,
): RestoreReportCatcher {
  let held = '';
  let done: RestoreDone | undefined;
  const take = (line: string) => {
    if (isManifestLine(line)) {
      // A malformed one is dropped: the done line's size and hash then say the manifest is incomplete.
      const chunk = parseManifestChunk(line);
      if (chunk !== undefined) onManifest(chunk);
      return;
    }
    const progress = parseRestoreProgress(line);
    if (progress !== undefined) return onProgress(progress);
    const finished = parseRestoreDone(line);
    if (finished !== undefined) done = finished;
    else if (line !== '') passThrough(line);
  };
  return {
    push(chunk) {
      held += chunk;
      for (let end = held.indexOf('\n'); end !== -1; end = held.indexOf('\n')) {
        take(held.slice(0, end + 1));
        held = held.slice(end + 1);
      }
    },
    end() {
      take(held);
      held = '';
    },
    get done() {
      return done;
    },
  };
}

/** `Restoring: 120.5 MB of 400.0 MB (30%), 1,234 of 5,000 files, 45.6 MB/s, 0:00:06 left` */
export function progressText(progress: RestoreProgress): string {
  const { bytes, files, total_bytes: totalBytes, total_files: totalFiles, seconds } = progress;
  const rate = seconds > 0 ? bytes / seconds : 0;
  const parts = [
    totalBytes === null || totalBytes === 0
      ? formatBytes(bytes)
      : `${formatBytes(bytes)} of ${formatBytes(totalBytes)} (${Math.min(100, Math.floor((100 * bytes) / totalBytes))}%)`,
    totalFiles === null
      ? `${files.toLocaleString('en')} files`
      : `${files.toLocaleString('en')} of ${totalFiles.toLocaleString('en')} files`,
    `${formatBytes(rate)}/s`,
  ];
  // Before 1% the rate is mostly rsync starting up: an ETA from it would be hours off.
  if (totalBytes !== null && rate > 0 && bytes * 100 >= totalBytes)
    parts.push(`${formatDuration(Math.max(0, totalBytes - bytes) / rate)} left`);
  return PROGRESS_LINE_START + parts.join(', ');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `H:MM:SS` */
export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${Math.floor(whole / 3600)}:${pad(Math.floor(whole / 60) % 60)}:${pad(whole % 60)}`;
}

/** Shows progress on `write`: in place on a terminal, else plain lines at most every interval. */
export class ProgressPrinter {
  private lastPlain = -Infinity;
  private shownWidth = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly terminal: boolean,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = PLAIN_INTERVAL_MS,
  ) {}

  show(progress: RestoreProgress): void {
    const text = progressText(progress);
    if (this.terminal) {
      this.write(`\r${text.padEnd(this.shownWidth)}`);
      this.shownWidth = text.length;
      return;
    }
    const now = this.now();
    if (now - this.lastPlain < this.intervalMs) return;
    this.lastPlain = now;
    this.write(`${text}\n`);
  }

  /** Ends an in-place line, so what follows starts on its own line. */
  end(): void {
    if (this.terminal && this.shownWidth > 0) this.write('\n');
    this.shownWidth = 0;
  }
}
