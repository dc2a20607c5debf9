import { buildAuthorizedKeys } from './authorized-keys.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3nG1wH6lT6Dk5y8Q0tK0c0mYd8x5c7b3X0oS3Q7yZ1 turku';
const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const OPTIONS = 'restrict,port-forwarding,permitlisten="localhost:*"';

test('one forced-command line per machine, after the header and the static part', () => {
  const { text, skipped } = buildAuthorizedKeys({
    file: '/home/turku-ping/.ssh/authorized_keys',
    command: 'turku-storage-ping',
    options: OPTIONS,
    staticText: 'ssh-ed25519 AAAAlocal admin',
    machines: { [UUID]: { unit_name: 'sql/2', ssh_public_key: KEY } },
  });
  expect(skipped).toEqual([]);
  expect(text).toBe(
    '# Automatically generated, please do not edit\n' +
      '# Local additions may be placed in /home/turku-ping/.ssh/authorized_keys.static\n' +
      'ssh-ed25519 AAAAlocal admin\n' +
      `restrict,port-forwarding,permitlisten="localhost:*",command="turku-storage-ping ${UUID}" ${KEY} (sql/2)\n`,
  );
});

test('lines cannot be injected through the UUID, the key or the unit name', () => {
  const { text, skipped } = buildAuthorizedKeys({
    file: '/k',
    command: 'turku-storage-ping',
    options: OPTIONS,
    machines: {
      [UUID]: { unit_name: 'evil\nssh-ed25519 AAAA attacker', ssh_public_key: KEY },
      'ffffffff-ffff-4fff-8fff-ffffffffffff\nssh-rsa AAAA x': { unit_name: 'x', ssh_public_key: KEY },
      '1bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d': { unit_name: 'y', ssh_public_key: `${KEY}\nssh-rsa AAAAB3 evil` },
    },
  });
  expect(text.split('\n').filter((line) => line !== '')).toHaveLength(3);
  expect(text).toContain('(evilssh-ed25519 AAAA attacker)');
  expect(skipped).toHaveLength(2);
});

test('a command with a double quote is refused rather than written', () => {
  expect(() => buildAuthorizedKeys({ file: '/k', command: 'x" ssh', options: OPTIONS, machines: {} })).toThrow(
    'double quotes',
  );
});
