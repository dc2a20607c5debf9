// The six integration scenarios of issue 7 on the local substrate, its machines network
// namespaces, then LXD system containers running systemd (where LXD is installed), and on a Juju
// controller (only where `juju` is on PATH and a controller answers; otherwise they are reported
// as skipped, with the reason, never as passed). Needs the packed charms: npm run test:integration
// packs them first.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { allActive, type ModelDriver, unitsOf } from '../../lib/substrate/driver.js';
import { JujuDriver } from '../../lib/substrate/juju/driver.js';
import type { MachinesKind } from '../../lib/substrate/local/controller.js';
import { LocalDriver } from '../../lib/substrate/local/driver.js';
import { lxdInstalled } from '../../lib/substrate/lxd/teardown.js';
import type { PostgresServer } from '../support/postgres-server.js';
import { TurkuLocalCli } from './cli-driver.js';
import { postgresqlStandIn, startBridgePostgres } from './postgresql-stand-in.js';
import {
  action,
  apiUrl,
  BUNDLE,
  EVERY_MINUTE,
  eventually,
  expectActive,
  HA_OVERLAY,
  jsonResult,
  type Registered,
  registerMachine,
  run,
  SAMPLE_CHARM,
  snapshotsBySource,
  subordinateOn,
  treeListing,
} from './scenarios.js';

jest.setTimeout(15 * 60_000);

/**
 * TURKU_KEEP_MODELS=1 leaves the models in place for a look after the run
 * (docs/integration.md, "Conventions").
 */
const KEEP_MODELS = process.env['TURKU_KEEP_MODELS'] === '1';

async function finish(driver: ModelDriver | undefined): Promise<void> {
  if (driver === undefined) return;
  if (!KEEP_MODELS) return driver.destroy();
  // A controller in this process stops with it: let go of the model, keep the machines (a
  // detached controller keeps serving it to turku-local).
  if (driver instanceof LocalDriver) await driver.detach();
}

interface Target {
  readonly name: string;
  /** A fresh, empty model. */
  create(options: { withPostgresql: boolean }): Promise<ModelDriver>;
  /**
   * How an operator drives the model after the deploy (scenarios 3-5): on the local substrate
   * the turku-local CLI, as separate processes; on Juju the driver itself (it runs juju).
   */
  operator(driver: ModelDriver): ModelDriver;
  /** Why this target cannot run here (undefined: it can). */
  readonly unavailable?: string;
  /** Its machines run systemd: the charms' services and timers are checked with systemctl. */
  readonly systemd: boolean;
}

/**
 * Local: agents check in every 5 s and update-status runs every minute (Juju: 5 min), so a
 * scenario takes seconds. On LXD machines the agents' own systemd timers check in (every 5 s
 * through the substrate's drop-in), as on a cloud machine.
 */
function localTarget(machines: MachinesKind): Target {
  return {
    name: machines === 'lxd' ? 'local substrate with LXD machines' : 'local substrate',
    systemd: machines === 'lxd',
    operator: (driver) => (driver instanceof LocalDriver ? new TurkuLocalCli(driver) : driver),
    async create({ withPostgresql }) {
      const settings = { agentPingIntervalMs: 5_000, updateStatusIntervalMs: 60_000, machines };
      // Without stand-ins of this process the controller runs detached, as `npm run demo` starts it.
      if (!withPostgresql) return LocalDriver.create(settings);
      let server: PostgresServer | undefined;
      const driver = await LocalDriver.create({
        ...settings,
        standIns: {
          postgresql: (context) => {
            if (server === undefined) throw new Error('this model has no PostgreSQL server');
            return postgresqlStandIn(server, context);
          },
        },
      });
      const dir = await mkdtemp(join(driver.modelDir, 'postgresql-'));
      try {
        // The server runs as `postgres`, which reads its pg_hba.conf here.
        await chmod(dir, 0o755);
        server = await startBridgePostgres(driver.gateway, dir);
      } catch (error) {
        await driver.destroy();
        throw error;
      }
      const started = server;
      const destroy = driver.destroy.bind(driver);
      driver.destroy = async () => {
        await started.stop();
        await destroy();
        await rm(dir, { recursive: true, force: true });
      };
      return driver;
    },
    ...(machines === 'lxd' && !lxdInstalled()
      ? { unavailable: 'LXD is not installed (./scripts/setup installs it)' }
      : {}),
  };
}

