import { spawnSync } from 'node:child_process';
import { execa } from 'execa';

/** The unit project's setup (tests/support/unit-guard.ts) keeps root-only programs out of unit tests. */

test('starting sshd, mount or ip fails at once, naming where such a test belongs', async () => {
  await expect(execa('/usr/sbin/sshd', ['-D'])).rejects.toThrow(/sshd, which needs root: name the test file \*\.e2e/);
  expect(() => spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', '/mnt'])).toThrow(/mount, which needs root/);
  expect(() => spawnSync('ip', ['netns', 'add', 'turku-guard'])).toThrow(/ip, which needs root/);
});

test('configuration checks and ordinary programs still run', () => {
  expect(spawnSync('/usr/sbin/sshd', ['-t', '-f', '/dev/null']).error).toBeUndefined();
  expect(spawnSync('true').status).toBe(0);
});
