#!/usr/bin/env node
// The README's main job: `npm run demo` (`demo-main.js up`) deploys bundles/turku.yaml on the
// local substrate (LXD machines where it can start LXD, else namespaces) with a sample principal,
// takes a first backup, prints what runs and the next `npx turku-local` commands to try: its
// controller keeps running. `npm run demo:down` (`down`) stops the controller and removes the
// model. A test and demo substrate (lib/substrate/local/driver.ts), not a place to keep backups.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { exitQuietlyWhenStdoutCloses } from '../../common/closed-stdout.js';
import { allActive, completedAction, jsonResult, type ModelStatus, type UnitStatus, unitsOf } from '../driver.js';
import { containerPrefix } from '../lxd/container-names.js';
import { prepareLxdSubstrate } from '../lxd/prepare.js';
import { lxdInstalled, teardownLxdSubstrate } from '../lxd/teardown.js';
import { MACHINE_KINDS, type MachinesKind } from './controller.js';
import { DEFAULT_BASE_DIR, LocalDriver } from './driver.js';
import { table } from './status-table.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const BUNDLE = join(REPO, 'bundles', 'turku.yaml');
const SAMPLE_SOURCE = 'turku-sample-data';

const USAGE = `Usage: demo-main.js up [--model NAME] [--base-dir DIR] [--machines auto|lxd|namespaces]
       demo-main.js down [--model NAME | --all] [--base-dir DIR]

up deploys bundles/turku.yaml with a sample machine on this host's local substrate (root) and
takes a first backup, leaving its controller running for npx turku-local; down stops the
controller and removes a model. The machines are LXD system containers running systemd where
LXD can be started (auto, the default; the first run builds their image), else network
namespaces on this host.`;

const MACHINE_CHOICES = ['auto', ...MACHINE_KINDS] as const;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Each principal unit, then the subordinates beside it (indented), as `juju status` lists them. */
function unitRows(status: ModelStatus): string[][] {
  const byName = (a: UnitStatus, b: UnitStatus) => a.name.localeCompare(b.name, 'en', { numeric: true });
  const units = Object.values(status.units);
  return units
    .filter((unit) => unit.principal === undefined)
    .sort(byName)
    .flatMap((principal) => [
      [principal.name, principal.workload, principal.message],
      ...units
        .filter((unit) => unit.principal === principal.name)
        .sort(byName)
        .map((unit) => [`  ${unit.name}`, unit.workload, unit.message]),
    ]);
}

interface Snapshots {
  machine: string;
  names: Record<string, string>;
  sources: Record<string, Array<{ name: string } | string>>;
}

/** Snapshot names per `storage unit / source`. */
async function snapshots(driver: LocalDriver): Promise<Array<[string, string, string[]]>> {
  const rows: Array<[string, string, string[]]> = [];
  for (const unit of unitsOf(await driver.status(), 'turku-storage')) {
    for (const machine of jsonResult<Snapshots[]>(
      await completedAction(driver, unit.name, 'list-snapshots'),
      'snapshots',
    )) {
      for (const [source, list] of Object.entries(machine.sources)) {
        rows.push([unit.name, source, list.map((entry) => (typeof entry === 'string' ? entry : entry.name))]);
      }
    }
  }
  return rows;
}

/**
 * The machines the demo runs on: LXD where it is installed and starts (its image built on the
 * first run), else namespaces; `auto` says why it fell back.
 */
async function chooseMachines(choice: (typeof MACHINE_CHOICES)[number]): Promise<MachinesKind> {
  if (choice === 'namespaces') return 'namespaces';
  if (!lxdInstalled()) {
    if (choice === 'lxd') throw new Error('LXD is not installed: ./scripts/setup installs it');
    say('Machines: network namespaces on this host (LXD is not installed; ./scripts/setup installs it)');
    return 'namespaces';
  }
  say("Preparing LXD: its daemons, bridge and pool, and the machines' image (built once: about 3 minutes) ...");
  try {
    const prepared = await prepareLxdSubstrate({ log: (line) => say(`  ${line}`) });
    say(`Machines: LXD system containers running systemd, from image ${prepared.image.alias}`);
    return 'lxd';
  } catch (error) {
    if (choice === 'lxd') throw error;
    const reason = error instanceof Error ? error.message : String(error);
    say(`Machines: network namespaces on this host (LXD could not be started: ${reason})`);
    return 'namespaces';
  }
}

