// The storage's actions: list snapshots, verify one, expire now. They read the workload's own
// configuration (config.d, as turku-storage-ping does) and act through snapshot-store.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { type ActionContext, type ParamsOf, listingResults } from '../../../lib/charm/index.js';
import { failureLine, type Host } from '../../../lib/charm-host/index.js';
import { errorMessage } from '../../../lib/common/errors.js';
import { loadStorageSettings } from '../../../lib/storage/load-settings.js';
import { parseRetention, RetentionError } from '../../../lib/turku/retention.js';
import { storagePaths } from './paths.js';
import type { ExpireNowParams, ListSnapshotsParams, StorageConfig, VerifySnapshotParams } from './schemas.js';
import { CollectedLog, type Machine, SnapshotStore, StoreError } from './snapshot-store.js';

type Ctx = ActionContext<StorageConfig>;

/** The store over this unit's configuration; fails the action when the unit is not set up yet. */
interface Opened {
  readonly store: SnapshotStore;
  readonly log: CollectedLog;
}

async function openStore(ctx: Ctx, host: Host): Promise<Opened> {
  const log = new CollectedLog();
  try {
    const settings = await loadStorageSettings(storagePaths(host).configDir);
    return { store: new SnapshotStore(settings, log), log };
  } catch (error) {
    ctx.fail(`the storage is not configured yet (relate it to turku-api): ${errorMessage(error)}`);
  }
}

/** Warnings and errors of the snapshot code reach the unit log (debug lines stay out). */
async function flush(ctx: Ctx, log: CollectedLog): Promise<void> {
  for (const line of log.lines) {
    if (line.level === 'warning') await ctx.log.warning(line.message);
    if (line.level === 'error') await ctx.log.error(line.message);
  }
}

/**
 * Actions run as root, but backups run as the ping account: whatever borg (its cache and
 * security state, a repository's new segments) or a machine lock created here must stay
 * writable for it. Only on the machine's own root, where the ping account is a real one.
 */
async function giveBack(host: Host, store: SnapshotStore): Promise<void> {
  if (!host.isSystemRoot) return;
  const user = store.settings.authorized_keys_user ?? store.settings.ssh_ping_user;
  const paths = [...store.touched, join(store.settings.var_dir, 'borg')].filter((path) => existsSync(path));
  if (paths.length === 0) return;
  const result = await host.run(['chown', '-R', '--', `${user}:`, ...paths]);
  if (result.exitCode !== 0) throw new Error(`chown ${user}: ${failureLine(result)}`);
}

/** Runs `body`, turning the store's expected problems into the action's failure message. */
async function guarded<T>(ctx: Ctx, host: Host, opened: Opened, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof StoreError) ctx.fail(error.message);
    throw error;
  } finally {
    await flush(ctx, opened.log);
    await giveBack(host, opened.store);
  }
}

async function selectMachines(store: SnapshotStore, wanted: string | undefined): Promise<Machine[]> {
  return wanted === undefined ? store.machines() : [await store.machine(wanted)];
}

export async function listSnapshots(ctx: Ctx, host: Host, params: ParamsOf<typeof ListSnapshotsParams>): Promise<void> {
  const opened = await openStore(ctx, host);
  const { store } = opened;
  await guarded(ctx, host, opened, async () => {
    const listing: Record<string, unknown>[] = [];
    let count = 0;
    for (const machine of await selectMachines(store, params.machine)) {
      const sources: Record<string, unknown> = {};
      for (const source of await store.sources(machine)) {
        if (params.source !== undefined && source !== params.source) continue;
        const snapshots = await store.snapshots(machine, source);
        count += snapshots.length;
        sources[source] = snapshots;
      }
      listing.push({ machine: machine.uuid, names: machine.names, sources });
    }
    // A big storage lists more than action-set's argv takes: the first machines inline, the
    // whole listing in a file on the unit named in the result.
    const results = await listingResults(ctx.juju, {
      key: 'snapshots',
      listing,
      dir: storagePaths(host).actionResults,
    });
    await ctx.setResults({ machines: String(listing.length), count: String(count), ...results });
  });
}

export async function verifySnapshot(
  ctx: Ctx,
  host: Host,
  params: ParamsOf<typeof VerifySnapshotParams>,
): Promise<void> {
  const opened = await openStore(ctx, host);
  const { store } = opened;
  await guarded(ctx, host, opened, async () => {
    const machine = await store.machine(params.machine);
    await ctx.setResults({ machine: machine.uuid, ...(await store.verify(machine, params.source, params.snapshot)) });
  });
}

export async function expireNow(ctx: Ctx, host: Host, params: ParamsOf<typeof ExpireNowParams>): Promise<void> {
  let policy;
  try {
    // Strict, unlike a backup's lenient reading: a typo here must not remove anything.
    policy = parseRetention(params.retention);
  } catch (error) {
    if (error instanceof RetentionError) ctx.fail(`retention: ${error.detail}`);
    throw error;
  }
  if (policy.length === 0) ctx.fail('retention: the policy keeps everything; nothing to do');
  const opened = await openStore(ctx, host);
  const { store } = opened;
  await guarded(ctx, host, opened, async () => {
    const removed: Record<string, Record<string, string[]>> = {};
    const busy: string[] = [];
    let count = 0;
    for (const machine of await selectMachines(store, params.machine)) {
      const lock = await store.lockMachine(machine);
      if (lock === undefined) {
        busy.push(machine.uuid);
        continue;
      }
      try {
        for (const source of await store.sources(machine)) {
          if (params.source !== undefined && source !== params.source) continue;
          const names = await store.expire(machine, source, policy, { now: new Date(), dryRun: params['dry-run'] });
          if (names.length === 0) continue;
          (removed[machine.uuid] ??= {})[source] = names;
          count += names.length;
          if (!params['dry-run'])
            await ctx.log.info(`expire-now: removed ${names.join(', ')} of ${machine.uuid} ${source}`);
        }
      } finally {
        await lock.release();
      }
    }
    const results = await listingResults(ctx.juju, {
      key: 'snapshots',
      listing: removed,
      dir: storagePaths(host).actionResults,
    });
    await ctx.setResults({
      [params['dry-run'] ? 'would-remove' : 'removed']: String(count),
      ...results,
      ...(busy.length === 0 ? {} : { skipped: `backup in progress: ${busy.join(', ')}` }),
    });
  });
}
