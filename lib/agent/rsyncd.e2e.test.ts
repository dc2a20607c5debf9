import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

import { execa } from 'execa';

import { UserError } from '../common/errors.js';
import { closedPort, memoryLog, portSequence, removeTempDirs, tempDir } from './__tests__/helpers.js';
import { moduleProblem, rsyncdConfigText, rsyncdSecretsText, startRsyncDaemon, type DaemonModule } from './rsyncd.js';

afterAll(removeTempDirs);

const ETC: DaemonModule = {
  name: 'etc',
  path: '/etc',
  username: '95e60af5-93bd-44cf-8fd6-30f1f29d0da9',
  password: 'zdocJ2isAjIhKtJ0RlgLKOmxgJTeKd',
  readOnly: true,
};

describe('rsyncd configuration text', () => {
  it('is the documented layout for a check-in', () => {
    const home = { ...ETC, name: 'home', path: '/home', username: 'u2' };
    expect(
      rsyncdConfigText({
        address: '127.0.0.1',
        port: 57123,
        uid: 'root',
        gid: '*',
        secretsFile: '/tmp/s/rsyncd.secrets',
        modules: [ETC, home],
      }),
    ).toBe(
      'address = 127.0.0.1\nport = 57123\nlog file = /dev/stdout\nuid = root\ngid = *\nlist = false\n' +
        'socket options = TCP_NODELAY\n\n' +
        '[etc]\n    path = /etc\n    auth users = 95e60af5-93bd-44cf-8fd6-30f1f29d0da9\n' +
        '    secrets file = /tmp/s/rsyncd.secrets\n    read only = true\n\n' +
        '[home]\n    path = /home\n    auth users = u2\n    secrets file = /tmp/s/rsyncd.secrets\n    read only = true\n\n',
    );
  });

  it('has only the writable module for a restore', () => {
    const text = rsyncdConfigText({
      address: '127.0.0.1',
      port: 64951,
      uid: 'root',
      gid: '*',
      secretsFile: '/s',
      modules: [{ ...ETC, name: 'turku-restore', path: '/var/backups/turku-agent/restore', readOnly: false }],
    });
    expect(text).toContain('[turku-restore]\n    path = /var/backups/turku-agent/restore\n');
    expect(text).toContain('    read only = false\n\n');
    expect(text.match(/^\[/gm)).toHaveLength(1);
  });

  it('has one secrets line per module', () => {
    expect(rsyncdSecretsText([ETC, { ...ETC, username: 'u2', password: 'p2' }])).toBe(
      '95e60af5-93bd-44cf-8fd6-30f1f29d0da9:zdocJ2isAjIhKtJ0RlgLKOmxgJTeKd\nu2:p2\n',
    );
  });

  it.each([
    { name: 'a]b', path: '/x' },
    { name: 'x', path: '/x\n[evil]' },
    { name: ' x', path: '/x' },
    { name: 'x', path: '/x ' },
  ])('refuses %j', (module) => {
    expect(moduleProblem(module)).toBeDefined();
    expect(() =>
      rsyncdConfigText({
        address: '127.0.0.1',
        port: 1,
        uid: 'root',
        gid: '*',
        secretsFile: '/s',
        modules: [{ ...ETC, ...module }],
      }),
    ).toThrow(UserError);
  });
});

/** Pulls `module` from the daemon with a real rsync client. */
function pull(port: number, module: DaemonModule, password: string, destination: string) {
  return execa('rsync', ['-a', `rsync://${module.username}@127.0.0.1:${port}/${module.name}/`, `${destination}/`], {
    env: { RSYNC_PASSWORD: password },
    reject: false,
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function dataModule(): Promise<{ dir: string; module: DaemonModule }> {
  const root = await tempDir();
  const data = join(root, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  await writeFile(join(data, 'hello.txt'), 'hello\n');
  await writeFile(join(data, 'sub', 'deep.txt'), 'deep\n');
  const dir = join(root, 'private');
  await mkdir(dir, { mode: 0o700 });
  return { dir, module: { ...ETC, name: 'data', path: data } };
}

const base = { command: ['rsync'], address: '127.0.0.1', uid: 'root', gid: '*' };

describe('the rsync daemon', () => {
  it('serves its module to the one-time credentials only, then stops', async () => {
    const { dir, module } = await dataModule();
    const log = memoryLog();
    const daemon = await startRsyncDaemon({ ...base, modules: [module], dir, log });
    try {
      expect(daemon.port).toBeGreaterThanOrEqual(49152);
      expect((await stat(join(dir, 'rsyncd.conf'))).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'rsyncd.secrets'))).mode & 0o777).toBe(0o600);
      expect(await readFile(join(dir, 'rsyncd.conf'), 'utf8')).toContain(`port = ${daemon.port}\n`);

      const into = await tempDir();
      const good = await pull(daemon.port, module, module.password, into);
      expect(good.exitCode).toBe(0);
      expect(await readFile(join(into, 'sub', 'deep.txt'), 'utf8')).toBe('deep\n');

      const bad = await pull(daemon.port, module, 'wrong-password', await tempDir());
      expect(bad.exitCode).toBe(5);
      expect(bad.stderr).toContain('auth failed');
      const otherUser = await pull(daemon.port, { ...module, username: 'someone' }, module.password, await tempDir());
      expect(otherUser.exitCode).toBe(5);

      // Read only: nothing can be pushed into a check-in module.
      const push = await execa(
        'rsync',
        ['-a', `${into}/`, `rsync://${module.username}@127.0.0.1:${daemon.port}/data/`],
        {
          env: { RSYNC_PASSWORD: module.password },
          reject: false,
        },
      );
      expect(push.exitCode).not.toBe(0);
    } finally {
      await daemon.stop();
    }
    expect(daemon.exited).toBe(true);
    expect(processExists(daemon.pid)).toBe(false);
    expect(await accepts(daemon.port)).toBe(false);
    expect(log.lines.some((line) => line.includes('rsyncd: ') && line.includes('auth failed'))).toBe(true);
    await daemon.stop(); // idempotent
  }, 20_000);

  it('moves to another port when its port is taken', async () => {
    const { dir, module } = await dataModule();
    const squatter = createServer((socket) => socket.end('not rsync\n'));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as { port: number }).port;
    const free = await closedPort();
    const log = memoryLog();
    const daemon = await startRsyncDaemon({
      ...base,
      modules: [module],
      dir,
      log,
      choosePort: portSequence(taken, free),
    });
    try {
      expect(daemon.port).toBe(free);
      expect(log.lines.some((line) => line.includes(`port ${taken}`) && line.includes('trying another port'))).toBe(
        true,
      );
      expect((await pull(free, module, module.password, await tempDir())).exitCode).toBe(0);
    } finally {
      await daemon.stop();
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 20_000);

  it('gives up after five starts that exit at once', async () => {
    const { dir, module } = await dataModule();
    const started = Date.now();
    await expect(
      startRsyncDaemon({ ...base, command: ['false'], modules: [module], dir, log: memoryLog() }),
    ).rejects.toThrow(/could not start after 5 tries \(port \d+: exit status 1; port \d+/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('says so when the rsync program is missing', async () => {
    const { dir, module } = await dataModule();
    await expect(
      startRsyncDaemon({ ...base, command: ['/nonexistent/rsync'], modules: [module], dir, log: memoryLog() }),
    ).rejects.toThrow('Cannot run the rsync daemon (/nonexistent/rsync): not found');
  });

  it('stops waiting after the ready timeout', async () => {
    const { dir, module } = await dataModule();
    const sleeper = join(await tempDir(), 'sleeper');
    await writeFile(sleeper, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const started = Date.now();
    await expect(
      startRsyncDaemon({ ...base, command: [sleeper], modules: [module], dir, log: memoryLog(), readyTimeoutMs: 300 }),
    ).rejects.toThrow(/did not accept connections on 127\.0\.0\.1:\d+ within 0\.3 s/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(existsSync(dir)).toBe(true); // the caller owns the directory
  });
});
