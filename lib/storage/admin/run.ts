// `turku-storage-admin` from argv to what it prints, free of process globals so tests drive it
// in-process; admin-main.ts wires it to the process.
import type { CliOutput } from '../../common/closed-stdout.js';
import { errorLine, errorMessage, USAGE_EXIT, UserError } from '../../common/errors.js';
import { ConfigFileError } from '../../turku/config.js';
import { loadStorageSettings } from '../load-settings.js';
import type { StorageSettings } from '../settings.js';
import { type AdminAction, parseAdminArgs, PROGRAM, REFUSED_EXIT } from './cli.js';
import { expireSnapshots, listSnapshots, recordManifest, verifySnapshot } from './commands.js';
import { formatExpired, formatListing, formatManifest, formatVerified, problemsLine } from './format.js';
import { CollectedLog } from './log.js';
import { giveBackToPingAccount } from './ownership.js';
import { SnapshotStore } from './store.js';

export interface AdminIo {
  /** The storage settings of a configuration directory; default: the storage programs' reading. */
  readonly loadSettings?: (configDir: string) => Promise<StorageSettings>;
  /** Now, for expiry; default: the clock. */
  readonly now?: () => Date;
}

export async function runStorageAdmin(argv: readonly string[], io: AdminIo = {}): Promise<CliOutput> {
  let request;
  try {
    request = parseAdminArgs(argv);
  } catch (error) {
    return failure(error);
  }
  if (request.kind === 'help') return { exitCode: 0, stdout: request.text.split('\n'), stderr: [] };

  let settings: StorageSettings;
  try {
    settings = await (io.loadSettings ?? loadStorageSettings)(request.configDir);
  } catch (error) {
    if (error instanceof ConfigFileError || error instanceof UserError) {
      return failure(new UserError(`${request.configDir}: ${errorMessage(error)}`, USAGE_EXIT));
    }
    throw error;
  }

  const log = new CollectedLog();
  const store = new SnapshotStore(settings, log);
  const logLines = () =>
    log.lines.flatMap(({ level, message }) =>
      level === 'warning' || level === 'error' ? [`${PROGRAM}: ${level}: ${message}`] : [],
    );
  try {
    const { stdout, refusal } = await perform(store, request.action, request.json, io.now ?? (() => new Date()));
    await giveBackToPingAccount(settings, store.touched);
    // A verify that found problems prints them all, then fails with one line saying how many.
    if (refusal !== undefined) {
      return { exitCode: REFUSED_EXIT, stdout, stderr: [...logLines(), `${PROGRAM}: ${refusal}`] };
    }
    return { exitCode: 0, stdout, stderr: logLines() };
  } catch (error) {
    await giveBackToPingAccount(settings, store.touched).catch(() => undefined);
    const failed = failure(error);
    return { ...failed, stderr: [...logLines(), ...failed.stderr] };
  }
}

interface Performed {
  readonly stdout: string[];
  /** The one line of a failed check, after its output. */
  readonly refusal?: string;
}

async function perform(store: SnapshotStore, action: AdminAction, json: boolean, now: () => Date): Promise<Performed> {
  const print = <T>(value: T, format: (value: T) => string[]) => ({
    stdout: json ? [JSON.stringify(value, null, 2)] : format(value),
  });
  switch (action.command) {
    case 'list-snapshots':
      return print(await listSnapshots(store, action.filter, { sizes: action.sizes === true }), formatListing);
    case 'verify': {
      const verified = await verifySnapshot(store, action);
      const printed = print(verified, formatVerified);
      return verified.problems.length === 0 ? printed : { ...printed, refusal: problemsLine(verified) };
    }
    case 'manifest':
      return print(await recordManifest(store, { ...action, now: now() }), formatManifest);
    case 'expire':
      return print(
        await expireSnapshots(store, {
          filter: action.filter,
          policy: action.policy,
          dryRun: action.dryRun,
          now: now(),
        }),
        formatExpired,
      );
  }
}

/** A UserError is one line and its exit status; anything else is unexpected and thrown on. */
function failure(error: unknown): CliOutput {
  if (!(error instanceof UserError)) throw error;
  return { exitCode: error.exitCode, stdout: [], stderr: [errorLine(PROGRAM, error)] };
}
