import { describe, expect, it } from '@jest/globals';

import { normaliseRestorePath, restorePathProblem } from './restore-path.js';

/** docs/datapath.md, "Restoring part of a source". */
describe('restorePathProblem', () => {
  it.each(['etc', 'etc/ssh', 'etc/ssh/sshd_config', '.hidden', 'a..b', '...', 'with space/x'])('accepts %j', (path) => {
    expect(restorePathProblem(path)).toBeUndefined();
  });

  it.each([
    ['', 'it is empty'],
    ['/etc', 'it is absolute; give it relative to the source, e.g. etc/ssh'],
    ['etc//ssh', 'it has an empty component (//, or a trailing /)'],
    ['etc/', 'it has an empty component (//, or a trailing /)'],
    ['..', 'it contains ..'],
    ['etc/../..', 'it contains ..'],
    ['./etc', 'it contains .'],
    ['etc/.', 'it contains .'],
    ['a\0b', 'it contains a NUL character'],
  ])('refuses %j: %s', (path, problem) => {
    expect(restorePathProblem(path)).toBe(problem);
  });
});

describe('normaliseRestorePath', () => {
  it('drops one trailing slash only', () => {
    expect(normaliseRestorePath('etc/ssh/')).toBe('etc/ssh');
    expect(normaliseRestorePath('etc//')).toBe('etc//');
    expect(normaliseRestorePath('/')).toBe('/');
    expect(normaliseRestorePath('etc')).toBe('etc');
  });
});
