// What a run killed with SIGKILL leaves of the LXD substrate, and the next run copes with it: the
// daemons started here are gone, lxcfs's mount stays behind them dead, and the killed run's
// machines keep their fixed addresses in LXD. The next set-up replaces the dead mount; a launch
// at an address a machine still holds names that machine and how to remove it, and leaves no
// half-made machine behind; teardown starts the killed LXD again to empty it.
import { expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { hostRunsSystemd, lxdAnswers, RUN_DIR } from '../../lib/substrate/lxd/daemon.js';
import { AddressTakenError, instancesNamed, launchMachine } from '../../lib/substrate/lxd/machine.js';
import { prefixOf } from '../../lib/substrate/lxd/model-machines.js';
import { prepareLxdSubstrate } from '../../lib/substrate/lxd/prepare.js';
import { teardownLxdSubstrate } from '../../lib/substrate/lxd/teardown.js';
import { isAlive } from '../support/processes.js';

const LXCFS_MOUNT = '/var/lib/lxcfs';

/** SIGKILL to the daemons this project started, as the end of a killed session delivers it. */
async function killDaemons(): Promise<void> {
  for (const name of ['lxd', 'lxcfs']) {
    const pid = Number((await readFile(join(RUN_DIR, `${name}.pid`), 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
    expect(isAlive(pid)).toBe(false);
  }
}

async function statError(path: string): Promise<string | undefined> {
  return stat(path).then(
    () => undefined,
    (error: NodeJS.ErrnoException) => error.code,
  );
}

// Where systemd runs the host, it restarts what dies, and the daemons are not this project's to kill.
(hostRunsSystemd() ? it.skip : it)(
  'a dead lxcfs mount is replaced, a held address is named, a killed LXD is emptied',
  async () => {
    // Started here, by this test or an earlier one of the run: the daemons this project may kill.
    const prepared = await prepareLxdSubstrate();
    expect(['started', 'running']).toContain(prepared.daemon);
    expect(existsSync(join(RUN_DIR, 'lxd.pid')) && existsSync(join(RUN_DIR, 'lxcfs.pid'))).toBe(true);
    const model = `kill${process.pid.toString(36)}`;
    const holder = `turku-${model}-m0`;
    const address = `${prefixOf(prepared.resources.gatewayCidr)}.250`;
    await launchMachine(holder, { image: prepared.image.alias, address });

    await killDaemons();
    expect(await lxdAnswers()).toBe(false);
    expect(await statError(join(LXCFS_MOUNT, 'proc'))).toBe('ENOTCONN');

    // The next set-up: a new lxcfs behind a live mount, and LXD again.
    expect((await prepareLxdSubstrate()).daemon).toBe('started');
    expect(await statError(join(LXCFS_MOUNT, 'proc', 'uptime'))).toBeUndefined();

    // The killed run's machine still holds its address; a new machine asking for it is refused.
    const newcomer = `turku-n${process.pid.toString(36)}-m0`;
    const refused = await launchMachine(newcomer, { image: prepared.image.alias, address }).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(AddressTakenError);
    expect((refused as Error).message).toBe(
      `cannot launch ${newcomer} at ${address}: LXD instance ${holder} already has that address; ` +
        `destroy its model (turku-local destroy-model ${model}) or delete it (lxc delete --force ${holder})`,
    );
    expect(await instancesNamed(newcomer)).toEqual([]);

    // Killed again, teardown brings LXD back to delete the machine, then stops both daemons.
    await killDaemons();
    const removed = await teardownLxdSubstrate();
    expect(removed).toEqual(expect.arrayContaining([`instance ${holder}`, 'daemon lxd', 'daemon lxcfs']));
    expect(await lxdAnswers()).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(/ \/var\/lib\/lxcfs /);
  },
  600_000,
);
