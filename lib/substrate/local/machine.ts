// A machine of the local substrate: a root directory for its files (the charms and workloads
// see it through TURKU_MACHINE_ROOT) and a network namespace with the model's address for it.
// Like a cloud image, every machine comes with SSH host keys and a running sshd.
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

import { livePidFromFile } from '../../charm-host/services.js';
import { storageSshdSettings } from '../../storage/sshd-settings.js';
import { createMachineNamespace, inNamespace, namespaceName, type Subnet } from './network.js';

export interface LocalMachine {
  readonly id: string;
  readonly address: string;
  readonly netns: string;
  /** The machine's `/`. */
  readonly root: string;
}

/** The machine path `path` on `machine`. */
export function machinePath(machine: Pick<LocalMachine, 'root'>, path: string): string {
  return join(machine.root, path);
}

/** Where the machine's root is under the model's directory. */
export function machineRoot(modelDir: string, machineId: string): string {
  return join(modelDir, 'machines', machineId.replaceAll('/', '-'));
}

/**
 * The machine as a restarted controller finds it: its namespace and sshd outlive the controller,
 * so they are reused when there; otherwise provisioned as new.
 */
export async function ensureMachine(
  modelDir: string,
  subnet: Subnet,
  id: string,
  address: string,
): Promise<LocalMachine> {
  const netns = namespaceName(subnet, id);
  if (!existsSync(join('/run/netns', netns))) return provisionMachine(modelDir, subnet, id, address);
  const machine = { id, address, netns, root: machineRoot(modelDir, id) };
  if (!(await sshdRunning(machine))) await startSshd(machine);
  return machine;
}

/** The machine's sshd, by its pid file, is alive. */
async function sshdRunning(machine: LocalMachine): Promise<boolean> {
  return (await livePidFromFile(machinePath(machine, '/run/sshd.pid'))) !== undefined;
}

export async function provisionMachine(
  modelDir: string,
  subnet: Subnet,
  id: string,
  address: string,
): Promise<LocalMachine> {
  const root = machineRoot(modelDir, id);
  // sshd's StrictModes wants every directory above authorized_keys root's and not writable by others.
  const sshDirs = [join(root, 'etc', 'ssh'), join(root, 'etc', 'ssh', 'sshd_config.d')];
  for (const dir of [root, ...sshDirs, join(root, 'run'), join(root, 'var', 'log')]) {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
  }
  const netns = await createMachineNamespace(subnet, id, address);
  const machine = { id, address, netns, root };
  await startSshd(machine);
  return machine;
}

/**
 * The machine's OpenSSH server on port 22 of its own address, configured as a storage's
 * (lib/storage/sshd-settings.ts) and reading the drop-ins in its /etc/ssh/sshd_config.d first,
 * as Debian's does. On the substrate no account can be made for a storage's ping user, so the
 * charm runs it as root with its keys in the machine's ping home (charms/turku-storage/README.md):
 * that is the only authorized_keys file this sshd reads, and root logins need a forced command.
 */
async function startSshd(machine: LocalMachine): Promise<void> {
  const sshDir = machinePath(machine, '/etc/ssh');
  const hostKey = join(sshDir, 'ssh_host_ed25519_key');
  if (!existsSync(hostKey)) {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@machine-${machine.id}`, '-f', hostKey]);
  }
  const config = join(sshDir, 'sshd_config');
  await writeFile(
    config,
    [
      '# Written by the local substrate (lib/substrate/local/machine.ts)',
      // As Debian and Ubuntu ship it: drop-ins first (the turku-storage charm installs one).
      `Include ${machinePath(machine, '/etc/ssh/sshd_config.d')}/*.conf`,
      'ListenAddress 0.0.0.0:22',
      `HostKey ${hostKey}`,
      `PidFile ${machinePath(machine, '/run/sshd.pid')}`,
      ...storageSshdSettings({
        authorizedKeysFile: machinePath(machine, '/var/lib/turku-storage/ping/.ssh/authorized_keys'),
        pingUser: 'root',
      }),
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  // Debian's init script makes the privilege separation directory; there is none here.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  // Without -D sshd daemonizes itself: it outlives this process, as on a machine, until the
  // substrate kills what runs in the namespace.
  const started = await execa(
    'ip',
    inNamespace(machine.netns, ['/usr/sbin/sshd', '-f', config, '-E', machinePath(machine, '/var/log/sshd.log')]),
    { reject: false, stdin: 'ignore' },
  );
  if (started.exitCode !== 0) {
    throw new Error(`sshd on machine ${machine.id}: ${started.stderr.trim().split('\n').pop() ?? ''}`);
  }
  await waitForListener(machine.netns, 22);
}

/** Polls until something accepts TCP connections on the namespace's loopback port. */
export async function waitForListener(netns: string, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = await execa('ip', inNamespace(netns, ['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]), {
      reject: false,
      stdin: 'ignore',
    });
    if (probe.exitCode === 0) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} in ${netns} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
