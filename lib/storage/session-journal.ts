import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import * as z from 'zod';

import { writeFileAtomic } from '../common/atomic-write.js';
import { errorMessage, isErrno } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { SourceResult } from '../turku/protocol/api.js';

/**
 * What a storage session has not yet reported to the API, per machine, in
 * `<var_dir>/sessions/<uuid>.json`: a source is entered before its pull and taken out once the
 * API has its result. A session that ends normally leaves no file; one that was killed (or whose
 * reports all failed) leaves the sources the API was never told about, and the next run for that
 * machine tells it. The file is only read or written under the machine's lock.
 */

const Entry = z.union([
  z.object({ state: z.literal('pulling'), time_begin: z.number() }),
  /** Pulled, but the API could not be told: the result is sent again later. */
  z.object({ state: z.literal('unreported'), result: SourceResult }),
]);
type Entry = z.infer<typeof Entry>;

const Journal = z.object({ sources: z.record(z.string(), Entry) });
type Journal = z.infer<typeof Journal>;

/** The machine's lock: one session at a time, and whoever holds it may clean up after the last. */
export function sessionLockName(uuid: string): string {
  return `turku-storage-ping-${uuid}`;
}

export function journalsDir(varDir: string): string {
  return join(varDir, 'sessions');
}

export function journalPath(varDir: string, uuid: string): string {
  return join(journalsDir(varDir), `${uuid}.json`);
}

/** The machines with a journal, i.e. with something not reported. */
export async function machinesWithJournal(varDir: string): Promise<string[]> {
  try {
    return (await readdir(journalsDir(varDir)))
      .filter((entry) => /^[0-9a-f-]{36}\.json$/.test(entry))
      .map((entry) => entry.slice(0, -'.json'.length));
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

/** The journal of a session in progress. Each change is written at once (atomically, 0600). */
export class SessionJournal {
  private constructor(
    private readonly varDir: string,
    private readonly path: string,
    private readonly journal: Journal,
    private readonly problem: (message: string) => void,
  ) {}

  /** What a killed earlier session left (unreadable: nothing, said in `problem`), to add to. */
  static async open(varDir: string, uuid: string, problem: (message: string) => void): Promise<SessionJournal> {
    const path = journalPath(varDir, uuid);
    let journal: Journal = { sources: {} };
    try {
      journal = Journal.parse(JSON.parse(await readFile(path, 'utf8')));
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) problem(`Ignoring the unreadable session journal ${path}: ${errorMessage(error)}`);
    }
    return new SessionJournal(varDir, path, journal, problem);
  }

  /** Sources left by an earlier session, with what to tell the API about each. */
  leftovers(lastActivity: Date | undefined): [string, SourceResult][] {
    return Object.entries(this.journal.sources).map(([name, entry]) => [name, leftoverResult(entry, lastActivity)]);
  }

  async pulling(name: string, timeBegin: number): Promise<void> {
    this.journal.sources[name] = { state: 'pulling', time_begin: timeBegin };
    await this.save();
  }

  async unreported(name: string, result: SourceResult): Promise<void> {
    this.journal.sources[name] = { state: 'unreported', result };
    await this.save();
  }

  async reported(name: string): Promise<void> {
    if (!Object.hasOwn(this.journal.sources, name)) return;
    delete this.journal.sources[name];
    await this.save();
  }

  /** Never throws: a journal that cannot be written (a full state directory) must not stop a backup. */
  private async save(): Promise<void> {
    try {
      if (Object.keys(this.journal.sources).length === 0) {
        await rm(this.path, { force: true });
        return;
      }
      const dir = journalsDir(this.varDir);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // turku-storage-update-config may run as root: the file stays the ping account's (the directory's owner).
      const owner = process.getuid?.() === 0 ? await stat(dir) : undefined;
      await writeFileAtomic(this.path, `${JSON.stringify(this.journal)}\n`, {
        mode: 0o600,
        ...(owner === undefined ? {} : { uid: owner.uid, gid: owner.gid }),
      });
    } catch (error) {
      this.problem(`Cannot write the session journal ${this.path}: ${errorMessage(error)}`);
    }
  }
}

/**
 * Tells the API about each source an earlier session left (see `reportResult` in ping.ts, which
 * retries); a source whose report fails stays for the next run.
 */
export async function reportLeftovers(
  journal: SessionJournal,
  lastActivity: Date | undefined,
  report: (name: string, result: SourceResult) => Promise<boolean>,
  log: Pick<Logger, 'warning'>,
): Promise<number> {
  let reported = 0;
  for (const [name, result] of journal.leftovers(lastActivity)) {
    log.warning(`Reporting ${name} from an earlier session: ${result.summary ?? (result.success ? 'ok' : 'failed')}`);
    if (await report(name, result)) {
      await journal.reported(name);
      reported++;
    }
  }
  return reported;
}

/**
 * A pull that never ended is a failure; its end is the last sign of life of the session (its
 * scratch files), else its beginning.
 */
export function leftoverResult(entry: Entry, lastActivity: Date | undefined): SourceResult {
  if (entry.state === 'unreported') return entry.result;
  const timeEnd = Math.max(entry.time_begin, (lastActivity?.getTime() ?? 0) / 1000);
  return {
    success: false,
    snapshot: null,
    summary:
      `the storage's session ended unexpectedly (killed or crashed) at ${isoSeconds(timeEnd)}, ` +
      `during the pull begun at ${isoSeconds(entry.time_begin)}`,
    time_begin: entry.time_begin,
    time_end: timeEnd,
  };
}

function isoSeconds(epochSeconds: number): string {
  return `${new Date(Math.floor(epochSeconds) * 1000).toISOString().slice(0, 19)}Z`;
}
