import { statfs } from 'node:fs/promises';
import { stat } from 'node:fs/promises';

import { errorMessage } from '../common/errors.js';
import { weightedChoice } from '../turku/weighted-choice.js';
import { highWaterOf, type StorageSettings } from './settings.js';

/**
 * Volumes and the high-water mark (docs/datapath.md, "Volumes"): how much space each volume has,
 * whether it takes new machines, and the storage's space report (each filesystem counted once).
 */

const MIB = 2 ** 20;

export interface VolumeSpace {
  readonly name: string;
  readonly path: string;
  readonly device: number;
  readonly totalMiB: number;
  readonly availableMiB: number;
  readonly pctUsed: number;
  readonly highWaterPct: number;
  /** accept_new and at or under the high-water mark. */
  readonly acceptsNew: boolean;
}

/** Volumes that could be measured; a missing path or an empty filesystem is reported, not fatal. */
export async function measureVolumes(
  settings: StorageSettings,
  onProblem: (message: string) => void,
): Promise<VolumeSpace[]> {
  const measured: VolumeSpace[] = [];
  for (const [name, volume] of Object.entries(settings.volumes)) {
    try {
      const [fs, info] = await Promise.all([statfs(volume.path), stat(volume.path)]);
      const totalMiB = (fs.bsize * fs.blocks) / MIB;
      const availableMiB = (fs.bsize * fs.bavail) / MIB;
      if (!(totalMiB > 0)) {
        onProblem(`Volume "${name}" (${volume.path}) reports no space; skipping it`);
        continue;
      }
      const pctUsed = (1 - availableMiB / totalMiB) * 100;
      measured.push({
        name,
        path: volume.path,
        device: info.dev,
        totalMiB,
        availableMiB,
        pctUsed,
        highWaterPct: highWaterOf(settings, volume),
        acceptsNew: volume.accept_new && pctUsed <= highWaterOf(settings, volume),
      });
    } catch (error) {
      onProblem(`Volume "${name}" (${volume.path}) cannot be measured: ${errorMessage(error)}`);
    }
  }
  return measured;
}

/**
 * What the storage reports to the API, in whole MiB: every filesystem counted once; a volume
 * that takes no new machines adds its total but no available space, lowering the storage's
 * weight for new machines.
 */
export function spaceReport(volumes: readonly VolumeSpace[]): { spaceTotal: number; spaceAvailable: number } {
  const seen = new Map<number, VolumeSpace>();
  for (const volume of volumes) {
    const first = seen.get(volume.device);
    // Two volumes on one filesystem: it is available if either takes new machines.
    if (first === undefined || (!first.acceptsNew && volume.acceptsNew)) seen.set(volume.device, volume);
  }
  let total = 0;
  let available = 0;
  for (const volume of seen.values()) {
    total += volume.totalMiB;
    if (volume.acceptsNew) available += volume.availableMiB;
  }
  return { spaceTotal: Math.floor(total), spaceAvailable: Math.floor(available) };
}

/** A volume for a new machine directory, weighted by available space; undefined if none takes one. */
export function chooseVolume(
  volumes: readonly VolumeSpace[],
  random: () => number = Math.random,
): VolumeSpace | undefined {
  return weightedChoice(
    volumes.filter((volume) => volume.acceptsNew),
    (volume) => volume.availableMiB,
    random,
  );
}

/**
 * [NEW] Volumes over their high-water mark, in words, for the API (the `space_warnings` key of
 * `storage_update_config`, which an original API ignores) and the log: the space report alone
 * only shows such a volume as having no room, not why.
 */
export function spaceWarnings(volumes: readonly VolumeSpace[]): string[] {
  return volumes
    .filter((volume) => volume.pctUsed > volume.highWaterPct)
    .map(
      (volume) =>
        `volume ${volume.name} (${volume.path}) is ${volume.pctUsed.toFixed(1)}% full (high-water mark ` +
        `${volume.highWaterPct}%): it takes no new machines, and backups of machines on it may fail for want of space`,
    );
}
