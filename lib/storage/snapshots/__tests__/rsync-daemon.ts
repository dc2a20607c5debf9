import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real rsync daemon on 127.0.0.1 for the engines' tests, standing in for the agent's
 * on-demand daemon at the far end of the tunnel: password-protected modules, no chroot.
 */

export interface DaemonModule {
  readonly path: string;
  /** Read-only like a backup source; writable like the agent's restore module. */
  readonly writable?: boolean;
}

export interface RsyncDaemon {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** `rsync://<user>@127.0.0.1:<port>/<module>/` */
  url(module: string): string;
  stop(): Promise<void>;
}

const USER = 'turku-test';
const PASSWORD = 'S3cretPassw0rdForTheTunnel';
const READY_TIMEOUT_MS = 10_000;

export async function startRsyncDaemon(modules: Readonly<Record<string, DaemonModule>>): Promise<RsyncDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'turku-rsyncd-'));
  const secrets = join(dir, 'secrets');
  await writeFile(secrets, `${USER}:${PASSWORD}\n`, { mode: 0o600 });
  const lines = ['use chroot = no', 'munge symlinks = no', `log file = ${join(dir, 'log')}`];
  // As root the daemon would otherwise drop to nobody, who cannot read the tests' private temp dirs.
  if (process.getuid?.() === 0) lines.push('uid = 0', 'gid = 0');
  for (const [name, module] of Object.entries(modules)) {
    lines.push(
      `[${name}]`,
      `path = ${module.path}`,
      `read only = ${module.writable ? 'no' : 'yes'}`,
      `auth users = ${USER}`,
      `secrets file = ${secrets}`,
    );
  }
  const config = join(dir, 'rsyncd.conf');
  await writeFile(config, `${lines.join('\n')}\n`);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      'rsync',
      ['--no-detach', '--daemon', `--config=${config}`, `--port=${port}`, '--address=127.0.0.1'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (await waitForPort(port, exited)) {
      return {
        port,
        user: USER,
        password: PASSWORD,
        url: (module) => `rsync://${USER}@127.0.0.1:${port}/${module}/`,
        stop: async () => {
          await stop(child, exited);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await stop(child, exited);
    if (attempt >= 3) {
      const log = await readFile(join(dir, 'log'), 'utf8').catch(() => '');
      throw new Error(`rsync daemon did not start: ${stderr}${log}`);
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** True once the port accepts connections; false if the daemon exits or times out first. */
async function waitForPort(port: number, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!gone && Date.now() < deadline) {
    if (await canConnect(port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited;
}
