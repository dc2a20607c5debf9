import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TunnelHost } from '../tunnel-owner.js';

import { isRsyncDiagnostic, rsyncFailureReason, rsyncSuccessNote } from './failure-reasons.js';
import { runLogged, SAFE_PATH } from './process.js';
import { type SnapshotJob, type SnapshotLog } from './types.js';

/**
 * Pulling a source from the agent's rsync daemon through the tunnel
 * (docs/datapath.md, "Pulling with rsync").
 */

/** 24 is "some files vanished before they could be transferred": normal on a live system. */
export const RSYNC_SUCCESS_CODES: readonly number[] = [0, 24];

/** `rsync://<username>@127.0.0.1:<port>/<module>/`, or `@[::1]:` for a tunnel on ::1 only. */
export function rsyncUrl(username: string, host: TunnelHost, port: number, module: string): string {
  return `rsync://${username}@${host === '::1' ? '[::1]' : host}:${port}/${module}/`;
}

export interface RsyncArgvOptions {
  readonly rsyncCommand: readonly string[];
  readonly url: string;
  readonly destination: string;
  /** `--compress`: only worth its CPU on a slow link (the storage's `rsync_compress`). */
  readonly compress?: boolean;
  /** Absolute base snapshot directory (link-dest mode). */
  readonly linkDest?: string | null;
  /** none and borg modes rewrite the working copy in place. */
  readonly inplace?: boolean;
  /** Storage OR source `preserve_hard_links`. */
  readonly hardLinks?: boolean;
  readonly filterFile?: string | null;
  readonly bwlimit?: string | null;
  /** Change nothing; print one `%i %n` line (itemized change, name) per entry that differs. */
  readonly dryRun?: boolean;
  /** Create what is missing, never touch an existing entry (a clone's entries share inodes). */
  readonly ignoreExisting?: boolean;
  /** Only these entries (a file of NUL-separated names), and no deletion. */
  readonly filesFrom?: string | null;
  /**
   * Compare times to the nanosecond (`--modify-window=-1`), not to the second: a directory
   * whose time the storage itself changed within the source's second still gets the source's.
   */
  readonly exactTimes?: boolean;
  /**
   * Each name rsync prints comes after the entry's size (`--out-format=%l %n%L`), so that
   * lib/storage/manifest/early-hash.ts needs no `lstat` to pass over a small file.
   */
  readonly sizedNames?: boolean;
  /** Only the tree itself (its mode, owner, times): none of its entries, and no deletion. */
  readonly treeOnly?: boolean;
}

/** rsync's itemized change string, a space and the (escaped) name: see link-clone.ts. */
export const ITEMIZE_FORMAT = '%i %n';

/**
 * Turns Nagle's algorithm off on the connection to the agent's daemon (through the tunnel): rsync's
 * small protocol writes would otherwise wait for delayed ACKs, about 40 ms at several turns of each
 * pull or restore (docs/datapath.md, "The agent's rsync daemon").
 */
const CLIENT_SOCKET_OPTIONS = '--sockopts=TCP_NODELAY';

/** What every transfer to or from an agent's daemon starts with, pulls and restores alike. */
export function daemonTransferArgv(rsyncCommand: readonly string[], compress: boolean | undefined): string[] {
  return [...rsyncCommand, '--archive', ...(compress ? ['--compress'] : []), '--numeric-ids', CLIENT_SOCKET_OPTIONS];
}

/** `--verbose`'s name line (`%n%L`, printed as rsync starts on the entry) after the entry's size. */
export const SIZED_NAME_FORMAT = '%l %n%L';

