import { describe, expect, it } from '@jest/globals';

import { compilePattern, patternProblem, snapshotPathParts } from './path-pattern.js';

describe('compilePattern', () => {
  it('matches a pattern without "/" against names at any depth', () => {
    const pattern = compilePattern('*.conf');
    expect(pattern).toMatchObject({ prefix: [], maxDepth: Infinity });
    expect(['a.conf', 'etc/a.conf', 'etc/ssh/b.conf'].every((path) => pattern.matches(path))).toBe(true);
    expect(pattern.matches('etc/a.conf.d/x')).toBe(false);
    expect(pattern.matches('etc/.hidden.conf')).toBe(false); // a leading dot, as in a shell
  });

  it('matches a pattern with "/" against the whole path, from the literal directories it starts with', () => {
    const pattern = compilePattern('/etc/ssh/*_config');
    expect(pattern).toMatchObject({ text: 'etc/ssh/*_config', prefix: ['etc', 'ssh'], maxDepth: 3 });
    expect(pattern.matches('etc/ssh/sshd_config')).toBe(true);
    expect(pattern.matches('etc/ssh/x/sshd_config')).toBe(false);
    expect(pattern.matches('other/etc/ssh/sshd_config')).toBe(false);
  });

  it('walks without a depth bound under **', () => {
    const pattern = compilePattern('home/**/.bashrc');
    expect(pattern).toMatchObject({ prefix: ['home'], maxDepth: Infinity });
    expect(pattern.matches('home/ann/.bashrc')).toBe(true);
    expect(pattern.matches('home/ann/deep/er/.bashrc')).toBe(true);
  });

  it('starts a literal path at its directory and stops at its depth', () => {
    expect(compilePattern('etc/passwd/')).toMatchObject({ text: 'etc/passwd', prefix: ['etc'], maxDepth: 2 });
    expect(compilePattern('etc/pass{wd,wd-}')).toMatchObject({ prefix: ['etc'], maxDepth: 2 });
  });
});

describe('patternProblem (the bounds)', () => {
  it.each([
    ['', 'the pattern is empty'],
    ['/', 'the pattern names no path'],
    ['x'.repeat(257), 'the pattern is longer than 256 characters'],
    ['*a*a*a*a*a*a*a*a*', 'the pattern has more than 8 * or ?'],
    ['a\nb', 'the pattern holds control characters'],
    ['../etc/*', 'the pattern must not hold ".."'],
  ])('%j: %s', (pattern, problem) => {
    expect(patternProblem(pattern)).toBe(problem);
    expect(() => compilePattern(pattern)).toThrow(problem);
  });

  it('accepts the longest allowed pattern', () => {
    expect(patternProblem('x'.repeat(256))).toBeUndefined();
  });
});

describe('snapshotPathParts', () => {
  it('gives the components of a path inside the snapshot', () => {
    expect(snapshotPathParts('')).toEqual([]);
    expect(snapshotPathParts('/etc//ssh/./')).toEqual(['etc', 'ssh']);
  });

  it('refuses a way out and control characters', () => {
    expect(snapshotPathParts('etc/../../x')).toBeUndefined();
    expect(snapshotPathParts('..')).toBeUndefined();
    expect(snapshotPathParts('a\0b')).toBeUndefined();
  });
});
