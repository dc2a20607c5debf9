// The ping account's one privilege: running the tunnel owner check as root through sudo
// (docs/datapath.md, "The storage's sshd"). The rule is lib/storage/tunnel-owner-sudoers.ts; it
// is checked with visudo before it goes live, since a broken file in /etc/sudoers.d stops sudo
// for everyone on the machine.
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { ensurePackages, failureLine, type Host } from '../../../lib/charm-host/index.js';
import { SUDOERS_DROP_IN, tunnelOwnerSudoers } from '../../../lib/storage/tunnel-owner-sudoers.js';
import type { Account } from './machine.js';

export type TunnelOwnerSudo =
  | { readonly kind: 'installed'; readonly changed: boolean }
  /** A root ping account checks its tunnels itself. */
  | { readonly kind: 'not-needed' }
  | { readonly kind: 'blocked'; readonly problem: string };

/** Installs (or refreshes) the sudoers drop-in for a ping account that is not root. */
export async function ensureTunnelOwnerSudo(host: Host, account: Account): Promise<TunnelOwnerSudo> {
  if (account.uid === 0) return { kind: 'not-needed' };
  await ensurePackages(host, ['sudo']);
  const dropIn = host.path(SUDOERS_DROP_IN);
  const text = tunnelOwnerSudoers(account.name);
  if ((await readFile(dropIn, 'utf8').catch(() => undefined)) === text) return { kind: 'installed', changed: false };
  // sudo reads no file whose name has a dot: the candidate is inert until visudo passed it.
  const candidate = `${dropIn}.new`;
  await mkdir(dirname(dropIn), { recursive: true, mode: 0o755 });
  await writeFile(candidate, text, { mode: 0o440 });
  await chmod(candidate, 0o440);
  const check = await host.run(['visudo', '-c', '-q', '-f', candidate]);
  if (check.exitCode !== 0) {
    await rm(candidate, { force: true });
    return { kind: 'blocked', problem: `visudo refuses ${SUDOERS_DROP_IN}: ${failureLine(check)}` };
  }
  await rename(candidate, dropIn);
  return { kind: 'installed', changed: true };
}

/** Removes the drop-in (the unit is leaving); true when there was one. */
export async function removeTunnelOwnerSudo(host: Host): Promise<boolean> {
  const dropIn = host.path(SUDOERS_DROP_IN);
  const present = (await readFile(dropIn, 'utf8').catch(() => undefined)) !== undefined;
  await rm(dropIn, { force: true });
  return present;
}
