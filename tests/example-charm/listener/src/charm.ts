// The example subordinate: acknowledges the greeting of the related hello application in its
// own unit bag, naming its principal. A refused greeting fails the hook after the write, which
// Juju (and the fake) discards.
import * as z from 'zod/mini';
import { defineCharm } from '../../../../lib/charm/index.js';

export const listener = defineCharm({
  config: z.object({ refuse: z.string() }),
  async reconcile(ctx) {
    const { refuse } = await ctx.config();
    const [relation] = await ctx.tools.relationIds('hello');
    if (relation === undefined) {
      ctx.status.blocked('needs a hello relation');
      return;
    }
    const greeting = (await ctx.tools.relationGet(relation, await ctx.tools.relationRemoteApp(relation), { app: true }))
      .greeting;
    if (greeting === undefined) {
      ctx.status.waiting('waiting for a greeting');
      return;
    }
    const principal = ctx.juju.principalUnit ?? '';
    await ctx.tools.relationSet(relation, { ack: greeting, principal });
    if (greeting === refuse) throw new Error(`refusing the greeting "${greeting}"`);
    ctx.status.active(`heard "${greeting}" on ${principal}`);
  },
});
