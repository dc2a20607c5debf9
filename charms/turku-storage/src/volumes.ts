// The storage's volumes: every attached `backups` Juju storage, else one local default.
import { mkdir } from 'node:fs/promises';

import type { HookTools, JujuHookContext } from '../../../lib/charm/index.js';
import type { Host } from '../../../lib/charm-host/index.js';
import { volumeName, type Volume } from './config-files.js';

export const STORAGE_NAME = 'backups';

/**
 * One volume per attached instance, with its Juju location. During `backups-storage-detaching`
 * the leaving instance is still listed: it is left out, so no new machine lands on it.
 */
export async function attachedVolumes(
  tools: HookTools,
  host: Host,
  juju: Pick<JujuHookContext, 'hookName' | 'storage'> | undefined,
  defaultVolume: string,
): Promise<Volume[]> {
  const detaching = juju?.hookName === `${STORAGE_NAME}-storage-detaching` ? juju.storage?.id : undefined;
  const volumes: Volume[] = [];
  for (const id of (await tools.storageList(STORAGE_NAME)).sort()) {
    if (id === detaching) continue;
    const { location } = await tools.storageGet(id);
    volumes.push({ name: volumeName(id), path: host.path(location) });
  }
  if (volumes.length === 0) volumes.push({ name: 'default', path: defaultVolume });
  // Juju mounts attached filesystems; the default (and a test root's "mounts") are plain directories.
  for (const volume of volumes) await mkdir(volume.path, { recursive: true });
  return volumes;
}
