import { lstat } from 'node:fs/promises';
import { join } from 'node:path';

import { UserError } from '../../common/errors.js';
import { restorePathProblem } from '../../turku/restore-path.js';

/**
 * Part of a snapshot (docs/datapath.md, "Restoring part of a source"). The storage alone decides
 * what it reads, and a snapshot holds whatever the machine had, symbolic links included (`x -> /`):
 * every directory on the way to the part is looked at with lstat and must be a real directory,
 * so `x/shadow` is refused instead of reading the storage's own /shadow. The part itself may be
 * anything; a symbolic link is pushed as the link, never followed (rsync --archive). Snapshots
 * are written once by the storage and never by an agent, so nothing changes them between this
 * check and the push.
 */

export class RestorePartError extends UserError {
  override name = 'RestorePartError';
}

export async function checkRestorePart(root: string, path: string, snapshot: string): Promise<void> {
  const problem = restorePathProblem(path);
  if (problem !== undefined) throw new RestorePartError(`Invalid restore path "${path}": ${problem}`);
  const components = path.split('/');
  let at = root;
  for (const [index, component] of components.entries()) {
    at = join(at, component);
    const stats = await lstat(at).catch(() => undefined);
    const shown = components.slice(0, index + 1).join('/');
    if (stats === undefined) throw new RestorePartError(`"${shown}" is not in snapshot ${snapshot}`);
    if (index === components.length - 1) return;
    if (stats.isSymbolicLink()) {
      throw new RestorePartError(
        `"${shown}" is a symbolic link in snapshot ${snapshot}; a restore path does not follow links ` +
          '(restore the link itself, or the path it points to)',
      );
    }
    if (!stats.isDirectory()) throw new RestorePartError(`"${shown}" is not a directory in snapshot ${snapshot}`);
  }
}
