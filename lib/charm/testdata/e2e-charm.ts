// The charm exec-dispatch.test.ts packs (bundleCharm + DISPATCH_SCRIPT) and runs as a real
// `dispatch` process: config, relation-set through stdin, a crash, and an action that fails.
import * as z from 'zod/mini';
import { defineCharm, main } from '../index.js';

const charm = defineCharm({
  config: z.object({ port: z.int() }),
  actions: {
    'backup-now': {
      params: z.object({ tag: z.string() }),
      async run(ctx, params) {
        await ctx.setResults({ backup: { tag: params.tag } });
        if (params.tag === 'fail') ctx.fail('tag "fail" refused');
      },
    },
  },
  async reconcile(ctx) {
    const { port } = await ctx.config();
    if (ctx.juju.hookName === 'crash') {
      await ctx.tools.stateSet({ partial: 'yes' });
      throw new Error('crashed on purpose');
    }
    await ctx.tools.relationSet(
      'registration:0',
      { 'api-url': `https://10.0.0.2:${port}/`, note: '-x "quoted" $HOME' },
      { app: true },
    );
    ctx.status.active(`listening on ${port}`);
  },
});

// A CommonJS bundle cannot use top-level await.
void main(charm);
