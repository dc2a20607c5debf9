// Everything a launch needs, in order: the daemons, the pool, bridge and profile, the image.
import { type DaemonStart, ensureLxd } from './daemon.js';
import { type EnsuredImage, ensureImage, type ImageOptions } from './image.js';
import { ensureResources, type SubstrateResources } from './resources.js';

export interface PreparedLxd {
  readonly daemon: DaemonStart;
  readonly resources: SubstrateResources;
  readonly image: EnsuredImage;
}

export async function prepareLxdSubstrate(options: ImageOptions = {}): Promise<PreparedLxd> {
  const daemon = await ensureLxd();
  const resources = await ensureResources();
  const image = await ensureImage(options);
  return { daemon, resources, image };
}
