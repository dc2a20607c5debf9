// The charm the dispatch benchmark bundles: the runtime's whole dispatch path with a reconcile
// that does nothing, so the measured cost is Node's start-up plus the runtime's own.
import { defineCharm, main } from '../../lib/charm/index.js';

void main(
  defineCharm({
    reconcile: async () => {},
  }),
);
