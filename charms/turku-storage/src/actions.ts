// The storage's actions: list snapshots, verify one, expire now. Each runs the workload's own
// `turku-storage-admin` on this unit's configuration and turns its JSON into results; a refusal
// (unknown machine, missing snapshot, failed check, bad policy) fails the action with the
// program's one line.
import { existsSync } from 'node:fs';

import { type ActionContext, type ParamsOf, listingResults } from '../../../lib/charm/index.js';
import type { Host } from '../../../lib/charm-host/index.js';
import { type AdminResult, StorageAdmin } from './admin-program.js';
import { storagePaths } from './paths.js';
import type { ExpireNowParams, ListSnapshotsParams, StorageConfig, VerifySnapshotParams } from './schemas.js';

type Ctx = ActionContext<StorageConfig>;

/** `turku-storage-admin list-snapshots --json`: one entry per machine. */
interface MachineListing {
  readonly machine: string;
  readonly names: readonly string[];
  readonly sources: Record<string, readonly unknown[]>;
}

/** `turku-storage-admin verify --json` (lib/storage/admin/store.ts, `Verified`). */
interface Verified {
  readonly machine: string;
  readonly name: string;
  readonly mode: string;
  readonly finished: string;
  readonly path?: string;
  readonly checkedFiles: number;
  readonly checkedBytes: number;
  readonly problems: readonly { readonly path: string; readonly kind: string; readonly detail: string }[];
  readonly manifest?: { readonly recorded: string; readonly created: string };
}

/** `turku-storage-admin expire --json`. */
interface Expired {
  readonly count: number;
  readonly removed: Record<string, Record<string, string[]>>;
  readonly busy: readonly string[];
}

/** The program over this unit's configuration; fails the action when the unit is not set up yet. */
function adminOrFail(ctx: Ctx, host: Host): StorageAdmin {
  const paths = storagePaths(host);
  // The charm writes its configuration layer once the API relation is ready (charm.ts).
  if (!existsSync(paths.configFile)) {
    ctx.fail(`the storage is not configured yet (relate it to turku-api): no ${paths.configFile}`);
  }
  return new StorageAdmin(host, paths.configDir);
}

/** The program's warnings and errors reach the unit log; a refusal fails the action. */
async function valueOrFail<T>(ctx: Ctx, result: AdminResult<T>): Promise<T> {
  for (const line of result.warnings) {
    if (line.level === 'warning') await ctx.log.warning(line.message);
    else await ctx.log.error(line.message);
  }
  if (!result.ok) ctx.fail(result.message);
  return result.value;
}

/** `--name=value`: an operator's value that starts with a dash stays a value. */
function filterArgs(params: { machine?: string | undefined; source?: string | undefined }): string[] {
  return [
    ...(params.machine === undefined ? [] : [`--machine=${params.machine}`]),
    ...(params.source === undefined ? [] : [`--source=${params.source}`]),
  ];
}

export async function listSnapshots(ctx: Ctx, host: Host, params: ParamsOf<typeof ListSnapshotsParams>): Promise<void> {
  const admin = adminOrFail(ctx, host);
  const listing = await valueOrFail(
    ctx,
    await admin.json<MachineListing[]>('list-snapshots', [
      ...filterArgs(params),
      ...(params.sizes === true ? ['--sizes'] : []),
    ]),
  );
  const count = listing.reduce(
    (sum, machine) => sum + Object.values(machine.sources).reduce((n, snapshots) => n + snapshots.length, 0),
    0,
  );
  // A big storage lists more than action-set's argv takes: the first machines inline, the
  // whole listing in a file on the unit named in the result.
  const results = await listingResults(ctx.juju, {
    key: 'snapshots',
    listing,
    dir: storagePaths(host).actionResults,
  });
  await ctx.setResults({ machines: String(listing.length), count: String(count), ...results });
}

export async function verifySnapshot(
  ctx: Ctx,
  host: Host,
  params: ParamsOf<typeof VerifySnapshotParams>,
): Promise<void> {
  const admin = adminOrFail(ctx, host);
  const args = ['--', params.machine, params.source, params.snapshot];
  const result = await admin.json<Verified>('verify', args);
  // Problems found: the results list them (inline, or in a file when many), then the action fails.
  const verified = result.value;
  if (verified !== undefined) {
    const problems =
      verified.problems.length === 0
        ? {}
        : {
            'problem-count': String(verified.problems.length),
            ...(await listingResults(ctx.juju, {
              key: 'problems',
              listing: verified.problems,
              dir: storagePaths(host).actionResults,
            })),
          };
    await ctx.setResults({
      machine: verified.machine,
      snapshot: verified.name,
      mode: verified.mode,
      finished: verified.finished,
      ...(verified.path === undefined ? {} : { path: verified.path }),
      checked: verifiedWhat(verified),
      ...(verified.manifest === undefined ? {} : { 'manifest-recorded': verified.manifest.recorded }),
      ...problems,
    });
  }
  await valueOrFail(ctx, result);
}

function verifiedWhat(verified: Verified): string {
  if (verified.mode === 'borg') return 'borg check --verify-data';
  const files = `${verified.checkedFiles} file${verified.checkedFiles === 1 ? '' : 's'}`;
  return `${files}, ${verified.checkedBytes} bytes against the manifest`;
}

export async function expireNow(ctx: Ctx, host: Host, params: ParamsOf<typeof ExpireNowParams>): Promise<void> {
  const admin = adminOrFail(ctx, host);
  const dryRun = params['dry-run'];
  const args = [`--retention=${params.retention}`, ...filterArgs(params), ...(dryRun ? ['--dry-run'] : [])];
  const expired = await valueOrFail(ctx, await admin.json<Expired>('expire', args));
  if (!dryRun) {
    for (const [machine, sources] of Object.entries(expired.removed)) {
      for (const [source, names] of Object.entries(sources)) {
        await ctx.log.info(`expire-now: removed ${names.join(', ')} of ${machine} ${source}`);
      }
    }
  }
  const results = await listingResults(ctx.juju, {
    key: 'snapshots',
    listing: expired.removed,
    dir: storagePaths(host).actionResults,
  });
  await ctx.setResults({
    [dryRun ? 'would-remove' : 'removed']: String(expired.count),
    ...results,
    ...(expired.busy.length === 0 ? {} : { skipped: `backup in progress: ${expired.busy.join(', ')}` }),
  });
}
