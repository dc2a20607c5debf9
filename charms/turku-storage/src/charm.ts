// The turku-storage charm: every hook makes the unit one Turku storage registered with the
// related turku-api, publishing its name, SSH endpoint, host keys and free space.
import { chmod, mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { defineCharm, type HookContext, type HookTools, type JujuCommon } from '../../../lib/charm/index.js';
import {
  BIN_DIR,
  ensurePackages,
  failureLine,
  type Host,
  installPrograms,
  installTimers,
  removeTimers,
} from '../../../lib/charm-host/index.js';
import { writeStorageUnit } from '../../../lib/charm-interfaces/index.js';
import { writeFileAtomic } from '../../../lib/common/atomic-write.js';
import { isApiUnreachable } from '../../../lib/common/api-unreachable.js';
import { loadStorageSettings } from '../../../lib/storage/load-settings.js';
import { SSHD_DROP_IN } from '../../../lib/storage/sshd-settings.js';
import { SUDOERS_DROP_IN } from '../../../lib/storage/tunnel-owner-sudoers.js';
import { measureVolumes, spaceReport } from '../../../lib/storage/volumes.js';
import { isWeakSecret, STRONG_SECRET_LENGTH } from '../../../lib/turku/secret-strength.js';
import { expireNow, listSnapshots, verifySnapshot } from './actions.js';
import { API_ENDPOINT, readApiRelation } from './api-relation.js';
import { storageConfigObject, storageName } from './config-files.js';
import {
  ensureHostKeys,
  ensureLoginSecret,
  ensureImmutableChattr,
  ensurePingAccount,
  giveToPingAccount,
} from './machine.js';
import { storagePaths } from './paths.js';
import { removeSshDoor, secureSshDoor } from './sshd.js';
import { ensureTunnelOwnerSudo, removeTunnelOwnerSudo } from './sudoers.js';
import { ExpireNowParams, ListSnapshotsParams, StorageConfig, VerifySnapshotParams } from './schemas.js';
import { attachedVolumes } from './volumes.js';

export { ExpireNowParams, ListSnapshotsParams, StorageConfig, VerifySnapshotParams } from './schemas.js';

export const PACKAGES = ['openssh-server', 'rsync', 'borgbackup', 'libcap2-bin'] as const;
export const PROGRAMS = [
  'turku-storage-update-config',
  'turku-storage-ping',
  'turku-storage-admin',
  'turku-storage-sample-verify',
  'turku-storage-tunnel-owner',
  'turku-timers',
] as const;

/** `512.0 GiB`: the status line's sizes. */
export function formatMiB(mib: number): string {
  if (mib >= 1024 * 1024) return `${(mib / (1024 * 1024)).toFixed(1)} TiB`;
  if (mib >= 1024) return `${(mib / 1024).toFixed(1)} GiB`;
  return `${mib} MiB`;
}

/** Where agents connect: the configured host, else this unit's ingress address for the API. */
async function sshHostOf(tools: HookTools, configured: string): Promise<string> {
  if (configured !== '') return configured;
  const network = await tools.networkGet(API_ENDPOINT);
  const address = network['ingress-addresses'][0];
  if (address === undefined) throw new Error(`network-get ${API_ENDPOINT}: no ingress address`);
  return address;
}

/** Writes the file only when its text changes; 0600 either way (it holds the secrets). */
async function writeSecretFile(file: string, text: string): Promise<boolean> {
  await mkdir(dirname(file), { recursive: true });
  if ((await readFile(file, 'utf8').catch(() => '')) === text) {
    await chmod(file, 0o600);
    return false;
  }
  await writeFileAtomic(file, text, { mode: 0o600 });
  return true;
}

const GONE = new Set(['dying', 'dead']);

/** Juju's goal state says this unit is going away (docs/charm-runtime.md, "Hook tools", goal-state). */
async function isLeaving(tools: HookTools, unit: string): Promise<boolean> {
  return GONE.has((await tools.goalState()).units[unit]?.status ?? '');
}

/** A configured name without {unit} would make several units fight over one login. */
async function sharedNameProblem(tools: HookTools, configured: string): Promise<string | undefined> {
  if (configured === '' || configured.includes('{unit}')) return undefined;
  const units = Object.values((await tools.goalState()).units).filter((u) => !GONE.has(u.status));
  if (units.length <= 1) return undefined;
  return `storage-name: "${configured}" would be the name of all ${units.length} units; add {unit} or leave it empty`;
}

async function reconcile(ctx: HookContext<StorageConfig>, host: Host): Promise<void> {
  const hook = ctx.juju.hookName;
  if (hook === 'stop' || hook === 'remove' || (await isLeaving(ctx.tools, ctx.juju.unit))) {
    // The machine may outlive the unit: its timer must not keep reporting a storage that left,
    // and its sshd goes back to the machine's own settings.
    await removeTimers(host, 'storage');
    if (await removeSshDoor(host)) await ctx.log.info(`removed ${SSHD_DROP_IN}`);
    if (await removeTunnelOwnerSudo(host)) await ctx.log.info(`removed ${SUDOERS_DROP_IN}`);
    ctx.status.maintenance('unit is being removed; storage timers and sshd settings removed');
    return;
  }
  const config = await ctx.config();
  const shared = await sharedNameProblem(ctx.tools, config['storage-name']);
  if (shared !== undefined) {
    ctx.status.blocked(shared);
    return;
  }
  const paths = storagePaths(host);
  const name = storageName(config['storage-name'], ctx.juju.unit);

  // The machine: packages, programs on PATH, the ping account, host keys, the login secret.
  await ensurePackages(host, PACKAGES);
  await installPrograms(host, PROGRAMS);
  const account = await ensurePingAccount(host, config['ping-user']);
  const chattr = config['immutable-snapshots'] ? await ensureImmutableChattr(host, account) : {};
  if (chattr.problem !== undefined) await ctx.log.warning(`snapshots will not be immutable: ${chattr.problem}`);
  const hostKeys = await ensureHostKeys(host, paths.hostKeysGlob);
  // What the ping user's logins may do: checked before anything is offered to agents.
  const door = await secureSshDoor(host, account.name);
  if (door.kind === 'blocked') {
    ctx.status.blocked(door.problem);
    return;
  }
  if (door.kind === 'secured' && door.reloaded) await ctx.log.info(`sshd reloaded with ${SSHD_DROP_IN}`);
  if (door.kind === 'secured' && door.warning !== undefined) await ctx.log.warning(door.warning);
  // The ping account checks who owns each tunnel through this rule: without it, no pull happens.
  const sudo = await ensureTunnelOwnerSudo(host, account);
  if (sudo.kind === 'blocked') {
    ctx.status.blocked(sudo.problem);
    return;
  }
  if (sudo.kind === 'installed' && sudo.changed) await ctx.log.info(`wrote ${SUDOERS_DROP_IN}`);
  const secret = await ensureLoginSecret(paths.secretFile);
  const volumes = await attachedVolumes(ctx.tools, host, ctx.juju, paths.defaultVolume);
  const sshHost = await sshHostOf(ctx.tools, config['ssh-host']);
  await ctx.tools.openPort(`${config['ssh-port']}/tcp`);

  const api = await readApiRelation(ctx.tools);
  if (api.kind !== 'ready') {
    ctx.status[api.kind](api.message);
    return;
  }

  // The workload's configuration, then its own registration run.
  const home = host.isSystemRoot ? account.home : paths.pingHome;
  for (const dir of [paths.varDir, paths.lockDir, dirname(paths.logFile), home]) await mkdir(dir, { recursive: true });
  const object = storageConfigObject({
    config,
    name,
    secret,
    apiUrl: api.access.url,
    registration: { name: api.access.authName, secret: api.access.authSecret },
    volumes,
    sshHost,
    pingUser: account.name,
    ...(chattr.command === undefined ? {} : { chattrCommand: chattr.command }),
    paths: {
      varDir: paths.varDir,
      lockDir: paths.lockDir,
      logFile: paths.logFile,
      authorizedKeysFile: `${home}/.ssh/authorized_keys`,
      hostKeysGlob: paths.hostKeysGlob,
      pingCommand: `${host.path(BIN_DIR)}/turku-storage-ping --config-dir ${paths.configDir}`,
    },
  });
  if (await writeSecretFile(paths.configFile, `${JSON.stringify(object, null, 2)}\n`)) {
    await ctx.log.info(`wrote ${paths.configFile}`);
  }
  if (host.isSystemRoot) {
    // Root's update-config would otherwise create the log file the ping account must append to.
    await (await open(paths.logFile, 'a', 0o640)).close();
    const owned = [paths.configFile, paths.varDir, paths.lockDir, dirname(paths.logFile), paths.logFile, home];
    await giveToPingAccount(account, [...owned, ...volumes.map((volume) => volume.path)]);
  }
  const update = await host.run(
    host.workload.command('turku-storage-update-config', ['--config-dir', paths.configDir]),
  );
  if (update.exitCode !== 0) {
    // An API that does not answer yet (a second unit waiting for its database) is waited for;
    // the next hook (update-status at the latest) tries again.
    if (isApiUnreachable(failureLine(update))) {
      ctx.status.waiting(`waiting for the API: ${failureLine(update)}`);
      return;
    }
    throw new Error(`turku-storage-update-config: ${failureLine(update)}`);
  }
  await installTimers(host, 'storage', paths.configDir);

  // Published as the workload measures it (operators' own config.d layers included).
  const settings = await loadStorageSettings(paths.configDir);
  if (isWeakSecret(settings.secret)) {
    await ctx.log.warning(
      `the storage's login secret is shorter than ${STRONG_SECRET_LENGTH} characters; the API accepts it ` +
        'but lists it as weak',
    );
  }
  const measured = await measureVolumes(settings, (problem) => void ctx.log.warning(problem));
  const space = spaceReport(measured);
  await ctx.tools.relationSet(
    api.access.relation,
    writeStorageUnit({
      'storage-name': settings.name,
      'ssh-host': settings.ssh_ping_host,
      'ssh-port': settings.ssh_ping_port,
      'ssh-user': settings.ssh_ping_user,
      'ssh-host-keys': hostKeys,
      'space-total-mib': space.spaceTotal,
      'space-available-mib': space.spaceAvailable,
    }),
  );
  const count = measured.length;
  ctx.status.active(
    `${settings.name}: ${formatMiB(space.spaceAvailable)} of ${formatMiB(space.spaceTotal)} free on ${count} volume${count === 1 ? '' : 's'}`,
  );
}

export function turkuStorageCharm(hostFor: (juju: JujuCommon) => Host) {
  return defineCharm({
    config: StorageConfig,
    actions: {
      'list-snapshots': {
        params: ListSnapshotsParams,
        run: (ctx, params) => listSnapshots(ctx, hostFor(ctx.juju), params),
      },
      'verify-snapshot': {
        params: VerifySnapshotParams,
        run: (ctx, params) => verifySnapshot(ctx, hostFor(ctx.juju), params),
      },
      'expire-now': {
        params: ExpireNowParams,
        run: (ctx, params) => expireNow(ctx, hostFor(ctx.juju), params),
      },
    },
    reconcile: (ctx) => reconcile(ctx, hostFor(ctx.juju)),
  });
}
