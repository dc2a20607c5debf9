import { chmod, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Source trees for the end-to-end tests: what rsync --archive must keep (contents, modes,
 * symlinks, empty directories, hard links).
 */
export async function writeSampleTree(root: string): Promise<void> {
  await mkdir(join(root, 'conf', 'empty'), { recursive: true });
  await writeFile(join(root, 'conf', 'app.conf'), 'listen = 8080\n');
  await writeFile(join(root, 'conf', 'secret.key'), 'not really a key\n', { mode: 0o600 });
  await chmod(join(root, 'conf', 'secret.key'), 0o600);
  await writeFile(join(root, 'run.sh'), '#!/bin/sh\necho hello\n');
  await chmod(join(root, 'run.sh'), 0o755);
  await writeFile(join(root, 'big.bin'), Buffer.alloc(512 * 1024, 7));
  await symlink('conf/app.conf', join(root, 'current.conf'));
  await symlink('/nonexistent/target', join(root, 'dangling'));
  await writeFile(join(root, 'original'), 'shared by two names\n');
  await link(join(root, 'original'), join(root, 'hardlink'));
  await chmod(join(root, 'conf'), 0o750);
}
