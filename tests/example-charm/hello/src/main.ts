// The bundle's entry point (dist/charm.mjs): run the charm for this hook or action.
import { main } from '../../../../lib/charm/index.js';
import { hello } from './charm.js';

await main(hello);
