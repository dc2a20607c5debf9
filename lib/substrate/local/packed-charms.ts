// The packed charms (`npm run pack`) as a unit agent has them: unzipped with their file modes,
// and run through their own `dispatch` as a real process. A small wrapper puts each hook on its
// unit's machine: the machine's network namespace, and TURKU_MACHINE_ROOT for its files.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import JSZip from 'jszip';

import { parseCharmMeta } from '../../charm-pack/charm-meta.js';
import type { SimCharm } from '../../charm-testing/simulator.js';
import { shellQuote } from '../../common/shell-quote.js';

/** Unzips `charmFile` into `dir` once per charm file version (its size and mtime). */
async function unpack(charmFile: string, dir: string): Promise<void> {
  const info = await stat(charmFile);
  const stamp = `${info.size} ${info.mtimeMs}\n`;
  const stampFile = join(dir, '.unpacked-from');
  if ((await readFile(stampFile, 'utf8').catch(() => '')) === stamp) return;
  await rm(dir, { recursive: true, force: true });
  await extractWithModes(await JSZip.loadAsync(await readFile(charmFile)), dir);
  await writeFile(stampFile, stamp);
}

/** Extracts every file entry with its Unix mode (Juju's unpacking keeps them too). */
export async function extractWithModes(zip: JSZip, dir: string): Promise<void> {
  for (const entry of Object.values(zip.files)) {
    if (entry.dir) continue;
    const path = join(dir, entry.name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, await entry.async('nodebuffer'));
    await chmod(path, Number(entry.unixPermissions ?? 0o644) & 0o777);
  }
}

/**
 * A packed charm for the model simulator's process executor. `machinesDir` holds one root per
 * machine (named by machine id, `/` as `-`); `netnsPrefix` + machine id names its namespace.
 */
export async function packedCharm(
  charmFile: string,
  workDir: string,
  machine: { readonly machinesDir: string; readonly netnsPrefix: string },
): Promise<SimCharm> {
  if (!existsSync(charmFile)) throw new Error(`${charmFile} does not exist: run npm run pack first`);
  const name = basename(charmFile, '.charm');
  const charmDir = join(workDir, 'charms', name);
  await unpack(charmFile, charmDir);
  const wrapper = join(workDir, 'dispatch', name);
  await mkdir(dirname(wrapper), { recursive: true });
  await writeFile(
    wrapper,
    [
      '#!/bin/sh',
      '# Runs the charm hook on its unit machine: its network namespace and its root directory.',
      '# Each unit has its own charm directory, as under /var/lib/juju/agents/unit-<app>-<n>/charm.',
      `unit_dir=${shellQuote(join(workDir, 'agents'))}/unit-$(printf %s "$JUJU_UNIT_NAME" | tr / -)`,
      'mkdir -p "$unit_dir" && ln -sfn "$JUJU_CHARM_DIR" "$unit_dir/charm" || exit 1',
      'JUJU_CHARM_DIR="$unit_dir/charm"; CHARM_DIR="$unit_dir/charm"; export JUJU_CHARM_DIR CHARM_DIR',
      'cd "$unit_dir/charm" || exit 1',
      'machine=$(printf %s "$JUJU_MACHINE_ID" | tr / -)',
      `TURKU_MACHINE_ROOT=${shellQuote(machine.machinesDir)}/"$machine"`,
      'export TURKU_MACHINE_ROOT',
      'started=$(date +%s%N)',
      `ip netns exec ${shellQuote(machine.netnsPrefix)}"$machine" "$JUJU_CHARM_DIR/dispatch"`,
      'code=$?',
      // One line per hook, for whoever wonders what the model did and how long it took.
      `printf '%s %s %s exit=%s %sms\n' "$(date -u +%FT%TZ)" "$JUJU_UNIT_NAME" "$JUJU_DISPATCH_PATH" "$code" "$(( ($(date +%s%N) - started) / 1000000 ))" >> ${shellQuote(join(workDir, 'hooks.log'))}`,
      'exit $code',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return {
    meta: parseCharmMeta(await readFile(join(charmDir, 'charmcraft.yaml'), 'utf8')),
    executor: { kind: 'process', dispatch: wrapper, charmDir },
  };
}
