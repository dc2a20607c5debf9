// The Juju-fake Context the turku-api charm's tests run it in: in-process, on whichever machine
// root the test holds at the time of each run (a test may swap in a fresh machine).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { runCharm } from '../../../../lib/charm/index.js';
import { parseCharmMeta } from '../../../../lib/charm-pack/charm-meta.js';
import { Context } from '../../../../lib/charm-testing/scenario.js';
import type { MachineRoots } from '../../../../tests/support/machines.js';
import { turkuApiCharm } from '../charm.js';

const CHARM_DIR = fileURLToPath(new URL('../..', import.meta.url));
const meta = parseCharmMeta(await readFile(`${CHARM_DIR}/charmcraft.yaml`, 'utf8'));

export function apiCharmContext(currentRoots: () => MachineRoots): Context {
  const charm = turkuApiCharm((juju) => currentRoots().hostFor(juju));
  return new Context({ meta, executor: { kind: 'in-process', run: (io) => runCharm(charm, io) } });
}
