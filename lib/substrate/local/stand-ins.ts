// A charm the local substrate runs in its own process in place of Charmhub's: `ubuntu`, a bare
// machine, is all a principal needs to be for Turku. (The sample principal with data,
// turku-sample, is a real charm under charms/ and runs packed.)
import { defineCharm, runCharm } from '../../charm/index.js';
import { parseCharmMeta } from '../../charm-pack/charm-meta.js';
import type { SimCharm } from '../../charm-testing/simulator.js';

const UBUNTU_META = `name: ubuntu
summary: A pristine Ubuntu machine
description: Stand-in for Charmhub's ubuntu charm on the local substrate.
`;

export function ubuntuStandIn(): SimCharm {
  const definition = defineCharm({
    reconcile(ctx) {
      ctx.status.active('');
      return Promise.resolve();
    },
  });
  return { meta: parseCharmMeta(UBUNTU_META), executor: { kind: 'in-process', run: (io) => runCharm(definition, io) } };
}