async function up(model: string, baseDir: string, choice: (typeof MACHINE_CHOICES)[number]): Promise<void> {
  for (const charm of ['turku-api', 'turku-storage', 'turku-agent', 'turku-sample']) {
    if (!existsSync(join(REPO, 'build', `${charm}.charm`)))
      throw new Error(`build/${charm}.charm is missing: run npm run pack`);
  }
  const started = Date.now();
  const machineKind = await chooseMachines(choice);
  // The controller's clocks run as Juju's and the timers would: update-status and the agents'
  // check-ins every 5 minutes (on LXD, the agents' own systemd timers); the demo runs both once
  // itself where it needs them now.
  const driver = await LocalDriver.create({ model, baseDir, machines: machineKind });
  try {
    const where =
      machineKind === 'lxd' ? `LXD containers ${containerPrefix(model)}*` : `machines under ${driver.modelDir}`;
    say(`Deploying ${BUNDLE} as model ${model} (${where}) ...`);
    await driver.deployBundle(BUNDLE);
    say('Adding turku-sample, a principal with data that publishes its source to the agent ...');
    await driver.deploy(join(REPO, 'build', 'turku-sample.charm'), 'sample');
    await driver.integrate('turku-agent:juju-info', 'sample:juju-info');
    await driver.integrate('turku-agent:backup-sources', 'sample:backup-sources');
    // Juju runs update-status every 5 minutes; an agent that registered before the storages did
    // waits for it.
    await driver.updateStatus();
    await driver.waitUntil((status) => allActive(status), { what: 'every unit active', successes: 1 });

    say(`Taking a first backup of ${SAMPLE_SOURCE} (juju run turku-api/0 backup-now, then the agent's check-in) ...`);
    const machines = jsonResult<Array<{ uuid: string; unit_name: string }>>(
      await completedAction(driver, 'turku-api/0', 'list-machines'),
      'machines',
    );
    const sample = machines.find((machine) => machine.unit_name === 'sample/0');
    if (sample === undefined) throw new Error('sample/0 did not register with the API');
    await completedAction(driver, 'turku-api/0', 'backup-now', { machine: sample.uuid, source: SAMPLE_SOURCE });
    await driver.pingAgents();
    const taken = await snapshots(driver);
    if (!taken.some(([, source, names]) => source === SAMPLE_SOURCE && names.length > 0)) {
      throw new Error(
        `no snapshot of ${SAMPLE_SOURCE} after the check-in: see npx turku-local debug-log, and /var/log/turku-agent on sample/0`,
      );
    }
    await driver.updateStatus();

    const status = await driver.status();
    say('');
    say(table([['UNIT', 'STATUS', 'MESSAGE'], ...unitRows(status)]));
    const sources = jsonResult<Array<Record<string, unknown>>>(
      await completedAction(driver, 'turku-api/0', 'list-sources'),
      'sources',
    );
    say('');
    say(
      table([
        ['MACHINE', 'SOURCE', 'PATH'],
        ...sources.map((source) => [String(source['unit_name']), String(source['name']), String(source['path'])]),
      ]),
    );
    say('');
    say(
      table([
        ['STORAGE', 'SOURCE', 'SNAPSHOTS', 'LAST SNAPSHOT'],
        ...taken.map(([unit, source, names]) => [unit, source, String(names.length), names.at(-1) ?? '-']),
      ]),
    );
    say('');
    const agent = unitsOf(status, 'turku-agent').find((unit) => unit.principal === 'sample/0')?.name ?? 'turku-agent/1';
    // -m after the subcommand, as Juju has it (npx would take a -m before it for itself).
    const cli = (command: string, ...args: string[]) =>
      ['npx turku-local', command, ...(model === 'turku-demo' ? [] : ['-m', model]), ...args].join(' ');
    say('');
    say(
      `Done in ${Math.round((Date.now() - started) / 1000)} s. The model's controller keeps running (pid file, socket`,
    );
    say(
      machineKind === 'lxd'
        ? `and log in ${driver.modelDir}), and so do the machines: LXD containers running systemd. Try:`
        : `and log in ${driver.modelDir}), and so do the API and each machine's sshd. Try:`,
    );
    say('');
    say(`  ${cli('status')}`);
    say(`  ${cli('run', agent, 'restore', `source=${SAMPLE_SOURCE}`, 'target=/var/restore/sample')}`);
    say(`  ${cli('exec', '--unit', 'sample/0', '--', "ls -lR '$MACHINE_ROOT/var/restore/sample'")}`);
    say(`  ${cli('add-unit', 'turku-storage')}`);
    say(`  ${cli('remove-relation', 'turku-agent:backup-sources', 'sample:backup-sources')}`);
    say(`  ${cli('run', 'turku-api/0', 'list-sources')}`);
    say(`  ${cli('ssh', 'sample/0')}`);
    say('');
    const down = model === 'turku-demo' ? 'npm run demo:down' : `npm run demo:down -- --model ${model}`;
    say(`Remove everything (controller, machines, network, files) with: ${down}`);
  } catch (error) {
    await driver.destroy();
    throw error;
  }
  await driver.detach();
}

async function down(baseDir: string, model: string | undefined, all: boolean): Promise<void> {
  const models = all ? await readdir(baseDir).catch(() => [] as string[]) : [model ?? 'turku-demo'];
  for (const name of models) {
    const dir = join(baseDir, name);
    if (!existsSync(dir)) {
      say(`no model ${name} in ${baseDir}`);
      continue;
    }
    await LocalDriver.teardown(dir);
    say(`removed model ${name} (its controller, machines, processes, network and ${dir})`);
  }
  // The LXD substrate's machines, bridge and pool, and the daemons started for them (the image stays).
  for (const line of await teardownLxdSubstrate()) say(`removed LXD ${line}`);
}

async function main(argv: string[]): Promise<void> {
  exitQuietlyWhenStdoutCloses();
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'turku-demo' },
      'base-dir': { type: 'string', default: DEFAULT_BASE_DIR },
      all: { type: 'boolean', default: false },
      machines: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    say(USAGE);
    return;
  }
  if (rest.length > 0 || (command !== 'up' && command !== 'down')) throw new Error(USAGE);
  if (process.getuid?.() !== 0) throw new Error('the local substrate needs root (network namespaces, sshd)');
  const choice = MACHINE_CHOICES.find((known) => known === values.machines);
  if (choice === undefined) throw new Error(`--machines must be one of ${MACHINE_CHOICES.join(', ')}`);
  if (command === 'up') await up(values.model, values['base-dir'], choice);
  else await down(values['base-dir'], values.model, values.all);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`turku-local: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
