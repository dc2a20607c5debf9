// turku-sample: a principal with a little data that publishes it as one Turku source to the
// turku-agent beside it (interface turku-sources). Used by the README's main job and the
// integration scenarios; a model of what an application charm adds to be backed up by Turku.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as z from 'zod/mini';

import { defineCharm } from '../../../lib/charm/index.js';
import { writeSources } from '../../../lib/charm-interfaces/turku-sources.js';

export const SampleConfig = z.object({
  path: z.string().check(z.regex(/^\/\S*$/, 'expected an absolute path')),
  frequency: z.string(),
  retention: z.string(),
});

export const SOURCE_NAME = 'turku-sample-data';

/** The application's data: created once, never overwritten (it is what gets backed up). */
export const SAMPLE_FILES: Readonly<Record<string, string>> = {
  'README.txt': 'Sample data of turku-sample, backed up by Turku.\n',
  'orders/2026-11.csv': 'id,item,quantity\n1,widget,3\n2,gadget,1\n',
  'orders/2026-12.csv': 'id,item,quantity\n3,widget,7\n',
};

/**
 * `machineRoot` is `/` on a machine; tests and the local substrate give each machine a root
 * directory (TURKU_MACHINE_ROOT), and the data and the published path are inside it.
 */
export function turkuSampleCharm(machineRoot: string) {
  return defineCharm({
    config: SampleConfig,
    async reconcile(ctx) {
      const config = await ctx.config();
      const dataDir = join(machineRoot, config.path);
      for (const [name, text] of Object.entries(SAMPLE_FILES)) {
        await mkdir(dirname(join(dataDir, name)), { recursive: true });
        await writeFile(join(dataDir, name), text, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
      }
      // The path as the agent on this machine reads it (inside the unit's root on the local substrate).
      const sources = writeSources({
        [SOURCE_NAME]: { path: dataDir, frequency: config.frequency, retention: config.retention },
      });
      for (const relation of await ctx.tools.relationIds('backup-sources')) {
        await ctx.tools.relationSet(relation, sources);
      }
      ctx.status.active(`data in ${config.path}`);
    },
  });
}
