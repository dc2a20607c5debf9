import { describe, expect, it } from '@jest/globals';

import { SourceDescriptor } from '../turku/protocol/descriptor.js';
import { groupByStorage } from './groups.js';

const storage = (name: string) => ({
  name,
  ssh_ping_host: `${name}.example.com`,
  ssh_ping_host_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'],
  ssh_ping_port: 22,
  ssh_ping_user: 'turku-ping',
});
const descriptor = (path: string, storageName: string) =>
  SourceDescriptor.parse({ path, retention: null, storage: storage(storageName) });

describe('groupByStorage', () => {
  it('keeps wanted sources with a storage, grouped and ordered by storage name', () => {
    const descriptors = {
      var: descriptor('/var', 'secondary'),
      home: descriptor('/home', 'primary'),
      etc: descriptor('/etc', 'primary'),
      gone: descriptor('/gone', 'primary'),
      orphan: SourceDescriptor.parse({ path: '/x' }),
    };
    const groups = groupByStorage(descriptors, (name) => name !== 'gone');
    expect(groups.map((group) => [group.storage.name, group.sources])).toEqual([
      ['primary', ['etc', 'home']],
      ['secondary', ['var']],
    ]);
    expect(groups[0]!.storage.ssh_ping_host).toBe('primary.example.com');
  });

  it('gives no groups when nothing is kept', () => {
    expect(groupByStorage({ etc: descriptor('/etc', 'primary') }, () => false)).toEqual([]);
    expect(groupByStorage({}, () => true)).toEqual([]);
  });
});
