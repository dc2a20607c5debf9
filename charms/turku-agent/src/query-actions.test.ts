import { describe, expect, it } from '@jest/globals';

import { queryArgs } from './query-actions.js';

describe('queryArgs', () => {
  it('passes each action’s parameters as turku-agent-ping’s query flags, always with --json', () => {
    expect(queryArgs('/etc/turku-agent', { kind: 'list-snapshots', source: 'etc' })).toEqual([
      '--config-dir',
      '/etc/turku-agent',
      '--list-snapshots',
      'etc',
      '--json',
    ]);
    expect(
      queryArgs('/c', { kind: 'list-files', source: 'etc', snapshot: 'latest', path: 'ssh', limit: 5, storage: 's2' }),
    ).toEqual([
      '--config-dir',
      '/c',
      '--list-files',
      'etc',
      '--json',
      '--restore-storage',
      's2',
      '--snapshot=latest',
      '--limit',
      '5',
      '--path=ssh',
    ]);
    const top = queryArgs('/c', { kind: 'list-files', source: 'etc', snapshot: 'x', path: '', limit: 1000 });
    expect(top.some((arg) => arg.startsWith('--path'))).toBe(false);
    expect(queryArgs('/c', { kind: 'find', source: 'etc', pattern: '-*.conf', limit: 10 })).toEqual([
      '--config-dir',
      '/c',
      '--find',
      'etc',
      '--json',
      '--pattern=-*.conf',
      '--limit',
      '10',
    ]);
  });
});
