import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { checkoutWorkload } from '../../tests/support/machines.js';
import { failureLine, hostAt, runProgram, unitHost } from './host.js';
import { installPrograms, installTimers, removeTimers } from './install.js';
import { ensurePackages, missingPackages } from './packages.js';
import { ensureService, isProcessAlive, stopService } from './services.js';
import { charmNode, debianArch, locateWorkload, workloadAt } from './workload.js';

const dirs: string[] = [];
async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'charm-host-test-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('host paths and programs', () => {
  it('maps machine paths into a unit root, and leaves them alone on the system root', () => {
    const workload = checkoutWorkload();
    expect(hostAt('/srv/m1', workload).path('/etc/turku-agent')).toBe('/srv/m1/etc/turku-agent');
    expect(hostAt('/srv/m1', workload).isSystemRoot).toBe(false);
    expect(hostAt('/', workload).path('/etc/turku-agent')).toBe('/etc/turku-agent');
    expect(hostAt('/', workload).isSystemRoot).toBe(true);
  });

  it('runs a program with input and reports exit status and output, also for a missing program', async () => {
    const result = await runProgram(['sh', '-c', 'cat; echo oops >&2; exit 3'], { input: 'in\n' });
    expect(result).toEqual({ exitCode: 3, stdout: 'in\n', stderr: 'oops\n' });
    expect(failureLine(result)).toBe('oops');
    const missing = await runProgram(['/nonexistent/program']);
    expect(missing.exitCode).toBe(127);
    expect(failureLine(missing)).toMatch(/^\/nonexistent\/program: spawn \/nonexistent\/program ENOENT$/);
  });

  it('kills a program that outlives its timeout', async () => {
    const started = Date.now();
    const result = await runProgram(['sleep', '30'], { timeoutMs: 200 });
    expect(result.exitCode).toBe(128);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('locating the workload', () => {
  it('prefers the packed workload/ of the charm, then TURKU_WORKLOAD_DIST, and names both when neither exists', async () => {
    const charmDir = await tempRoot();
    expect(() => locateWorkload(charmDir, {}, '/usr/bin/node')).toThrow(
      `the Turku programs are missing: no ${charmDir}/workload and TURKU_WORKLOAD_DIST is not set`,
    );
    const fromDist = locateWorkload(charmDir, { TURKU_WORKLOAD_DIST: '/opt/dist' }, '/usr/bin/node');
    expect(fromDist.command('turku-agent-ping', ['-c', '/etc/x'])).toEqual([
      '/usr/bin/node',
      '/opt/dist/lib/agent/ping-main.js',
      '-c',
      '/etc/x',
    ]);
    await mkdir(join(charmDir, 'workload'));
    const packed = locateWorkload(charmDir, { TURKU_WORKLOAD_DIST: '/opt/dist' }, '/usr/bin/node');
    expect(packed.packed).toBe(true);
    expect(packed.file('turku-api')).toBe(join(charmDir, 'workload', 'turku-api.cjs'));
  });
});

describe("the charm's Node.js", () => {
  it("is the charm's node/<arch>/bin/node for this machine's architecture, else the Node running the charm", async () => {
    expect([debianArch('x64'), debianArch('arm64'), debianArch('s390x')]).toEqual(['amd64', 'arm64', 's390x']);
    const charmDir = await tempRoot();
    await mkdir(join(charmDir, 'workload'));
    const other = debianArch() === 'amd64' ? 'arm64' : 'amd64';
    await mkdir(join(charmDir, 'node', other, 'bin'), { recursive: true });
    await writeFile(join(charmDir, 'node', other, 'bin', 'node'), '');
    // Only another architecture's build: the programs run with the Node that runs the charm.
    expect(charmNode(charmDir, process.execPath)).toBe(process.execPath);
    expect(unitHost({ charmDir }, {}).workload.node).toBe(process.execPath);
    const own = join(charmDir, 'node', debianArch(), 'bin', 'node');
    await mkdir(dirname(own), { recursive: true });
    await writeFile(own, '');
    expect(charmNode(charmDir, process.execPath)).toBe(own);
    const host = unitHost({ charmDir }, { TURKU_MACHINE_ROOT: '/srv/unit-root' });
    expect([host.root, host.workload.node, host.workload.file('turku-api')]).toEqual([
      '/srv/unit-root',
      own,
      join(charmDir, 'workload', 'turku-api.cjs'),
    ]);
  });
});

describe('packages', () => {
  it('finds only the packages that are not installed, and refuses apt in a unit root', async () => {
    const host = hostAt(await tempRoot(), checkoutWorkload());
    expect(await missingPackages(host, ['rsync', 'turku-no-such-package'])).toEqual(['turku-no-such-package']);
    expect(await ensurePackages(host, ['rsync'])).toEqual([]);
    await expect(ensurePackages(host, ['rsync', 'turku-no-such-package'])).rejects.toThrow(
      'packages missing on this machine: turku-no-such-package',
    );
  });
});

describe('program wrappers and timers', () => {
  it('writes executable wrappers that run the real programs, rewriting only what changed', async () => {
    const root = await tempRoot();
    const host = hostAt(root, checkoutWorkload());
    expect(await installPrograms(host, ['turku-timers', 'turku-update-config'])).toEqual([
      'turku-timers',
      'turku-update-config',
    ]);
    const wrapper = join(root, 'usr/local/bin/turku-timers');
    expect((await stat(wrapper)).mode & 0o777).toBe(0o755);
    const help = await runProgram([wrapper, '--help']);
    expect(help.stdout).toMatch(/^Usage:\n {2}turku-timers install/);
    expect(await installPrograms(host, ['turku-timers', 'turku-update-config'])).toEqual([]);
  });

  it("copies a packed charm's workload and bundled Node out of the charm directory, again only after an upgrade", async () => {
    const root = await tempRoot();
    const charmDir = join(root, 'var/lib/juju/agents/unit-turku-storage-0/charm');
    await mkdir(join(charmDir, 'workload'), { recursive: true });
    const node = join(charmDir, 'node', debianArch(), 'bin', 'node');
    await mkdir(dirname(node), { recursive: true });
    await writeFile(join(charmDir, 'workload/turku-timers.cjs'), "process.stdout.write('timers v1\\n');\n");
    await writeFile(node, `#!/bin/sh\nexec ${process.execPath} "$@"\n`, { mode: 0o700 });
    const host = hostAt(root, workloadAt(join(charmDir, 'workload'), { packed: true, node }));

    expect(await installPrograms(host, ['turku-timers'])).toEqual(['turku-timers']);
    const copy = join(root, 'usr/local/lib/turku/unit-turku-storage-0');
    const wrapper = join(root, 'usr/local/bin/turku-timers');
    expect(await readFile(wrapper, 'utf8')).toContain(`exec '${copy}/node' '${copy}/workload/turku-timers.cjs' "$@"`);
    expect((await runProgram([wrapper])).stdout).toBe('timers v1\n');
    expect((await stat(join(copy, 'node'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(copy, 'workload/turku-timers.cjs'))).mode & 0o777).toBe(0o644);

    expect(await installPrograms(host, ['turku-timers'])).toEqual([]);
    await writeFile(join(charmDir, 'workload/turku-timers.cjs'), "process.stdout.write('timers v2 (upgraded)\\n');\n");
    expect(await installPrograms(host, ['turku-timers'])).toEqual([]);
    expect((await runProgram([wrapper])).stdout).toBe('timers v2 (upgraded)\n');
  });

  it('installs and removes the agent jobs inside the unit root (cron without systemd)', async () => {
    const root = await tempRoot();
    const host = hostAt(root, checkoutWorkload());
    await installPrograms(host, ['turku-agent-ping', 'turku-update-config']);
    await installTimers(host, 'agent', host.path('/etc/turku-agent'));
    const cron = await readFile(join(root, 'etc/cron.d/turku-agent'), 'utf8');
    expect(cron).toContain('/usr/local/bin/turku-agent-ping --config-dir /etc/turku-agent');
    expect(cron).not.toContain(root);
    await removeTimers(host, 'agent');
    expect(existsSync(join(root, 'etc/cron.d/turku-agent'))).toBe(false);
  });
});

describe('supervised services (no systemd)', () => {
  it('starts once, keeps running while unchanged, restarts on a new fingerprint or after dying, and stops', async () => {
    const root = await tempRoot();
    const host = hostAt(root, checkoutWorkload());
    const marker = join(root, 'started');
    await writeFile(
      join(root, 'svc.js'),
      `require('fs').appendFileSync(${JSON.stringify(marker)}, 'x'); setInterval(() => {}, 1000);`,
    );
    const spec = {
      name: 'demo',
      description: 'demo',
      argv: [process.execPath, join(root, 'svc.js')],
      fingerprint: 'a',
    };

    const first = await ensureService(host, spec);
    expect(first).toMatchObject({ running: true, manager: 'supervised', restarted: true });
    await until(() => existsSync(marker));
    const again = await ensureService(host, spec);
    expect(again).toMatchObject({ restarted: false, pid: first.pid });

    const changed = await ensureService(host, { ...spec, fingerprint: 'b' });
    expect(changed.restarted).toBe(true);
    expect(changed.pid).not.toBe(first.pid);
    await until(() => !isProcessAlive(first.pid!));
    await until(async () => (await readFile(marker, 'utf8')) === 'xx');

    process.kill(changed.pid!, 'SIGKILL');
    await until(() => !isProcessAlive(changed.pid!));
    const revived = await ensureService(host, { ...spec, fingerprint: 'b' });
    expect(revived.restarted).toBe(true);
    await until(async () => (await readFile(marker, 'utf8')) === 'xxx');

    await stopService(host, 'demo');
    await until(() => !isProcessAlive(revived.pid!));
    expect(await readdir(join(root, 'run'))).toEqual([]);
  }, 30_000);

  it('says which program is missing when the service cannot start', async () => {
    const host = hostAt(await tempRoot(), workloadAt('/nonexistent', { packed: true, node: process.execPath }));
    await expect(
      ensureService(host, { name: 'gone', description: 'x', argv: ['/nonexistent/server'], fingerprint: '' }),
    ).rejects.toThrow('cannot start gone: /nonexistent/server not found');
  });
});
