// The bundle's entry point (dist/charm.cjs): run the charm for this hook or action on this unit's machine.
import { main } from '../../../lib/charm/index.js';
import { unitHost } from '../../../lib/charm-host/index.js';
import { turkuStorageCharm } from './charm.js';

void main(turkuStorageCharm((juju) => unitHost(juju)));
