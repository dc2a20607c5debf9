// The dispatch benchmark's status-change case: the no-op charm, but its active message comes from
// BENCH_STATUS_MESSAGE, which the benchmark alternates between runs. Every hook then finds a
// status other than the one its status memo remembers and runs `status-set`, the cost a hook pays
// whenever the unit's status really changes (docs/charm-runtime.md, "The status memo").
import { defineCharm, main } from '../../lib/charm/index.js';

void main(
  defineCharm({
    reconcile: (ctx) => Promise.resolve(ctx.status.active(process.env.BENCH_STATUS_MESSAGE ?? '')),
  }),
);
