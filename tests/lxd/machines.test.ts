// LXD system containers as the substrate's machines, on the real LXD: systemd boots them as
// PID 1, sshd answers with host keys of each machine's own, files and commands go in, and a
// deleted machine leaves nothing behind. Needs root; builds the image on first run (minutes).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

import { lxc, lxdHas } from '../../lib/substrate/lxd/lxc.js';
import { ensureImage } from '../../lib/substrate/lxd/image.js';
import {
  deleteMachine,
  execIn,
  type LxdMachine,
  launchMachine,
  pushPath,
  pushText,
} from '../../lib/substrate/lxd/machine.js';
import { prepareLxdSubstrate, type PreparedLxd } from '../../lib/substrate/lxd/prepare.js';
import { POOL } from '../../lib/substrate/lxd/resources.js';

const run = `t${process.pid.toString(36)}`;
let prepared: PreparedLxd;
const launched: LxdMachine[] = [];
let work: string;

beforeAll(async () => {
  prepared = await prepareLxdSubstrate({ log: (line) => process.stdout.write(`${line}\n`) });
  work = await mkdtemp(join(tmpdir(), 'turku-lxd-test-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'id')]);
  // Two machines at once, as a deployment starts them.
  launched.push(
    ...(await Promise.all(
      ['a', 'b'].map((suffix) => launchMachine(`turku-${run}-${suffix}`, { image: prepared.image.alias })),
    )),
  );
}, 900_000);

afterAll(async () => {
  for (const machine of launched) await deleteMachine(machine.name);
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('an LXD machine', () => {
  it('boots systemd as PID 1 into a running system with no failed units', async () => {
    for (const machine of launched) {
      expect({ state: machine.systemState, failed: machine.failedUnits }).toEqual({ state: 'running', failed: [] });
      const pid1 = await execIn(machine.name, ['readlink', '/proc/1/exe']);
      expect(pid1.stdout.trim()).toBe('/usr/lib/systemd/systemd');
      const state = await execIn(machine.name, ['systemctl', 'is-system-running']);
      expect(state.stdout.trim()).toBe('running');
      // Named after the instance, by the image's templates.
      expect((await execIn(machine.name, ['hostname'])).stdout.trim()).toBe(machine.name);
    }
  });

  it('answers SSH with host keys and a machine-id of its own, and lets a key holder in', async () => {
    const [a, b] = launched as [LxdMachine, LxdMachine];
    const key = (m: LxdMachine) => execIn(m.name, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub']);
    const machineId = (m: LxdMachine) => execIn(m.name, ['cat', '/etc/machine-id']);
    expect((await key(a)).stdout).toMatch(/^ssh-ed25519 /);
    expect((await key(a)).stdout).not.toBe((await key(b)).stdout);
    expect((await machineId(a)).stdout.trim()).toMatch(/^[0-9a-f]{32}$/);
    expect((await machineId(a)).stdout).not.toBe((await machineId(b)).stdout);

    await pushText(a.name, '/root/.ssh/authorized_keys', await readFile(join(work, 'id.pub'), 'utf8'), 0o600);
    const login = await execa(
      'ssh',
      [
        '-i',
        join(work, 'id'),
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        `UserKnownHostsFile=${join(work, 'known_hosts')}`,
        `root@${a.address}`,
        'cat /proc/1/comm; systemctl is-active ssh.service',
      ],
      { reject: false, stdin: 'ignore' },
    );
    expect({ exit: login.exitCode, out: login.stdout.trim().split('\n') }).toEqual({
      exit: 0,
      out: ['systemd', 'active'],
    });
  });

  it('takes files from the host and runs commands with the environment given', async () => {
    const [a] = launched as [LxdMachine];
    const file = join(work, 'payload');
    await writeFile(file, 'bytes from the host\n');
    await pushPath(a.name, file, '/srv/in/payload');
    const read = await execIn(a.name, ['sh', '-c', 'cat /srv/in/payload; echo "$GREETING"'], {
      env: { GREETING: 'hello' },
    });
    expect(read).toMatchObject({ exitCode: 0, stdout: 'bytes from the host\nhello' });
    // The tools the charms and the workloads call are there.
    const tools = await execIn(a.name, [
      'sh',
      '-c',
      'for t in rsync borg ip ssh-keygen systemctl; do command -v $t; done',
    ]);
    expect(tools.stdout.trim().split('\n')).toHaveLength(5);
    const failing = await execIn(a.name, ['sh', '-c', 'exit 3']);
    expect(failing.exitCode).toBe(3);
  });

  it('is gone with its disk when deleted', async () => {
    const name = `turku-${run}-gone`;
    await launchMachine(name, { image: prepared.image.alias });
    expect(await lxdHas(`/1.0/instances/${name}`)).toBe(true);
    await deleteMachine(name);
    expect(await lxdHas(`/1.0/instances/${name}`)).toBe(false);
    const volumes = JSON.parse(await lxc(['query', `/1.0/storage-pools/${POOL}/volumes`])) as string[];
    expect(volumes.filter((url) => url.includes(name))).toEqual([]);
    expect(existsSync(`/var/lib/lxd/storage-pools/${POOL}/containers/${name}`)).toBe(false);
    // Deleting what is gone already is not an error (a teardown after a failed launch).
    await expect(deleteMachine(name)).resolves.toBeUndefined();
  });
});

describe('the LXD image', () => {
  it('is imported once under its recipe alias, and re-imported from the cache without a rebuild', async () => {
    expect(await ensureImage()).toEqual({ alias: prepared.image.alias, action: 'present' });
    // Machines keep their own copy: the image can go while they run.
    await lxc(['image', 'delete', prepared.image.alias]);
    const again = await ensureImage();
    expect(again).toMatchObject({ alias: prepared.image.alias, action: 'imported' });
    expect(again.buildMs).toBeUndefined();
  });
});