export function rsyncArgv(options: RsyncArgvOptions): string[] {
  const argv = [
    ...daemonTransferArgv(options.rsyncCommand, options.compress),
    ...(options.treeOnly
      ? ['--no-recursive', '--dirs', '--exclude=*']
      : options.filesFrom
        ? [`--files-from=${options.filesFrom}`, '--from0']
        : ['--delete', '--delete-excluded']),
    ...(options.dryRun ? ['--dry-run', `--out-format=${ITEMIZE_FORMAT}`] : ['--verbose']),
  ];
  if (options.sizedNames && !options.dryRun) argv.push(`--out-format=${SIZED_NAME_FORMAT}`);
  if (options.ignoreExisting) argv.push('--ignore-existing');
  if (options.exactTimes || options.treeOnly) argv.push('--modify-window=-1');
  if (options.linkDest) argv.push(`--link-dest=${options.linkDest}`);
  if (options.inplace) argv.push('--inplace');
  if (options.hardLinks) argv.push('--hard-links');
  if (options.filterFile) argv.push(`--filter=merge ${options.filterFile}`);
  if (options.bwlimit) argv.push(`--bwlimit=${options.bwlimit}`);
  // Trailing slashes: copy the module's contents into the destination, not the module itself.
  argv.push(withSlash(options.url), withSlash(options.destination));
  return argv;
}

