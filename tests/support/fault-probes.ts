import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { describeTree } from './trees.js';

/**
 * What the fault tests (tests/e2e/faults.test.ts, probe-agent-faults, probe-storage-faults) look
 * at while a backup runs: the processes of a session, and the snapshots it must leave intact.
 */

/** pids `pgrep` finds (none is not an error). */
export async function pgrep(...args: string[]): Promise<number[]> {
  const found = await execa('pgrep', args, { reject: false });
  return String(found.stdout)
    .split('\n')
    .filter((line) => line !== '')
    .map(Number);
}

/** The storage's forced command (turku-storage-ping) for the storage with this config dir, while a session runs. */
export async function storagePingPid(storageConfigDir: string): Promise<number | undefined> {
  return (await pgrep('-f', `ping-main.js --config-dir ${storageConfigDir} `))[0];
}

/** The rsync that storage's forced command runs. */
export async function storageRsyncPid(storageConfigDir: string): Promise<number | undefined> {
  const ping = await storagePingPid(storageConfigDir);
  return ping === undefined ? undefined : (await pgrep('-P', String(ping), '-x', 'rsync'))[0];
}

/** Every process in a network namespace, with its command line. */
export async function namespaceProcesses(netns: string): Promise<{ pid: number; command: string }[]> {
  const pids = await execa('ip', ['netns', 'pids', netns]);
  const processes = [];
  for (const pid of String(pids.stdout).split('\n').filter(Boolean).map(Number)) {
    const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (command !== '') processes.push({ pid, command: command.replaceAll('\0', ' ').trim() });
  }
  return processes;
}

/** Polls until `predicate` holds; generous by default, as these tests run on busy 2-core machines. */
export async function waitFor(predicate: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A link-dest source's snapshot names, the `latest` target, and each snapshot's content, byte for byte. */
export async function snapshotState(snapshotsDir: string) {
  const names = (await readdir(snapshotsDir))
    .filter((name) => name !== 'latest' && !/\.(json|manifest\.gz)$/.test(name) && !name.startsWith('_delete-'))
    .sort();
  const trees = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await describeTree(join(snapshotsDir, name))] as const)),
  );
  return { names, latest: await readlink(join(snapshotsDir, 'latest')), trees };
}
