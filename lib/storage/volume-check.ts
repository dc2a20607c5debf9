import { realpath, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

import { highWaterOf, type StorageSettings } from './settings.js';

/**
 * The volume a machine directory is on, and the space check made before each pull: a volume over
 * its high-water mark is named in the source's result. The pull goes ahead all the same (see
 * docs/datapath.md, "A full volume"): the mark decides where new machines go, the room above it is
 * there for the machines already on the volume, and only the pull tells whether the data fits.
 */

export interface MachineVolume {
  /** The configured volume path (or the machine directory's parent if it is on none). */
  readonly path: string;
  readonly highWaterPct: number;
}

export async function machineVolume(settings: StorageSettings, machineDir: string): Promise<MachineVolume> {
  const real = await realpath(machineDir).catch(() => machineDir);
  for (const volume of Object.values(settings.volumes)) {
    const root = await realpath(volume.path).catch(() => undefined);
    if (root !== undefined && (real === root || real.startsWith(`${root}/`))) {
      return { path: volume.path, highWaterPct: highWaterOf(settings, volume) };
    }
  }
  return { path: dirname(real), highWaterPct: settings.accept_new_high_water_pct };
}

/** Percent of the filesystem in use, as volumes.ts measures it for the space report. */
export async function usedPercent(path: string): Promise<number> {
  const fs = await statfs(path);
  return fs.blocks === 0 ? 0 : (1 - fs.bavail / fs.blocks) * 100;
}

/** `Warning: volume … is 97% full (high-water mark 80%); pulling anyway⏎`, or '' under the mark. */
export function spaceWarning(volume: MachineVolume, pctUsed: number): string {
  if (pctUsed <= volume.highWaterPct) return '';
  const shown = Math.round(pctUsed) > volume.highWaterPct ? String(Math.round(pctUsed)) : pctUsed.toFixed(1);
  return `Warning: volume ${volume.path} is ${shown}% full (high-water mark ${volume.highWaterPct}%); pulling anyway\n`;
}
