// The bundle's entry point (dist/charm.cjs): run the turku-sample charm for this hook.
import { main } from '../../../lib/charm/index.js';
import { turkuSampleCharm } from './charm.js';

void main(turkuSampleCharm(process.env['TURKU_MACHINE_ROOT'] || '/'));
