// bundles/turku.yaml on the local substrate with LXD machines: every unit's hooks run in its own
// system container, so the charms take their systemd paths. Checked with systemctl, as on a cloud
// machine: turku-api's service, the agent's and the storages' timers, and a first backup that
// the agent's timer starts (its schedule shortened by a drop-in, as an operator would, so the test
// need not wait the 15-20 minutes after boot it waits by default). Needs `npm run pack` first.
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import { existsSync } from 'node:fs';

import { allActive, type ModelStatus, unitsOf } from '../../lib/substrate/driver.js';
import { LocalDriver } from '../../lib/substrate/local/driver.js';
import { lxdMachineProvider } from '../../lib/substrate/lxd/model-machines.js';
import {
  BUNDLE,
  EVERY_MINUTE,
  eventually,
  expectActive,
  run,
  SAMPLE_CHARM,
  snapshotsBySource,
  subordinateOn,
} from '../integration/scenarios.js';

jest.setTimeout(20 * 60_000);

let driver: LocalDriver;

beforeAll(async () => {
  if (!existsSync(SAMPLE_CHARM)) throw new Error(`${SAMPLE_CHARM} is missing: run npm run pack first`);
  driver = await LocalDriver.create({ machines: lxdMachineProvider, updateStatusIntervalMs: 60_000 });
});

afterAll(async () => {
  if (process.env['TURKU_KEEP_MODELS'] === '1') await driver?.detach();
  else await driver?.destroy();
});

function machineOf(status: ModelStatus, unit: string): string {
  const machine = status.units[unit]?.machine;
  if (machine === undefined) throw new Error(`no machine for ${unit}`);
  return machine;
}

it('deploys on LXD machines: every unit active, turku-api a systemd service, the timers systemd timers', async () => {
  expect(driver.machinesKind).toBe('lxd');
  await driver.deployBundle(BUNDLE);
  const status = await driver.waitUntil(
    (s) => allActive(s) && unitsOf(s, 'turku-storage').length === 2 && unitsOf(s, 'turku-agent').length === 1,
    { what: 'every unit active', timeoutMs: 15 * 60_000 },
  );
  expectActive(status);
  // Each application on a machine of its own, each machine a container booted by systemd.
  expect(new Set(['turku-api/0', 'turku-storage/0', 'ubuntu/0'].map((u) => machineOf(status, u))).size).toBe(3);
  expect(await run(driver, 'turku-api/0', 'cat /proc/1/comm; systemctl is-active turku-api.service')).toBe(
    'systemd\nactive',
  );
  expect(await run(driver, 'ubuntu/0', 'systemctl list-timers --all --no-legend turku-*')).toMatch(
    /turku-agent-ping\.timer[\s\S]*turku-update-config\.timer|turku-update-config\.timer[\s\S]*turku-agent-ping\.timer/,
  );
  for (const storage of ['turku-storage/0', 'turku-storage/1']) {
    expect(await run(driver, storage, 'systemctl list-timers --all --no-legend "turku-storage-*"')).toMatch(
      /turku-storage-update-config\.timer/,
    );
    expect(await run(driver, storage, 'systemctl is-active ssh.service')).toBe('active');
  }
});

it('backs up a principal published source, the backup started by the agent timer', async () => {
  await driver.deploy(SAMPLE_CHARM, 'sample', { config: { frequency: EVERY_MINUTE } });
  await driver.integrate('turku-agent:juju-info', 'sample:juju-info');
  await driver.integrate('turku-agent:backup-sources', 'sample:backup-sources');
  const status = await driver.waitUntil((s) => allActive(s) && unitsOf(s, 'turku-agent').length === 2, {
    what: 'the sample application and its agent active',
  });
  const agent = subordinateOn(status, 'turku-agent', 'sample/0');
  expect(status.units[agent]?.message).toMatch(/^1 source registered/);
  // The storages check that the tunnel is their session's own as the unprivileged ping account,
  // through the sudo rule the storage charm installs (docs/datapath.md): as on any real machine.
  for (const storage of ['turku-storage/0', 'turku-storage/1']) {
    expect(await run(driver, storage, 'stat -c %a /etc/sudoers.d/turku-storage; id -u turku-ping')).toMatch(
      /^440\n[1-9]\d*$/,
    );
  }
  // An operator's drop-in: the timer fires 5 s after it is (re)started, then every 20 s.
  await run(
    driver,
    'sample/0',
    [
      'set -e',
      'mkdir -p /etc/systemd/system/turku-agent-ping.timer.d',
      'printf "[Timer]\\nOnStartupSec=\\nOnActiveSec=5s\\nOnUnitActiveSec=20s\\nRandomizedDelaySec=0\\n" > /etc/systemd/system/turku-agent-ping.timer.d/test.conf',
      'systemctl daemon-reload',
      'systemctl restart turku-agent-ping.timer',
    ].join('\n'),
  );
  const snapshots = await eventually('a snapshot of the sample data', async () => {
    const found = await snapshotsBySource(driver);
    return found['turku-sample-data']?.length ? found : undefined;
  });
  expect(snapshots['turku-sample-data']!.length).toBeGreaterThan(0);
  // The ping that ran it was the timer's: systemd started turku-agent-ping.service, nothing else did.
  const journal = await run(driver, 'sample/0', 'journalctl -u turku-agent-ping.service --no-pager -o cat | tail -50');
  expect(journal).toMatch(/Started turku-agent-ping\.service|Finished turku-agent-ping\.service/);
});
