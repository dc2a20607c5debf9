import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { atExit } from '../harness/lifecycle.js';
import { killAll, mustRun, processTree } from '../harness/processes.js';
import { unitEnvironment } from './environment.js';

/** The storage machine's sshd daemons in the data-path benchmark: the storage unit's own, and the bare baseline's. */

const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  readonly port: number;
  readonly hostKeyGlob: string;
  readonly pid: number;
  log(): string;
}

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: address, exclusive: true }, () => {
      const bound = server.address();
      server.close(() => (typeof bound === 'object' && bound !== null ? resolve(bound.port) : reject(new Error())));
    });
  });
}

/** `/usr/sbin/sshd -D -e` with `settings` after its address, host key and pid file, once it listens. */
export async function startSshd(dir: string, address: string, settings: readonly string[]): Promise<Sshd> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  await mustRun(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'turku-bench-sshd', '-f', hostKey]);
  // sshd runs every command (rsync's server, the forced command) through the user's shell, and
  // bash reads ~/.bashrc when sshd starts it. Sessions get an empty HOME, so neither side pays for
  // this machine's root dotfiles (a `pyenv init` there costs about 0.6 s per login); the storage
  // charm's ping user has /bin/sh and no dotfiles.
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true, mode: 0o755 });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(address);
    const config = [
      `ListenAddress ${address}:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `SetEnv HOME=${home}`,
      ...settings,
      '',
    ].join('\n');
    const configFile = join(dir, 'sshd_config');
    await writeFile(configFile, config, { mode: 0o644 });
    const child = spawn(SSHD, ['-D', '-e', '-f', configFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: unitEnvironment(),
    }); // its systemd unit's, not ours
    const pid = child.pid;
    if (pid === undefined) throw new Error(`Cannot run ${SSHD}`);
    const killTree = () => killAll(processTree(pid));
    const cancel = atExit(killTree);
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-100_000)));
    let status: string | undefined;
    child.once('exit', (code, signal) => (status = signal ?? `exit code ${String(code)}`));
    const deadline = Date.now() + 15_000;
    while (!log.includes(`Server listening on ${address} port ${port}.`) && status === undefined) {
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (log.includes(`Server listening on ${address} port ${port}.`) && status === undefined) {
      return { port, pid, hostKeyGlob: join(dir, 'ssh_host_*_key.pub'), log: () => log };
    }
    killTree();
    cancel();
    if (attempt < 3 && /Address already in use|Cannot bind any address/.test(log)) continue;
    throw new Error(`sshd did not start (${status ?? 'timeout'}):\n${log.slice(-4000)}`);
  }
}

/**
 * The storage host's ordinary sshd, for the bare baseline: what an operator would use to copy the
 * data by hand, root logging in with a key (OpenSSH's defaults otherwise, ciphers included).
 * Returns the `ssh` command line for `rsync -e`, with the host key pinned (`-c CIPHER` may follow).
 */
export async function startPlainSshd(dir: string, address: string): Promise<Sshd & { readonly ssh: string }> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const clientKey = join(dir, 'client_ed25519');
  await mustRun(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'turku-bench-bare', '-f', clientKey]);
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`), { mode: 0o600 });
  const sshd = await startSshd(dir, address, [
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes yes',
    'UseDNS no',
  ]);
  const hostKey = (await readFile(join(dir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim();
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `[${address}]:${sshd.port} ${hostKey}\n`, { mode: 0o600 });
  const ssh = [
    'ssh',
    `-i ${clientKey}`,
    `-p ${sshd.port}`,
    '-o BatchMode=yes',
    '-o StrictHostKeyChecking=yes',
    `-o UserKnownHostsFile=${knownHosts}`,
  ].join(' ');
  return { ...sshd, ssh };
}