function withSlash(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

/**
 * The merge file's text, or null when there is no line. Filter lines are passed verbatim except
 * merge rules (long or short form, any modifiers), which would read files on the storage, and
 * lines with a line break or NUL, which would smuggle in another rule. Empty excludes are skipped.
 */
export function filterFileText(filter: readonly string[], exclude: readonly string[]): string | null {
  const lines = [
    ...filter.filter((line) => !hasLineBreak(line) && !isMergeRule(line)),
    ...exclude.filter((pattern) => pattern !== '' && !hasLineBreak(pattern)).map((pattern) => `- ${pattern}`),
  ];
  return lines.length === 0 ? null : `${lines.join('\n')}\n`;
}

function hasLineBreak(line: string): boolean {
  return /[\r\n\0]/.test(line);
}

/**
 * `merge`, `:` and `.` rules (the original drops `merge`, `:` and `. `; `.` with modifiers is the same
 * rule). A long-form `dir-merge` stays, as in the original: sources use it for per-directory
 * filter files kept on the agent (e.g. `dir-merge .turku-filter`).
 */
function isMergeRule(line: string): boolean {
  const rule = line.trimStart();
  return rule.startsWith('merge') || rule.startsWith(':') || rule.startsWith('.');
}

export interface RsyncRun {
  readonly rsyncCommand: readonly string[];
  readonly url: string;
  readonly password: string;
  readonly destination: string;
  readonly compress?: boolean;
  readonly linkDest?: string | null;
  readonly inplace?: boolean;
  readonly hardLinks?: boolean;
  readonly filter?: readonly string[];
  readonly exclude?: readonly string[];
  readonly bwlimit?: string | null;
  readonly dryRun?: boolean;
  readonly ignoreExisting?: boolean;
  readonly filesFrom?: string | null;
  readonly exactTimes?: boolean;
  readonly treeOnly?: boolean;
  /** Sees each line of rsync's output as it comes (the line is logged all the same). */
  readonly onLine?: (line: string) => void;
  readonly sizedNames?: boolean;
  readonly log: SnapshotLog;
}

export interface RsyncResult {
  readonly success: boolean;
  readonly code: number;
}

export interface PullResult extends RsyncResult {
  /** A dry run's itemized output, decoded as latin1; empty otherwise (the output went to the log). */
  readonly stdout: string;
  /** rsync's own message lines (see failure-reasons.ts); none when rsync did not run. */
  readonly diagnostics?: readonly string[];
}

/** Runs one pull; the filter file lives in a private temp dir that is removed in every case. */
export async function runRsync(run: RsyncRun): Promise<PullResult> {
  const text = filterFileText(run.filter ?? [], run.exclude ?? []);
  const filterDir = text === null ? null : await mkdtemp(join(tmpdir(), 'turku-rsync-'));
  try {
    let filterFile: string | null = null;
    if (filterDir !== null && text !== null) {
      filterFile = join(filterDir, 'filter');
      await writeFile(filterFile, text, { mode: 0o600, flag: 'wx' });
    }
    const argv = rsyncArgv({
      rsyncCommand: run.rsyncCommand,
      url: run.url,
      destination: run.destination,
      compress: run.compress ?? false,
      linkDest: run.linkDest ?? null,
      inplace: run.inplace ?? false,
      hardLinks: run.hardLinks ?? false,
      filterFile,
      bwlimit: run.bwlimit ?? null,
      dryRun: run.dryRun ?? false,
      ignoreExisting: run.ignoreExisting ?? false,
      filesFrom: run.filesFrom ?? null,
      exactTimes: run.exactTimes ?? false,
      treeOnly: run.treeOnly ?? false,
      sizedNames: run.sizedNames ?? false,
    });
    const dryRun = run.dryRun ?? false;
    const { code, stdout, diagnostics } = await runLogged(argv, {
      env: rsyncEnv(run.password),
      log: run.log,
      captureStdout: dryRun,
      stdoutEncoding: 'latin1',
      isDiagnostic: isRsyncDiagnostic,
      ...(run.onLine === undefined ? {} : { takeLine: (line: string) => (run.onLine!(line), false) }),
    });
    return { success: RSYNC_SUCCESS_CODES.includes(code), code, stdout, diagnostics };
  } finally {
    if (filterDir !== null) await rm(filterDir, { recursive: true, force: true });
  }
}

/** Exactly the password and a safe PATH: nothing of the storage's environment leaks to rsync. */
export function rsyncEnv(password: string): Record<string, string> {
  return { RSYNC_PASSWORD: password, PATH: SAFE_PATH };
}

/** A failed pull's summary line, in words (failure-reasons.ts); `volume` is where the data goes. */
export function rsyncFailure(pull: Pick<PullResult, 'code' | 'diagnostics'>, volume: string): string {
  return rsyncFailureReason({ code: pull.code, diagnostics: pull.diagnostics ?? [] }, volume);
}

/** A summary line for a pull that succeeded with something worth saying (code 24), else ''. */
export function rsyncNote(pull: Pick<PullResult, 'code' | 'diagnostics'>): string {
  return rsyncSuccessNote({ code: pull.code, diagnostics: pull.diagnostics ?? [] });
}

export interface PullTarget {
  readonly destination: string;
  readonly linkDest?: string | null;
  readonly inplace?: boolean;
  readonly dryRun?: boolean;
  readonly ignoreExisting?: boolean;
  readonly filesFrom?: string | null;
  readonly exactTimes?: boolean;
  readonly treeOnly?: boolean;
  readonly onLine?: (line: string) => void;
  readonly sizedNames?: boolean;
}

/** A snapshot job's pull: its source's filters, bandwidth limit and hard-link setting. */
export function pullSource(job: SnapshotJob, target: PullTarget): Promise<PullResult> {
  const { settings, descriptor } = job;
  return runRsync({
    rsyncCommand: settings.rsyncCommand,
    url: job.remote.url,
    password: job.remote.password,
    destination: target.destination,
    compress: settings.rsyncCompress ?? false,
    linkDest: target.linkDest ?? null,
    inplace: target.inplace ?? false,
    dryRun: target.dryRun ?? false,
    ignoreExisting: target.ignoreExisting ?? false,
    filesFrom: target.filesFrom ?? null,
    exactTimes: target.exactTimes ?? false,
    treeOnly: target.treeOnly ?? false,
    ...(target.onLine === undefined ? {} : { onLine: target.onLine }),
    sizedNames: target.sizedNames ?? false,
    hardLinks: settings.preserveHardLinks || descriptor.preserve_hard_links,
    filter: descriptor.filter,
    exclude: descriptor.exclude,
    bwlimit: descriptor.bwlimit,
    log: job.log,
  });
}
