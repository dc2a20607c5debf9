/**
 * Setup for jest's `unit` project: a unit test that starts one of the programs only the end-to-end tests may use
 * (sshd, network namespaces, mounts, firewalls, chroot, new accounts: things that need root) fails at once with where
 * it belongs, instead of passing as root and failing for everyone else. See docs/development.md, "Tests".
 * (setpriv is not among them: the agent runs its children through `setpriv --pdeathsig`, which needs no root.)
 *
 * It wraps node:child_process's functions, which execa and the helpers call; a program started through a shell
 * (`sh -c "mount ..."`) slips past, which running `npm test` as an ordinary user catches.
 */
import { basename } from 'node:path';
import { createRequire } from 'node:module';

// The module object itself (not an ESM snapshot of it), so that tests importing it later see the wrapped functions.
const childProcess = createRequire(import.meta.url)('node:child_process') as Record<string, unknown>;

/** Programs that need root, by file name. */
const ROOT_ONLY = new Set([
  'sshd',
  'mount',
  'umount',
  'unshare',
  'nsenter',
  'ip',
  'iptables',
  'ip6tables',
  'iptables-restore',
  'ip6tables-restore',
  'chroot',
  'losetup',
  'useradd',
  'userdel',
  'groupadd',
]);

/** `sshd -t` / `sshd -T` only check a configuration (no daemon, no root): unit tests may run them. */
const CONFIG_CHECKS = new Set(['-t', '-T']);

function refuse(file: unknown, args: unknown): void {
  if (typeof file !== 'string') return;
  const [first = '', ...inline] = file.trim().split(/\s+/);
  const program = basename(first);
  if (!ROOT_ONLY.has(program)) return;
  const argv = Array.isArray(args) ? args : inline;
  if (program === 'sshd' && argv.some((arg) => CONFIG_CHECKS.has(String(arg)))) return;
  throw new Error(
    `A unit test started ${program}, which needs root: name the test file *.e2e.test.ts (or put it under ` +
      'tests/e2e/) so that it runs in `npm run test:e2e`, see docs/development.md',
  );
}

for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork']) {
  const original = childProcess[name] as (...args: unknown[]) => unknown;
  childProcess[name] = function guarded(this: unknown, file: unknown, ...rest: unknown[]): unknown {
    refuse(file, rest[0]);
    return original.call(this, file, ...rest);
  };
}
