import { buildAuthorizedKeys, withListenPorts } from './authorized-keys.js';

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

describe('tunnel port allowances', () => {
  const OTHER = '1c7e2f40-8d1b-4c5e-9a3f-2b6d8e0f1a23';
  const lineOf = (text: string, uuid: string) => text.split('\n').find((line) => line.includes(uuid));

  test('a machine with an allowance may listen on its own ports only; one without keeps the configured line', () => {
    const { text, skipped, withheld } = buildAuthorizedKeys({
      file: '/k',
      command: 'turku-storage-ping',
      options: OPTIONS,
      machines: {
        [UUID]: { unit_name: 'ours/0', ssh_public_key: KEY, tunnel_ports: [50001, 61234, 49152, 65535] },
        [OTHER]: { unit_name: 'original/0', ssh_public_key: KEY },
      },
    });
    expect([skipped, withheld]).toEqual([[], []]);
    expect(lineOf(text, UUID)).toBe(
      'restrict,port-forwarding,permitlisten="localhost:50001",permitlisten="localhost:61234",' +
        'permitlisten="localhost:49152",permitlisten="localhost:65535",' +
        `command="turku-storage-ping ${UUID}" ${KEY} (ours/0)`,
    );
    expect(lineOf(text, OTHER)).toBe(`${OPTIONS},command="turku-storage-ping ${OTHER}" ${KEY} (original/0)`);
  });

  test('without original agent tunnels, a machine without an allowance gets no line, and the log says why', () => {
    const { text, withheld } = buildAuthorizedKeys({
      file: '/k',
      command: 'turku-storage-ping',
      options: OPTIONS,
      originalAgentTunnels: false,
      machines: {
        [UUID]: { unit_name: 'ours/0', ssh_public_key: KEY, tunnel_ports: [50001] },
        [OTHER]: { unit_name: 'original/0', ssh_public_key: KEY },
      },
    });
    expect(lineOf(text, UUID)).toContain('permitlisten="localhost:50001"');
    expect(lineOf(text, OTHER)).toBeUndefined();
    expect(withheld).toEqual([
      `Leaving out machine ${OTHER} (original/0): it has no tunnel port allowance (an original agent, or an API ` +
        'that assigns none) and original_agent_tunnels is false',
    ]);
  });

  test('an unusable allowance skips the machine rather than widen or break its line', () => {
    for (const bad of [[22], [], 'localhost:*', [50001, 50001], ['50001"', 1]]) {
      const { text, skipped } = buildAuthorizedKeys({
        file: '/k',
        command: 'turku-storage-ping',
        options: OPTIONS,
        machines: { [UUID]: { unit_name: 'x', ssh_public_key: KEY, tunnel_ports: bad } },
      });
      expect(lineOf(text, UUID)).toBeUndefined();
      expect(skipped).toEqual([
        expect.stringMatching(new RegExp(`^Skipping machine ${UUID}: its tunnel port allowance`)),
      ]);
    }
  });

  test('configured options keep everything but their permitlisten entries, quoted commas included', () => {
    expect(
      withListenPorts('restrict,from="10.0.0.0/8,192.168.0.0/16",port-forwarding,PermitListen="localhost:*"', [50001]),
    ).toBe('restrict,from="10.0.0.0/8,192.168.0.0/16",port-forwarding,permitlisten="localhost:50001"');
    expect(withListenPorts('', [50001, 50002])).toBe('permitlisten="localhost:50001",permitlisten="localhost:50002"');
  });
});