const probe = await JujuDriver.probe();
const juju: Target = {
  name: 'Juju controller',
  systemd: true,
  create: () => JujuDriver.createModel(),
  operator: (driver) => driver,
  ...(probe.available ? {} : { unavailable: probe.reason }),
};

for (const target of [localTarget('namespaces'), localTarget('lxd'), juju]) {
  const suite = target.unavailable === undefined ? describe : describe.skip;
  if (target.unavailable !== undefined) {
    // Not run is not passed: jest counts these as skipped, and says why here.
    // eslint-disable-next-line no-console -- the reason belongs in the test output
    console.warn(`Integration scenarios on a ${target.name}: NOT RUN: ${target.unavailable}`);
  }

  suite(`bundles/turku.yaml on a ${target.name}`, () => {
    let driver: ModelDriver;
    beforeAll(async () => {
      driver = await target.create({ withPostgresql: false });
    });
    afterAll(async () => {
      await finish(driver);
    });
    /** Scenarios 3-5: the operator's commands (turku-local on the local substrate). */
    const op = () => target.operator(driver);

    it('1. deploys: every unit reaches active', async () => {
      await driver.deployBundle(BUNDLE);
      const status = await driver.waitUntil(
        (s) => allActive(s) && unitsOf(s, 'turku-storage').length === 2 && unitsOf(s, 'turku-agent').length === 1,
        { what: 'every unit active', timeoutMs: 10 * 60_000 },
      );
      expectActive(status);
      expect(Object.keys(status.units).sort()).toEqual([
        'turku-agent/0',
        'turku-api/0',
        'turku-storage/0',
        'turku-storage/1',
        'ubuntu/0',
      ]);
      if (!target.systemd) return;
      // As on a cloud machine: systemd is PID 1, turku-api its service, the agent's and the
      // storages' schedules its timers, and each storage's sshd its service.
      const api = await run(driver, 'turku-api/0', 'cat /proc/1/comm; systemctl is-active turku-api.service');
      expect(api.trim()).toBe('systemd\nactive');
      expect(await run(driver, 'ubuntu/0', 'systemctl list-timers --all --no-legend "turku-*"')).toMatch(
        /turku-agent-ping\.timer[\s\S]*turku-update-config\.timer|turku-update-config\.timer[\s\S]*turku-agent-ping\.timer/,
      );
      for (const storage of ['turku-storage/0', 'turku-storage/1']) {
        expect(await run(driver, storage, 'systemctl list-timers --all --no-legend "turku-storage-*"')).toMatch(
          /turku-storage-update-config\.timer/,
        );
        expect((await run(driver, storage, 'systemctl is-active ssh.service')).trim()).toBe('active');
        // The tunnel owner check runs as the unprivileged ping account through the charm's sudo rule.
        const sudoRule = await run(driver, storage, 'stat -c %a /etc/sudoers.d/turku-storage; id -u turku-ping');
        expect(sudoRule.trim()).toMatch(/^440\n[1-9]\d*$/);
      }
    });

    it('2. a principal publishing sources and a file in sources.d are both backed up on their storage', async () => {
      await driver.deploy(SAMPLE_CHARM, 'sample', { config: { frequency: EVERY_MINUTE } });
      await driver.integrate('turku-agent:juju-info', 'sample:juju-info');
      await driver.integrate('turku-agent:backup-sources', 'sample:backup-sources');
      // The operator's way: a file in sources.d, then turku-update-config (its timer runs it twice a day).
      await run(
        driver,
        'ubuntu/0',
        [
          'set -e',
          'mkdir -p "$MACHINE_ROOT/srv/notes/deep"',
          'printf "first note\\n" > "$MACHINE_ROOT/srv/notes/a.txt"',
          'printf "deeper\\n" > "$MACHINE_ROOT/srv/notes/deep/b.txt"',
          'chmod 0640 "$MACHINE_ROOT/srv/notes/deep/b.txt"',
          'ln -sf a.txt "$MACHINE_ROOT/srv/notes/link"',
          `printf '{"notes": {"path": "%s", "frequency": "${EVERY_MINUTE}"}}\\n' "$MACHINE_ROOT/srv/notes" > "$MACHINE_ROOT/etc/turku-agent/sources.d/notes.json"`,
          '"$MACHINE_ROOT/usr/local/bin/turku-update-config" --config-dir "$MACHINE_ROOT/etc/turku-agent"',
        ].join('\n'),
      );
      const status = await driver.waitUntil((s) => allActive(s) && unitsOf(s, 'turku-agent').length === 2, {
        what: 'the sample application and its agent active',
      });
      const sampleAgent = subordinateOn(status, 'turku-agent', 'sample/0');
      expect(status.units[sampleAgent]?.message).toMatch(/^1 source registered/);

      const snapshots = await eventually('a snapshot of both sources', async () => {
        const found = await snapshotsBySource(driver);
        return found['turku-sample-data']?.length && found['notes']?.length ? found : undefined;
      });
      // Each source is on the storage the API assigned to its machine.
      const machines = jsonResult<Registered[]>(await action(driver, 'turku-api/0', 'list-machines'), 'machines');
      const storageOf = (unit: string) => machines.find((m) => m.unit_name === unit)?.storage;
      const onStorage = (name: string | null | undefined) => `${String(name).replace(/-(\d+)$/, '/$1')}:`;
      expect(snapshots['turku-sample-data']![0]).toMatch(new RegExp(`^${onStorage(storageOf('sample/0'))}`));
      expect(snapshots['notes']![0]).toMatch(new RegExp(`^${onStorage(storageOf('ubuntu/0'))}`));
      if (!target.systemd) return;
      // The check-ins that started those backups were the agent timer's: systemd ran its service.
      const journal = await run(driver, 'sample/0', 'journalctl -u turku-agent-ping.service --no-pager -o cat');
      expect(journal).toMatch(/Started turku-agent-ping\.service|Finished turku-agent-ping\.service/);
    });

    it('3. add-unit turku-storage: its capacity reaches the API and new machines spread by free space', async () => {
      const [added] = await op().addUnit('turku-storage');
      await op().waitUntil((s) => allActive(s) && s.units[added!] !== undefined, { what: `${added} active` });
      const storages = jsonResult<Array<Record<string, unknown>>>(
        await action(op(), 'turku-api/0', 'list-storages'),
        'storages',
      );
      const fresh = storages.find((s) => s['unit'] === added);
      expect(fresh).toMatchObject({ registered: true });
      expect(Number(fresh!['space-total-mib'])).toBeGreaterThan(0);

      const credential = await action(op(), 'turku-api/0', 'create-registration', {
        type: 'machine_reg',
        name: 'Machine Registrations',
      });
      const url = await apiUrl(op());
      const uuids = new Set<string>();
      for (let i = 0; i < 90; i++) uuids.add(await registerMachine(url, String(credential['secret']), i));
      const machines = jsonResult<Registered[]>(await action(op(), 'turku-api/0', 'list-machines'), 'machines');
      const counts: Record<string, number> = {};
      for (const machine of machines.filter((m) => uuids.has(m.uuid)))
        counts[String(machine.storage)] = (counts[String(machine.storage)] ?? 0) + 1;
      // Weighted by free space: the three volumes share this host's disk, so equal shares,
      // each within four standard deviations of 30.
      expect(Object.keys(counts).sort()).toEqual(['turku-storage-0', 'turku-storage-1', 'turku-storage-2']);
      for (const count of Object.values(counts)) expect(Math.abs(count - 30)).toBeLessThanOrEqual(18);
    });

    it('4. restore brings the data back byte-identical; the restore session gives a working command', async () => {
      const status = await op().status();
      const agent = subordinateOn(status, 'turku-agent', 'sample/0');
      const restored = await action(op(), agent, 'restore', {
        source: 'turku-sample-data',
        snapshot: 'latest',
        target: '/var/restore/sample',
      });
      // The results name the snapshot the storage chose and its time; the output is the totals line.
      expect(restored).toMatchObject({
        source: 'turku-sample-data',
        snapshot: expect.stringMatching(/^turku-sample-data_\d{8}-\d{6}_\w+$/),
        'snapshot-time': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/),
      });
      expect(restored['output']).toMatch(/^Totals: 3 files, \d+ bytes in [\d.]+ s$/);
      const original = await run(op(), 'sample/0', treeListing('$MACHINE_ROOT/srv/turku-sample'));
      expect(original).toMatch(/orders\/2026-11\.csv/);
      expect(await run(op(), 'sample/0', treeListing('$MACHINE_ROOT/var/restore/sample'))).toBe(original);

      // Manual: the session's sample command, run on the storage from the sample `cd`.
      const session = await action(op(), agent, 'restore-session', { timeout: 120 });
      const storageUnit = String(session['storage']).replace(/-(\d+)$/, '/$1');
      const cdPath = String(session['cd']).replace(/^cd /, '');
      await run(
        op(),
        storageUnit,
        `cd "$MACHINE_ROOT${cdPath}" && P=turku-sample-data.snapshots/latest && ${String(session['command'])}`,
      );
      // What was pushed is moved into the target when the session ends (it is staged inside it so
      // the target keeps its mode meanwhile): end it early, as the charm's README says.
      await run(op(), 'sample/0', `kill ${String(session['pid'])}`);
      // The agent names its restore directory as it sees it (on the local substrate, inside the root).
      await eventually(
        'the pushed files in the restore target',
        async () => {
          const listing = await run(op(), 'sample/0', treeListing(String(session['target'])));
          return listing === original ? listing : undefined;
        },
        { timeoutMs: 60_000 },
      );
    });

    it('5. removing backup-sources unpublishes those sources; their snapshots stay', async () => {
      const before = await snapshotsBySource(op());
      await op().removeRelation('turku-agent:backup-sources', 'sample:backup-sources');
      await op().waitUntil((s) => allActive(s), { what: 'every unit active' });
      await run(op(), 'sample/0', 'test ! -e "$MACHINE_ROOT/etc/turku-agent/sources.d/sample.json"');
      const sources = jsonResult<Array<Record<string, unknown>>>(
        await action(op(), 'turku-api/0', 'list-sources'),
        'sources',
      );
      const sample = sources.find((source) => source['unit_name'] === 'sample/0');
      expect(sample).toMatchObject({ name: 'turku-sample-data', published: false });
      const after = await snapshotsBySource(op());
      expect(after['turku-sample-data']).toEqual(expect.arrayContaining(before['turku-sample-data']!));
    });
  });

  suite(`bundles/turku.yaml with turku-ha.yaml on a ${target.name}`, () => {
    let driver: ModelDriver;
    beforeAll(async () => {
      driver = await target.create({ withPostgresql: true });
    });
    afterAll(async () => {
      await finish(driver);
    });

    it('6. two turku-api units over PostgreSQL serve the same agents; removing one loses nothing', async () => {
      await driver.deployBundle(BUNDLE, { overlays: [HA_OVERLAY] });
      // The waits' limits add up to less than the test's (15 min), so that a stuck step fails
      // naming itself, with the model's status and hook errors, not on jest's deadline.
      let status = await driver.waitUntil((s) => allActive(s) && unitsOf(s, 'turku-api').length === 2, {
        what: 'two turku-api units active',
        timeoutMs: 8 * 60_000,
      });
      for (const api of unitsOf(status, 'turku-api')) {
        const machines = jsonResult<Registered[]>(await action(driver, api.name, 'list-machines'), 'machines');
        expect(machines.map((m) => m.unit_name)).toEqual(['ubuntu/0']);
      }
      const leader = unitsOf(status, 'turku-api').find((unit) => unit.leader)!;
      await driver.removeUnit(leader.name);
      status = await driver.waitUntil((s) => allActive(s) && unitsOf(s, 'turku-api').length === 1, {
        what: 'one turku-api unit left, every unit active',
        timeoutMs: 3 * 60_000,
      });
      const [remaining] = unitsOf(status, 'turku-api');
      const machines = jsonResult<Registered[]>(await action(driver, remaining!.name, 'list-machines'), 'machines');
      expect(machines.map((m) => m.unit_name)).toEqual(['ubuntu/0']);
      // Backups go on through the remaining unit.
      await run(
        driver,
        'ubuntu/0',
        [
          'set -e',
          'mkdir -p "$MACHINE_ROOT/srv/ha"',
          'printf "still here\\n" > "$MACHINE_ROOT/srv/ha/a.txt"',
          `printf '{"ha": {"path": "%s", "frequency": "${EVERY_MINUTE}"}}\\n' "$MACHINE_ROOT/srv/ha" > "$MACHINE_ROOT/etc/turku-agent/sources.d/ha.json"`,
          '"$MACHINE_ROOT/usr/local/bin/turku-update-config" --config-dir "$MACHINE_ROOT/etc/turku-agent"',
        ].join('\n'),
      );
      await eventually(
        'a snapshot of the source added after the removal',
        async () => {
          const found = await snapshotsBySource(driver);
          return found['ha']?.length ? found : undefined;
        },
        { timeoutMs: 3 * 60_000 },
      );
    });
  });
}
