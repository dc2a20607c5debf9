// Backups run as the ping account; an operator (or the charm's action) runs this program as
// root. Whatever borg (its cache and security state, a repository's new segments) or a machine
// lock created meanwhile must stay the ping account's, or the next backup cannot write it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { UserError } from '../../common/errors.js';
import { lookupAccount } from '../accounts.js';
import type { StorageSettings } from '../settings.js';

/** The account backups of this storage run as. */
export function pingAccountName(settings: StorageSettings): string {
  return settings.authorized_keys_user ?? settings.ssh_ping_user;
}

/**
 * Gives `touched` (and the storage's borg state directory) back to the ping account. Only as
 * root, and only when the account exists here and is not root itself: anyone else cannot
 * have left files another account needs.
 */
export async function giveBackToPingAccount(settings: StorageSettings, touched: Iterable<string>): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const name = pingAccountName(settings);
  const account = await lookupAccount(name).catch(() => undefined);
  if (account === undefined || account.uid === 0) return;
  const paths = [...touched, join(settings.var_dir, 'borg')].filter((path) => existsSync(path));
  if (paths.length === 0) return;
  // Loaded on first use, as lib/common/process.ts does: a verify or a listing does not pay for it.
  const { execa } = await import('execa');
  const result = await execa('chown', ['-R', '--', `${account.uid}:${account.gid}`, ...paths], { reject: false });
  if (result.exitCode !== 0) {
    const detail = String(result.stderr).trim().split('\n').at(-1) || `exit status ${String(result.exitCode)}`;
    throw new UserError(`chown ${name}: ${detail}`);
  }
}
