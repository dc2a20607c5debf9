import { describe, expect, it } from '@jest/globals';

import { isSafeSourceName, sourceNameProblem } from './names.js';

/** The one source-name rule the API, the agent and the storage share (docs/api.md, "Source names"). */
describe('sourceNameProblem', () => {
  it.each([
    ['-rf', 'must not start with "-" (rsync would read it as an option)'],
    ['--delete', 'must not start with "-" (rsync would read it as an option)'],
    ['-', 'must not start with "-" (rsync would read it as an option)'],
    ['global', 'must not be "global" (rsync\'s name for its global settings)'],
    ['a  b', 'must not contain two whitespace characters in a row'],
    [' etc', 'must not start or end with whitespace'],
    ['etc ', 'must not start or end with whitespace'],
    ['a/b', 'must not contain "/", "[" or "]"'],
    ['a]b', 'must not contain "/", "[" or "]"'],
    ['[a', 'must not contain "/", "[" or "]"'],
    ['a\nb', 'must not contain control characters'],
    ['a\u0000b', 'must not contain control characters'],
    ['a\tb', 'must not contain control characters'],
    ['.', 'must not be "." or ".."'],
    ['..', 'must not be "." or ".."'],
    ['', 'must be 1-200 characters long'],
    ['x'.repeat(201), 'must be 1-200 characters long'],
    ['etc.snapshots', 'must not end in ".snapshots" or ".borg"'],
    ['etc.borg', 'must not end in ".snapshots" or ".borg"'],
  ])('refuses %j: %s', (name, problem) => {
    expect(sourceNameProblem(name)).toBe(problem);
    expect(isSafeSourceName(name)).toBe(false);
  });

  it.each([
    'etc',
    'my src',
    'x-y',
    'a.b',
    'root-',
    'Global',
    'GLOBAL',
    'Ünïcode',
    '_',
    '1',
    '.hidden',
    'a=b',
    'x'.repeat(200),
  ])('accepts %j, as the original did', (name) => {
    expect(sourceNameProblem(name)).toBeUndefined();
  });
});
