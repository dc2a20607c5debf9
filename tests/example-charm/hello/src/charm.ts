// The example principal: publishes its greeting to listeners (leader, application bag) and
// counts the listener units whose unit bag acknowledges the current greeting.
import * as z from 'zod/mini';
import { type HookTools, defineCharm } from '../../../../lib/charm/index.js';

/** How many listener units, across all `listeners` relations, acknowledged `greeting`. */
async function countAcks(tools: HookTools, greeting: string): Promise<number> {
  let acks = 0;
  for (const relation of await tools.relationIds('listeners')) {
    for (const unit of await tools.relationList(relation)) {
      if ((await tools.relationGet(relation, unit)).ack === greeting) acks += 1;
    }
  }
  return acks;
}

export const hello = defineCharm({
  config: z.object({ greeting: z.string().check(z.minLength(1)) }),
  actions: {
    greet: {
      params: z.object({ name: z.string() }),
      async run(ctx, { name }) {
        const { greeting } = await ctx.config();
        await ctx.setResults({ message: `${greeting}, ${name}`, acks: String(await countAcks(ctx.tools, greeting)) });
      },
    },
  },
  async reconcile(ctx) {
    const { greeting } = await ctx.config();
    const relations = await ctx.tools.relationIds('listeners');
    if (relations.length === 0) {
      ctx.status.waiting('no listeners related');
      return;
    }
    if (await ctx.tools.isLeader()) {
      for (const relation of relations) await ctx.tools.relationSet(relation, { greeting }, { app: true });
    }
    ctx.status.active(`${await countAcks(ctx.tools, greeting)} listeners acknowledged "${greeting}"`);
  },
});
