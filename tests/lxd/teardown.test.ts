// `npm run demo:down`'s LXD part: the substrate's machines, profile, bridge and pool go, the
// daemons started by hand stop, and the image stays imported and cached for the next set-up.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

import { lxdAnswers, RUN_DIR } from '../../lib/substrate/lxd/daemon.js';
import { imageFiles, lxdCacheDir } from '../../lib/substrate/lxd/image.js';
import { lxdHas } from '../../lib/substrate/lxd/lxc.js';
import { launchMachine } from '../../lib/substrate/lxd/machine.js';
import { prepareLxdSubstrate } from '../../lib/substrate/lxd/prepare.js';
import { BRIDGE, POOL, PROFILE } from '../../lib/substrate/lxd/resources.js';
import { teardownLxdSubstrate } from '../../lib/substrate/lxd/teardown.js';

/** Processes of the machine (in its LXD cgroups) or of the bridge (its dnsmasq), running now. */
function processesOf(machine: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cgroups = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (
        cgroups.includes(`lxc.payload.${machine}`) ||
        cgroups.includes(`lxc.monitor.${machine}`) ||
        (cmd.startsWith('dnsmasq') && cmd.includes(BRIDGE))
      )
        found.push(`${entry} ${cmd}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

it('removes machines, profile, bridge and pool, stops the daemons it started, keeps the image', async () => {
  const prepared = await prepareLxdSubstrate();
  const name = `turku-t${process.pid.toString(36)}-down`;
  await launchMachine(name, { image: prepared.image.alias });
  const startedHere = existsSync(`${RUN_DIR}/lxd.pid`);
  // The check below can see them: the machine's systemd, sshd and the bridge's dnsmasq.
  expect(processesOf(name).length).toBeGreaterThan(2);

  const removed = await teardownLxdSubstrate();
  expect(removed).toEqual(
    expect.arrayContaining([`instance ${name}`, `profile ${PROFILE}`, `network ${BRIDGE}`, `storage pool ${POOL}`]),
  );
  expect(processesOf(name)).toEqual([]);

  if (startedHere) {
    expect(await lxdAnswers()).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(/ \/var\/lib\/lxcfs /);
    expect(removed).toEqual(expect.arrayContaining(['daemon lxd', 'daemon lxcfs']));
  }
  // The next set-up imports the cached build instead of building it again.
  const files = imageFiles(lxdCacheDir(), prepared.image.alias.replace('turku-debian-12-', ''));
  expect(existsSync(files.rootfs)).toBe(true);
  const again = await prepareLxdSubstrate();
  expect(again.image.action === 'present' || again.image.action === 'imported').toBe(true);
  expect(await lxdHas(`/1.0/networks/${BRIDGE}`)).toBe(true);
  await teardownLxdSubstrate();
}, 900_000);
