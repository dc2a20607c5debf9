// The charm's sudoers drop-in for a non-root ping account, in a unit root (real visudo, real
// dpkg-query): installed 0440 with the rule from lib/storage/tunnel-owner-sudoers.ts, left alone
// when unchanged, never installed when visudo refuses it, not needed for a root ping account, and
// removed with the unit.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import type { Host } from '../../../lib/charm-host/index.js';
import { SUDOERS_DROP_IN, tunnelOwnerSudoers } from '../../../lib/storage/tunnel-owner-sudoers.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { ensureTunnelOwnerSudo, removeTunnelOwnerSudo } from './sudoers.js';

let roots: MachineRoots;
beforeAll(async () => {
  roots = await new MachineRoots().init();
});
afterAll(() => roots?.cleanup());

const host = () => roots.hostFor({ machineId: '0' });
const PING = { name: 'turku-ping', uid: 995, gid: 995, home: '/var/lib/turku-storage/ping' };

test('a non-root ping account gets the rule, 0440, once; stop removes it', async () => {
  const dropIn = roots.path('0', SUDOERS_DROP_IN);
  expect(await ensureTunnelOwnerSudo(host(), PING)).toEqual({ kind: 'installed', changed: true });
  expect(await readFile(dropIn, 'utf8')).toBe(tunnelOwnerSudoers('turku-ping'));
  expect(await readFile(dropIn, 'utf8')).toContain(
    'turku-ping ALL=(root) NOPASSWD: /usr/local/bin/turku-storage-tunnel-owner ""',
  );
  expect((await stat(dropIn)).mode & 0o777).toBe(0o440);
  expect(await ensureTunnelOwnerSudo(host(), PING)).toEqual({ kind: 'installed', changed: false });
  expect(await removeTunnelOwnerSudo(host())).toBe(true);
  await expect(stat(dropIn)).rejects.toThrow(/ENOENT/);
  expect(await removeTunnelOwnerSudo(host())).toBe(false);
});

test('a root ping account needs no rule', async () => {
  expect(await ensureTunnelOwnerSudo(host(), { ...PING, uid: 0 })).toEqual({ kind: 'not-needed' });
  await expect(stat(roots.path('0', SUDOERS_DROP_IN))).rejects.toThrow(/ENOENT/);
});

test('a rule visudo refuses never goes live, and an installed one stays', async () => {
  const dropIn = roots.path('0', SUDOERS_DROP_IN);
  await writeFile(dropIn, '# the previous rule\n', { mode: 0o440 });
  // A visudo that refuses whatever it is given.
  const fake = roots.path('0', '/fake-bin/visudo');
  await mkdir(dirname(fake), { recursive: true });
  await writeFile(fake, '#!/bin/sh\necho ">>> $4: syntax error near line 3 <<<" >&2\nexit 1\n', { mode: 0o755 });
  const base = host();
  const refusing: Host = {
    ...base,
    run: (argv, options) => base.run(argv[0] === 'visudo' ? [fake, ...argv.slice(1)] : argv, options),
  };
  const outcome = await ensureTunnelOwnerSudo(refusing, PING);
  expect(outcome).toEqual({
    kind: 'blocked',
    problem: expect.stringMatching(/^visudo refuses \/etc\/sudoers\.d\/turku-storage: .*syntax error near line 3/),
  });
  expect(await readFile(dropIn, 'utf8')).toBe('# the previous rule\n');
  await expect(stat(`${dropIn}.new`)).rejects.toThrow(/ENOENT/);
});
