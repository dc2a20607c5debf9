import { describe, expect, it } from '@jest/globals';

import { UsageError } from '../common/errors.js';
import { queryFromFlags } from './queries-cli.js';

describe('queryFromFlags', () => {
  it('asks for nothing without a query flag', () => {
    expect(queryFromFlags({ json: false })).toBeUndefined();
  });

  it('builds each query with its defaults', () => {
    expect(queryFromFlags({ 'list-snapshots': 'etc', 'restore-storage': 'primary' })).toEqual({
      query: { kind: 'list-snapshots', source: 'etc' },
      json: false,
      storage: 'primary',
    });
    expect(queryFromFlags({ 'list-files': 'etc', path: 'ssh', json: true })).toEqual({
      query: { kind: 'list-files', source: 'etc', snapshot: 'latest', path: 'ssh', limit: 1000 },
      json: true,
      storage: undefined,
    });
    expect(queryFromFlags({ find: 'etc', pattern: '*.conf', limit: '20' })?.query).toEqual({
      kind: 'find',
      source: 'etc',
      pattern: '*.conf',
      limit: 20,
    });
  });

  it.each([
    [{ pattern: '*' }, '--pattern goes with --list-snapshots, --list-files or --find'],
    [{ json: true }, '--json goes with --list-snapshots, --list-files or --find'],
    [{ 'list-files': 'etc', find: 'etc' }, '--list-files and --find cannot be used together'],
    [{ find: 'etc' }, '--find expects --pattern GLOB'],
    [{ find: 'etc', pattern: '../x' }, '--pattern: the pattern must not hold ".."'],
    [{ 'list-snapshots': 'etc', path: 'x' }, '--path does not go with --list-snapshots'],
    [{ 'list-files': 'etc', pattern: 'x' }, '--pattern does not go with --list-files'],
    [{ 'list-files': 'etc', limit: '0' }, '--limit expects a whole number from 1 to 10000, not "0"'],
    [{ 'list-files': 'etc', limit: '1e3' }, '--limit expects a whole number from 1 to 10000, not "1e3"'],
    [{ 'list-snapshots': 'etc', restore: true }, '--list-snapshots cannot be used with --restore or --restore-source'],
    [{ 'list-snapshots': '' }, '--list-snapshots expects a source name'],
  ])('%j is a usage error: %s', (flags, message) => {
    expect(() => queryFromFlags(flags)).toThrow(new UsageError(message));
  });
});
