import { existsSync } from 'node:fs';
import { readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

import { sortedJson, writeFileAtomic } from '../common/atomic-write.js';
import { UserError, isErrno } from '../common/errors.js';
import { randomAlphanumeric, randomUuid } from '../common/random.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { describeExit, lastLine, runProcess, startProblem, type ProcessResult } from '../common/process.js';
import { sshKeyPath, type AgentSettings } from './settings.js';

/**
 * The agent's local state (docs/datapath.md, "The agent's local state"): its identity and SSH key,
 * generated once and then kept, so an original agent's state is adopted as-is; and the removal of
 * pre-2020 leftovers.
 */

export const IDENTITY_FILE = '10-machine_uuid.json';

export interface Identity {
  readonly machine_uuid: string;
  readonly machine_secret: string;
}

/**
 * The configured identity, or one completed with fresh values and written to
 * `<var_dir>/config.d/10-machine_uuid.json` (sorted keys, 4-space indent, mode 0600). Values
 * already configured (in either layer) are kept.
 */
export async function ensureIdentity(
  settings: Pick<AgentSettings, 'var_dir' | 'machine_uuid' | 'machine_secret'>,
  log: WorkloadLogger,
): Promise<Identity> {
  const { machine_uuid, machine_secret } = settings;
  if (machine_uuid !== undefined && machine_secret !== undefined) return { machine_uuid, machine_secret };
  const identity = {
    machine_secret: machine_secret ?? randomAlphanumeric(30),
    machine_uuid: machine_uuid ?? randomUuid(),
  };
  const file = join(settings.var_dir, 'config.d', IDENTITY_FILE);
  await writeFileAtomic(file, sortedJson(identity), { mode: 0o600 });
  log.info(`Generated the machine identity ${identity.machine_uuid} in ${file}`);
  return identity;
}

/**
 * The public key text, generating the pair with ssh-keygen if `<var_dir>/ssh_key.pub` is
 * missing. A private key left without its `.pub` (an interrupted run) keeps the identity: its
 * public half is derived again rather than replaced.
 */
export async function ensureSshKey(
  settings: Pick<AgentSettings, 'var_dir' | 'ssh_key_type'>,
  log: WorkloadLogger,
): Promise<string> {
  const key = sshKeyPath(settings);
  const pub = `${key}.pub`;
  if (!existsSync(pub)) {
    if (existsSync(key)) {
      const derived = await runKeygen(['ssh-keygen', '-y', '-f', key]);
      if (derived.exitCode !== 0) {
        throw new UserError(
          `Cannot read the private key ${key} (${lastLine(derived.stderr) || describeExit(derived)}); ` +
            'remove it to generate a new key pair',
        );
      }
      await writeFileAtomic(pub, derived.stdout.trim() + '\n', { mode: 0o644 });
      log.warning(`Recreated ${pub} from its private key`);
    } else {
      const generated = await runKeygen([
        'ssh-keygen',
        '-t',
        settings.ssh_key_type,
        '-N',
        '',
        '-C',
        'turku',
        '-f',
        key,
      ]);
      if (generated.exitCode !== 0 || !existsSync(pub)) {
        throw new UserError(`ssh-keygen failed: ${lastLine(generated.stderr) || describeExit(generated)}`);
      }
      log.info(`Generated the SSH key ${key} (${settings.ssh_key_type})`);
    }
  }
  const text = (await readFile(pub, 'utf8')).trim();
  if (text === '') throw new UserError(`${pub} is empty; remove it and ${key} to generate a new key pair`);
  return text;
}

/**
 * Removes what pre-2020 agents left behind: their persistent daemon's config and secrets, the
 * restore credentials, and the per-source credential files (then their directory, if empty).
 * Returns the removed paths.
 */
export async function cleanUpLegacyState(varDir: string, sourceNames: readonly string[]): Promise<string[]> {
  const candidates = [
    join(varDir, 'rsyncd.conf'),
    join(varDir, 'rsyncd.secrets'),
    join(varDir, 'config.d', '10-restore.json'),
    // A name with a slash cannot be a legacy file name; never let it point elsewhere.
    ...sourceNames.filter((name) => !/[/\0]/.test(name)).map((name) => join(varDir, 'sources.d', `10-${name}.json`)),
  ];
  const removed: string[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    await rm(path, { force: true });
    removed.push(path);
  }
  const legacySources = join(varDir, 'sources.d');
  try {
    await rmdir(legacySources);
    removed.push(legacySources);
  } catch (error) {
    if (!isErrno(error, 'ENOENT') && !isErrno(error, 'ENOTEMPTY') && !isErrno(error, 'EEXIST')) throw error;
  }
  return removed;
}

/** ssh-keygen, which must be there: not being able to run it ends the program. */
async function runKeygen(argv: readonly string[]): Promise<ProcessResult> {
  const result = await runProcess(argv);
  if (result.startError !== undefined) throw new Error(`Cannot run ${argv[0]}: ${startProblem(result.startError)}`);
  return result;
}
