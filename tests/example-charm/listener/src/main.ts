// The bundle's entry point (dist/charm.cjs; CommonJS has no top-level await, main sets the exit code): run the charm for this hook or action.
import { main } from '../../../../lib/charm/index.js';
import { listener } from './charm.js';

void main(listener);
