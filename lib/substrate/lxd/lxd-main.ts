#!/usr/bin/env node
// `npm run lxd -- <command>`: the LXD substrate by hand. `prepare` starts LXD (by hand where
// systemd does not run the host), makes the pool, bridge and profile and builds or imports the
// image; `launch NAME` starts a machine and prints its address and timings; `delete NAME`;
// `down` removes every Turku machine and resource and stops the daemons started here.
import { parseArgs } from 'node:util';

import { exitQuietlyWhenStdoutCloses } from '../../common/closed-stdout.js';
import { deleteMachine, instanceState, launchMachine } from './machine.js';
import { prepareLxdSubstrate } from './prepare.js';
import { teardownLxdSubstrate } from './teardown.js';

const USAGE = `Usage: npm run lxd -- prepare | launch NAME | delete NAME | down`;

const say = (line: string) => void process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<void> {
  exitQuietlyWhenStdoutCloses();
  const { positionals } = parseArgs({ args: argv, allowPositionals: true });
  const [command, name, ...rest] = positionals;
  if (process.getuid?.() !== 0) throw new Error('the LXD substrate needs root');
  if (command === 'prepare' && name === undefined) {
    const prepared = await prepareLxdSubstrate({ log: say });
    say(JSON.stringify(prepared, null, 2));
  } else if (command === 'launch' && name !== undefined && rest.length === 0) {
    const { image } = await prepareLxdSubstrate({ log: say });
    const machine = await launchMachine(name, { image: image.alias });
    const state = await instanceState(name);
    say(JSON.stringify({ ...machine, memoryBytes: state.memory.usage }, null, 2));
  } else if (command === 'delete' && name !== undefined && rest.length === 0) {
    await deleteMachine(name);
  } else if (command === 'down' && name === undefined) {
    for (const line of await teardownLxdSubstrate()) say(`removed ${line}`);
  } else {
    throw new Error(USAGE);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`turku-lxd: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
