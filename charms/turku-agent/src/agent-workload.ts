// Running the real agent programs from the charm: turku-update-config after a change of its
// inputs, and reading the merged sources the way the agent does.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { failureLine, type Host, type RunResult } from '../../../lib/charm-host/index.js';
import { isApiUnreachable } from '../../../lib/common/api-unreachable.js';
import { loadAgentConfig } from '../../../lib/common/config-files.js';
import type { ConfigObject } from '../../../lib/turku/config.js';

/** state-set key: the fingerprint of the inputs turku-update-config last succeeded with. */
export const UPDATE_CONFIG_KEY = 'update-config-inputs';

/**
 * What turku-update-config reads (config.d, sources.d, whether the identity exists yet), hashed.
 * The charm runs it when this changes; the agent's own timer runs it twice a day regardless, so
 * hooks that change nothing (update-status, ...) do not each pay a registration round trip.
 */
export async function updateConfigInputs(configDir: string, varDir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const sub of ['config.d', 'sources.d']) {
    const dir = join(configDir, sub);
    const names = (await readdir(dir).catch(() => [] as string[])).sort();
    for (const name of names) {
      const text = await readFile(join(dir, name), 'utf8').catch(() => '');
      hash.update(`${sub}/${name}\0${text}\0`);
    }
  }
  hash.update(`identity:${existsSync(join(varDir, 'config.d', '10-machine_uuid.json'))}`);
  return hash.digest('hex').slice(0, 32);
}

/**
 * A Turku program's own one-line error: its last `<program>: ...` line (log lines come before
 * it), else the first line of output.
 */
export function programError(program: string, result: RunResult): string {
  const prefix = `${program}: `;
  const lines = `${result.stderr}\n${result.stdout}`.split('\n').map((line) => line.trim());
  const own = lines.filter((line) => line.startsWith(prefix)).at(-1);
  return own?.slice(prefix.length) ?? failureLine(result);
}

/**
 * The API's answer while no storage can take a new machine (docs/api.md, "Storage assignment"): not
 * a fault here.
 */
const NO_STORAGE = 'No storages are currently available';

/**
 * Registers the machine and sends the sources. An API without a storage yet (a bundle deploys
 * the agents and storages side by side) or an API that does not answer yet (a second unit waiting
 * for its database) is something to wait for: it returns that as a message.
 * Any other failure is one line, and the hook fails with it.
 */
export async function runUpdateConfig(host: Host, configDir: string): Promise<{ waiting?: string }> {
  const result = await host.run(host.workload.command('turku-update-config', ['--config-dir', configDir]));
  if (result.exitCode === 0) return {};
  const error = programError('turku-update-config', result);
  if (error.includes(NO_STORAGE)) return { waiting: 'the API has no storage for this machine yet' };
  if (isApiUnreachable(error)) return { waiting: `waiting for the API: ${error}` };
  throw new Error(`turku-update-config failed: ${error}`);
}

/** The sources the agent backs up: every sources.d file merged, entries without path dropped. */
export async function mergedSources(configDir: string): Promise<Record<string, ConfigObject>> {
  return (await loadAgentConfig(configDir)).sources;
}
