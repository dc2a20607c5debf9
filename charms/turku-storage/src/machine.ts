// What the storage needs on its machine besides packages and programs: the ping account agents
// log in as, SSH host keys to publish, and the storage's own login secret.
import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, mkdir, readFile, readdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename, dirname } from 'node:path';

import { failureLine, type Host } from '../../../lib/charm-host/index.js';
import { writeFileAtomic } from '../../../lib/common/atomic-write.js';
import { readHostKeys } from '../../../lib/storage/host-keys.js';
import { MACHINE_PATHS } from './paths.js';

export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

async function lookup(host: Host, name: string): Promise<Account | undefined> {
  const result = await host.run(['getent', 'passwd', name]);
  const fields = result.exitCode === 0 ? result.stdout.trim().split(':') : [];
  if (fields.length < 7) return undefined;
  return { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! };
}

/**
 * The account agents log in as. On the machine's own root: `wanted`, created as an unprivileged
 * system user when missing. In another root (tests, the local substrate) no account can be made
 * for it, so the account running the charm stands in (see README).
 */
export async function ensurePingAccount(host: Host, wanted: string): Promise<Account> {
  if (!host.isSystemRoot) {
    const self = await lookup(host, userInfo().username);
    if (self === undefined) throw new Error(`cannot look up the account ${userInfo().username}`);
    return self;
  }
  const existing = await lookup(host, wanted);
  if (existing !== undefined) return existing;
  // useradd makes the home directory but not its parents.
  await mkdir(dirname(MACHINE_PATHS.pingHome), { recursive: true });
  const useradd = [
    'useradd',
    '--system',
    '--create-home',
    '--home-dir',
    MACHINE_PATHS.pingHome,
    '--shell',
    '/bin/sh',
    '--comment',
    'Turku storage ping (agents log in as this user)',
    wanted,
  ];
  const result = await host.run(useradd);
  if (result.exitCode !== 0) throw new Error(`useradd ${wanted}: ${failureLine(result)}`);
  const created = await lookup(host, wanted);
  if (created === undefined) throw new Error(`useradd ${wanted} succeeded but getent does not find it`);
  return created;
}

/**
 * The host's public keys agents pin. A real machine has them (openssh-server made them); a test
 * root has none, so real ones are generated there with ssh-keygen.
 */
export async function ensureHostKeys(host: Host, glob: string): Promise<string[]> {
  let keys = await readHostKeys(glob);
  if (keys.length > 0 || host.isSystemRoot) return keys;
  const dir = dirname(glob);
  await mkdir(dir, { recursive: true });
  const present = new Set(await readdir(dir));
  for (const type of ['ed25519', 'ecdsa']) {
    const file = `${dir}/ssh_host_${type}_key`;
    if (present.has(basename(file))) continue;
    const result = await host.run(['ssh-keygen', '-q', '-t', type, '-N', '', '-C', 'root@turku-storage', '-f', file]);
    if (result.exitCode !== 0) throw new Error(`ssh-keygen -t ${type}: ${failureLine(result)}`);
  }
  keys = await readHostKeys(glob);
  if (keys.length === 0) throw new Error(`no SSH host keys match ${glob}`);
  return keys;
}

/** Random, URL-safe, 40 characters: a strong secret (the API's fast hash takes 20 and more). */
function newSecret(): string {
  return randomBytes(30).toString('base64url');
}

/**
 * The storage's login secret at the API: made once and kept (0600, root only) so the unit keeps
 * its registration across hooks and charm upgrades. It never leaves the unit but for the API.
 * A secret the operator put there is kept whatever its length: one taken over from an original
 * storage may be short, and the API still accepts it (the charm warns about it).
 */
export async function ensureLoginSecret(file: string): Promise<string> {
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing !== '') return existing;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await chmod(dirname(file), 0o700);
  const secret = newSecret();
  await writeFileAtomic(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * turku-storage-ping runs as the ping account: it must write machine directories, locks and its
 * log, and read the config (which holds the storage's secret, so 0600 owned by that account).
 */
export async function giveToPingAccount(account: Account, paths: readonly string[]): Promise<void> {
  for (const path of paths) await chown(path, account.uid, account.gid);
}

/** The ping account's `chattr`: a copy allowed to set the immutable flag (docs/datapath.md, "Immutable snapshots"). */
export const IMMUTABLE_CHATTR = '/usr/local/lib/turku-storage/chattr';

/**
 * What the storage runs to make its snapshots immutable. The ping account is not root, so it may
 * not set the flag: a copy of `chattr` that only root and the account's group may run gets
 * CAP_LINUX_IMMUTABLE as a file capability. Undefined leaves the workload's default (`chattr`):
 * for a root ping account, outside the machine's own root, or when `setcap` fails (then the
 * storage logs that its snapshots are not made immutable).
 */
export async function ensureImmutableChattr(
  host: Host,
  account: Account,
): Promise<{ readonly command?: readonly string[]; readonly problem?: string }> {
  if (!host.isSystemRoot || account.uid === 0) return {};
  await mkdir(dirname(IMMUTABLE_CHATTR), { recursive: true });
  await copyFile('/usr/bin/chattr', IMMUTABLE_CHATTR);
  await chown(IMMUTABLE_CHATTR, 0, account.gid);
  await chmod(IMMUTABLE_CHATTR, 0o750);
  const setcap = await host.run(['setcap', 'cap_linux_immutable+ep', IMMUTABLE_CHATTR]);
  if (setcap.exitCode !== 0) return { problem: `setcap on ${IMMUTABLE_CHATTR}: ${failureLine(setcap)}` };
  return { command: [IMMUTABLE_CHATTR] };
}
