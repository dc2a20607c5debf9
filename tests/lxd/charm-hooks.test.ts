// A packed charm's hooks in an LXD machine: the model simulator runs turku-api's real `dispatch`
// inside the unit's container (lxc exec), its hook tools reach the simulator through the proxied
// socket, and on a machine that systemd runs the charm installs turku-api as a systemd service.
// Needs `npm run pack` first (npm run test:lxd does not pack; tox -e lxd does).
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { ModelSimulator } from '../../lib/charm-testing/simulator.js';
import { ToolServer } from '../../lib/charm-testing/tool-server.js';
import { LxdModelMachines, prefixOf } from '../../lib/substrate/lxd/model-machines.js';
import { execIn } from '../../lib/substrate/lxd/machine.js';
import { prepareLxdSubstrate } from '../../lib/substrate/lxd/prepare.js';
import { packedCharm } from '../../lib/substrate/local/packed-charms.js';

const API_CHARM = new URL('../../build/turku-api.charm', import.meta.url).pathname;

let tools: ToolServer | undefined;
let machines: LxdModelMachines | undefined;
let modelDir: string;

afterAll(async () => {
  await machines?.destroy();
  await tools?.close();
  if (modelDir !== undefined) await rm(modelDir, { recursive: true, force: true });
});

it('runs turku-api hooks in its machine and the charm makes its API a systemd service there', async () => {
  if (!existsSync(API_CHARM)) throw new Error(`${API_CHARM} is missing: run npm run pack first`);
  const prepared = await prepareLxdSubstrate();
  modelDir = await mkdtemp('/var/tmp/turku-lxd-model-');
  tools = await ToolServer.start();
  const model = `h${process.pid.toString(36)}`;
  const lxdMachines = new LxdModelMachines({
    model,
    image: prepared.image.alias,
    prefix: prefixOf(prepared.resources.gatewayCidr),
    modelDir,
    toolSocket: tools.socketPath,
  });
  machines = lxdMachines;
  const sim = new ModelSimulator({
    name: model,
    toolServer: tools,
    machineAddress: (number) => lxdMachines.address(number),
    prepareMachine: async (machine) => void (await lxdMachines.machine(machine.id, machine.address)),
  });
  const packed = await packedCharm(API_CHARM, modelDir, {
    machinesDir: join(modelDir, 'unused'),
    netnsPrefix: 'unused-',
  });
  await sim.deploy('turku-api', await lxdMachines.charm(packed));
  await sim.settle();

  const unit = sim.model.units['turku-api/0'];
  const errors = sim.model.logs.filter((line) => line.level === 'ERROR' || line.source === 'stderr');
  expect({ status: unit?.workloadStatus.status, errors }).toEqual({ status: 'active', errors: [] });
  const name = lxdMachines.containerName(unit!.machine);
  // The charm's systemd path: a unit file, enabled and active, serving on the unit's address.
  const active = await execIn(name, ['systemctl', 'is-active', 'turku-api.service']);
  expect(active.stdout.trim()).toBe('active');
  const enabled = await execIn(name, ['systemctl', 'is-enabled', 'turku-api.service']);
  expect(enabled.stdout.trim()).toBe('enabled');
  // Served from the machine's own address, as agents on other machines reach it.
  const address = sim.model.machines[unit!.machine]!.address;
  const health = await fetch(`http://${address}:8000/v1/health`);
  expect(health.status).toBeLessThan(500);
  // Its own process tree under systemd, not a child of a hook.
  const unitPid = await execIn(name, ['systemctl', 'show', '-p', 'MainPID', '--value', 'turku-api.service']);
  expect(Number(unitPid.stdout.trim())).toBeGreaterThan(1);
  const hooks = await readFile(join(modelDir, 'hooks.log'), 'utf8');
  expect(hooks).toMatch(/turku-api\/0 hooks\/install exit=0/);
  expect(hooks).toMatch(/turku-api\/0 hooks\/start exit=0/);
}, 900_000);
