// A model made with LXD machines, driven as a user drives it: `turku-local` processes against its
// detached controller. The choice of machines is saved with the model, so a controller killed
// with SIGKILL and started again drives the same containers; `ssh` is a shell in the container;
// destroy-model deletes them. Uses the built CLI (npm run build first).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

import { parseJujuStatus } from '../../lib/substrate/juju-status.js';
import { instancesNamed } from '../../lib/substrate/lxd/machine.js';
import { isAlive } from '../support/processes.js';

const CLI = fileURLToPath(new URL('../../dist/lib/substrate/local/cli-main.js', import.meta.url));
const MODEL = `lxd-ctl-${process.pid.toString(36)}`;
const CONTAINERS = `turku-${MODEL}-m`;

let baseDir: string;

function turkuLocal(...args: string[]) {
  return execa(process.execPath, [CLI, '--base-dir', baseDir, '-m', MODEL, ...args], {
    reject: false,
    stdin: 'ignore',
  });
}

async function units() {
  const result = await turkuLocal('status', '--format', 'json');
  expect(result.stderr).toBe('');
  return parseJujuStatus(JSON.parse(result.stdout)).units;
}

beforeAll(async () => {
  baseDir = await mkdtemp('/var/lib/turku-local-lxd-');
});

afterAll(async () => {
  await turkuLocal('destroy-model', MODEL, '--no-prompt');
  await rm(baseDir, { recursive: true, force: true });
});

it('bootstrap --machines lxd: the saved choice outlives a killed controller; ssh; destroy-model', async () => {
  const bootstrap = await turkuLocal('bootstrap', '--machines', 'lxd');
  expect(bootstrap.exitCode).toBe(0);
  const dir = join(baseDir, MODEL);
  expect(JSON.parse(await readFile(join(dir, 'substrate.json'), 'utf8'))).toMatchObject({ machines: 'lxd' });
  expect((await turkuLocal('bootstrap', '--machines', 'namespaces')).stderr).toMatch(
    /^ERROR model "lxd-ctl-\w+" exists: its machines are chosen when it is created/,
  );

  expect((await turkuLocal('deploy', 'ubuntu')).exitCode).toBe(0);
  expect((await units())['ubuntu/0']).toMatchObject({ workload: 'active', machine: '0' });
  expect(await instancesNamed(CONTAINERS)).toEqual([`${CONTAINERS}0`]);
  const written = await turkuLocal('exec', '--unit', 'ubuntu/0', '--', 'echo kept > /root/mark; cat /proc/1/comm');
  expect(written.stdout.trim()).toBe('systemd');

  const pid = Number(await readFile(join(dir, 'controller.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
  expect((await turkuLocal('bootstrap')).stderr).toMatch(/^Resumed model/);

  // The same container, its files as they were; a further unit gets a container of its own.
  expect((await turkuLocal('exec', '--unit', 'ubuntu/0', '--', 'cat /root/mark')).stdout.trim()).toBe('kept');
  expect((await turkuLocal('add-unit', 'ubuntu')).exitCode).toBe(0);
  const after = await units();
  expect(after['ubuntu/1']).toMatchObject({ workload: 'active', machine: '1' });
  expect((await instancesNamed(CONTAINERS)).sort()).toEqual([`${CONTAINERS}0`, `${CONTAINERS}1`]);

  // ssh: a root shell in the unit's container (its hostname is the container's name).
  const ssh = await turkuLocal('ssh', 'ubuntu/1', 'hostname; id -u; ip -4 -o addr show dev eth0');
  expect(ssh.exitCode).toBe(0);
  expect(ssh.stdout).toMatch(new RegExp(`^${CONTAINERS}1\\n0\\n`));
  expect(ssh.stdout).toContain(after['ubuntu/1']!.address);

  const controller = Number(await readFile(join(dir, 'controller.pid'), 'utf8'));
  expect(await turkuLocal('destroy-model', MODEL, '--no-prompt')).toMatchObject({ exitCode: 0 });
  expect(isAlive(controller)).toBe(false);
  expect(existsSync(dir)).toBe(false);
  expect(await instancesNamed(CONTAINERS)).toEqual([]);
}, 600_000);
