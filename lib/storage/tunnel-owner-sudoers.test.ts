import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

import { TUNNEL_OWNER_PROGRAM, tunnelOwnerSudoers } from './tunnel-owner-sudoers.js';

test('the rule allows the one program, as root, without a password and without arguments', () => {
  const text = tunnelOwnerSudoers('turku-ping');
  expect(text.split('\n').filter((line) => line !== '' && !line.startsWith('#'))).toEqual([
    `turku-ping ALL=(root) NOPASSWD: ${TUNNEL_OWNER_PROGRAM} ""`,
  ]);
  expect(TUNNEL_OWNER_PROGRAM).toBe('/usr/local/bin/turku-storage-tunnel-owner');
});

test('names that could change the rule are refused', () => {
  for (const user of ['ALL', 'PING', 'a b', '%sudo', 'x,root', 'x\nroot ALL=(ALL) ALL', '']) {
    expect(() => tunnelOwnerSudoers(user)).toThrow(/not a user name/);
  }
  expect(() => tunnelOwnerSudoers('turku-ping', '/usr/bin/helper *')).toThrow(/not a command path/);
  expect(() => tunnelOwnerSudoers('turku-ping', 'helper')).toThrow(/not a command path/);
});

test("visudo's own parser accepts the rule", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sudoers-'));
  try {
    const file = join(dir, 'turku-storage');
    await writeFile(file, tunnelOwnerSudoers('turku-ping'), { mode: 0o440 });
    const check = await execa('visudo', ['-c', '-f', file], { reject: false });
    expect([check.exitCode, check.stderr]).toEqual([0, '']);
    // And refuses a broken one, so the check can fail.
    await writeFile(file, 'turku-ping ALL=(root NOPASSWD\n', { mode: 0o440 });
    expect((await execa('visudo', ['-c', '-f', file], { reject: false })).exitCode).not.toBe(0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
