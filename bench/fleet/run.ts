import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';

import { removeTreeWithImmutables } from '../../lib/common/remove-tree.js';
import { backupSlotCount } from '../../lib/storage/backup-slots.js';
import { makeBenchRoot } from '../datapath/world.js';
import { say } from '../harness/lifecycle.js';
import { fileSystemOf, machineInfo, versionOf } from '../harness/machine.js';
import { writeResults } from '../harness/results.js';
import { round } from '../harness/stats.js';
import { createDeployment, type Deployment } from './deployment.js';
import { measureFleet, measureReference, measureSolo, writeSource, type FleetResult } from './measure.js';
import { REFERENCE, report, targets } from './report.js';
import { checkSettings, fleetOutput, fleetSettings, type FleetSettings } from './settings.js';

/**
 * The fleet benchmark (`npm run bench:fleet`, as root; see bench/fleet/README.md): one storage and
 * N agent machines (network namespaces behind one bridge, default 100) with a source of 20 MB of
 * random bytes each. Timed in one run, in this order:
 *   reference - the same bytes copied by bare `rsync -a` over ssh to the storage machine's
 *               ordinary sshd, 8 copies at a time;
 *   one agent - a lone agent's backup, for what one session costs the storage in memory;
 *   the fleet - every agent's source triggered, then every turku-agent-ping started evenly over
 *               BENCH_SPREAD_SECONDS (10 s): the time until the last one ends, failures, and the
 *               storage's peak memory (its sshd's whole process tree) and concurrent rsyncs,
 *               sampled every BENCH_SAMPLE_MS.
 */

async function measure(settings: FleetSettings, root: string): Promise<FleetResult> {
  const sourceOf = (index: number) => join(root, 'data', String(index));
  const start = performance.now();
  // One more agent than the fleet: the lone one, measured alone before the fleet.
  for (let index = 0; index <= settings.agents; index++) writeSource(sourceOf(index), settings);
  say(
    `Wrote ${settings.agents + 1} sources of ${settings.megabytes} MB in ${round((performance.now() - start) / 1000, 1)} s`,
  );
  let deployment: Deployment | undefined;
  try {
    deployment = await createDeployment({ root, agents: settings.agents + 1, slots: settings.slots, sourceOf });
    const fleet = deployment.agents.slice(0, settings.agents);
    const lone = deployment.agents[settings.agents]!;
    say(
      `${deployment.agents.length} agent namespaces on bridge ${deployment.fleet.bridge} (${deployment.fleet.hostAddress}), registered`,
    );
    const reference = await measureReference(deployment, fleet, root, settings);
    say(`Reference: ${reference.seconds} s`);
    const solo = await measureSolo(deployment, lone, settings);
    say(`One agent alone: ${solo.seconds} s`);
    const turku = await measureFleet(deployment, fleet, settings);
    say(`Fleet: ${turku.seconds} s, ${turku.failed} failed`);
    return {
      agents: settings.agents,
      megabytes: settings.megabytes,
      files: settings.files,
      slots: backupSlotCount(settings.slots),
      parallel: settings.parallel,
      spreadSeconds: settings.spreadSeconds,
      reference,
      solo,
      turku,
    };
  } finally {
    await deployment?.close();
    if (deployment !== undefined && settings.storageLogCopy !== undefined) {
      await copyFile(deployment.storageLog, settings.storageLogCopy).catch(() => undefined);
    }
  }
}

async function main(): Promise<void> {
  const settings = fleetSettings();
  checkSettings(settings);
  const output = fleetOutput();
  const started = Date.now();
  const root = await makeBenchRoot();
  let result: FleetResult;
  let fileSystem: string;
  try {
    fileSystem = fileSystemOf(root);
    result = await measure(settings, root);
  } finally {
    // The storage's snapshots carry the immutable flag, which a plain recursive rm cannot pass.
    removeTreeWithImmutables(root);
  }
  const checks = targets(result);
  await writeResults(output, {
    date: new Date().toISOString(),
    node: process.version,
    machine: { ...machineInfo(), fileSystem, rsync: versionOf(['rsync', '--version']), ssh: versionOf(['ssh', '-V']) },
    settings,
    totalSeconds: round((Date.now() - started) / 1000, 1),
    reference: REFERENCE,
    turku:
      'every agent (a network namespace that drops inbound traffic) runs turku-agent-ping with a systemd unit’s ' +
      'environment; the storage’s own sshd runs turku-storage-ping behind the session gate, which pulls in one of ' +
      'max_concurrent_backups slots or answers busy, and the agent comes back when told (docs/datapath.md, ' +
      '"A busy storage").',
    notes: [
      'Memory = the sum of the proportional set sizes (PSS) of the sshd’s whole process tree (listener, session ' +
        'processes, turku-storage-ping, rsync), sampled; the summed resident sets, which count a shared page once ' +
        'per process, are given beside it.',
      'cpu = CPU-seconds summed over cores, from /proc: the storage side (its sshd and everything it ran), the ' +
        'agents (the processes this benchmark started), the API, the benchmark, and the machine’s busy time beside ' +
        'what the wall time offered.',
      'Everything runs on this one machine: agents, storage, API and the sampler share its cores.',
      'The reference runs first, then one agent alone, then the fleet; `sync` before each.',
    ],
    result,
    targets: checks,
  });
  report(result, checks);
  say(`\nTotal ${round((Date.now() - started) / 1000, 1)} s. Results: bench/results/${output}`);
  if (checks.some((check) => !check.pass)) process.exitCode = 1;
}

await main();
