// The charm's sshd drop-in through the Juju fake, against the real sshd: installed, checked with
// `sshd -t` and `sshd -T`, reread by a running sshd (SIGHUP through its pid file, as on machines
// without systemd), refused without the Include, rolled back when sshd rejects the config, and
// removed with the unit.
import { jest } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

import { isProcessAlive } from '../../../lib/charm-host/index.js';
import { Context, events } from '../../../lib/charm-testing/scenario.js';
import { SSHD_DROP_IN, storageSshdDropIn } from '../../../lib/storage/sshd-settings.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { delay, freePort } from '../../../tests/support/processes.js';
import { storageCharm } from './__tests__/fixtures.js';

jest.setTimeout(60_000);

let roots: MachineRoots;
let context: Context;
const onMachine = (path: string) => roots.path('0', path);
/** The local substrate's stand-in for the ping user: the account running the charm. */
const PING_USER = 'root';

beforeAll(async () => {
  roots = await new MachineRoots().init();
  const charm = await storageCharm(roots);
  context = new Context({ meta: charm.meta, executor: charm.executor });
  await mkdir(onMachine('/etc/ssh'), { recursive: true });
});

afterAll(async () => {
  const pid = Number((await readFile(onMachine('/run/sshd.pid'), 'utf8').catch(() => '')).trim());
  if (pid > 1 && isProcessAlive(pid)) process.kill(pid, 'SIGTERM');
  await roots?.cleanup();
});

/** The machine's main sshd_config: its host key and pid file under the root, then `lines`. */
async function writeMainConfig(lines: readonly string[], port = 22): Promise<string> {
  const file = onMachine('/etc/ssh/sshd_config');
  await writeFile(
    file,
    [
      ...lines,
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${onMachine('/etc/ssh/ssh_host_ed25519_key')}`,
      `PidFile ${onMachine('/run/sshd.pid')}`,
      'UsePAM no',
      'AllowTcpForwarding yes',
      'AllowStreamLocalForwarding yes',
      '',
    ].join('\n'),
  );
  return file;
}
const INCLUDE = () => `Include ${onMachine('/etc/ssh/sshd_config.d')}/*.conf`;

test('a main config without the Include: blocked, naming the line to add', async () => {
  await writeMainConfig([]);
  const out = await context.run(events.install(), {});
  expect(out.state.unitStatus).toEqual({
    status: 'blocked',
    message:
      'sshd: /etc/ssh/sshd_config does not include /etc/ssh/sshd_config.d/*.conf, so ' +
      `${SSHD_DROP_IN} is not applied; add "Include /etc/ssh/sshd_config.d/*.conf" at its top`,
  });
});

test('a config sshd rejects: blocked with its reason, the previous drop-in kept', async () => {
  await writeMainConfig([INCLUDE(), 'NoSuchKeyword yes']);
  await writeFile(onMachine(SSHD_DROP_IN), '# an older drop-in\n');
  const out = await context.run(events.configChanged(), {});
  expect(out.state.unitStatus?.status).toBe('blocked');
  expect(out.state.unitStatus?.message).toMatch(
    /^sshd -t fails with \/etc\/ssh\/sshd_config\.d\/turku-storage\.conf \(the previous one kept\): .*NoSuchKeyword/,
  );
  expect(await readFile(onMachine(SSHD_DROP_IN), 'utf8')).toBe('# an older drop-in\n');
});

test('with the Include: the drop-in is installed, applies to the ping user only, and a running sshd rereads it', async () => {
  const port = await freePort('127.0.0.1');
  const main = await writeMainConfig([INCLUDE()], port);
  const log = onMachine('/var/log/sshd.log');
  await mkdir(onMachine('/var/log'), { recursive: true });
  await mkdir(onMachine('/run'), { recursive: true });
  await execa('/usr/sbin/sshd', ['-f', main, '-E', log]);
  await waitFor(() => existsSync(onMachine('/run/sshd.pid')));

  const out = await context.run(events.install(), {});
  // It goes on to wait for the API: the door is secured.
  expect(out.state.unitStatus).toEqual({ status: 'waiting', message: 'waiting for a turku-api relation' });
  expect(await readFile(onMachine(SSHD_DROP_IN), 'utf8')).toBe(storageSshdDropIn(PING_USER));
  expect(out.logs.map((entry) => entry.message)).toContain(`sshd reloaded with ${SSHD_DROP_IN}`);
  await waitFor(async () => (await readFile(log, 'utf8')).includes('Received SIGHUP'));

  const effective = async (user: string) =>
    (await execa('/usr/sbin/sshd', ['-T', '-f', main, '-C', `user=${user},host=a,addr=192.0.2.9`])).stdout;
  expect(await effective(PING_USER)).toMatch(/^allowstreamlocalforwarding no$/m);
  expect(await effective(PING_USER)).toMatch(/^allowtcpforwarding remote$/m);
  expect(await effective('operator')).toMatch(/^allowstreamlocalforwarding yes$/m);

  // Nothing changed: no second reload.
  const again = await context.run(events.updateStatus(), {});
  expect(again.logs.map((entry) => entry.message)).not.toContain(`sshd reloaded with ${SSHD_DROP_IN}`);
});

test('stop removes the drop-in and has sshd reread its config', async () => {
  const log = onMachine('/var/log/sshd.log');
  const hupsBefore = (await readFile(log, 'utf8')).split('Received SIGHUP').length;
  const out = await context.run(events.stop(), {});
  expect(out.state.unitStatus).toEqual({
    status: 'maintenance',
    message: 'unit is being removed; storage timers and sshd settings removed',
  });
  expect(existsSync(onMachine(SSHD_DROP_IN))).toBe(false);
  await waitFor(async () => (await readFile(log, 'utf8')).split('Received SIGHUP').length > hupsBefore);
});

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await delay(50);
  }
}
