// The bundle's entry point (dist/charm.cjs): run the turku-agent charm for this hook or action.
import { main } from '../../../lib/charm/index.js';
import { unitHost } from '../../../lib/charm-host/index.js';
import { turkuAgentCharm } from './charm.js';

void main(turkuAgentCharm((juju) => unitHost(juju)));
