import { addApplication, addUnit, fixtureModel, toolSession } from '../fixtures.js';
import { type Model } from '../model.js';

function world(): Model {
  const model = fixtureModel();
  addApplication(model, 'api', { endpoints: { registration: 'provides' } });
  addApplication(model, 'store', { units: 0 });
  addUnit(model, 'store', model.units['api/0']!.machine); // same machine as api/0
  return model;
}

describe('ports', () => {
  test('[fidelity 60] opened-ports lists committed ports only', async () => {
    const model = world();
    const { run, session } = toolSession(model, 'api/0');
    await run('open-port', '8080');
    await run('open-port', '1000-2000/udp');
    await run('open-port', 'icmp');
    expect((await run('opened-ports', '--format=json')).stdout).toBe('[]\n');
    session.commit();
    const next = toolSession(model, 'api/0');
    expect((await next.run('opened-ports', '--format=json')).stdout).toBe('["8080/tcp","1000-2000/udp","icmp"]\n');
    expect((await next.run('opened-ports', '--endpoints')).stdout).toBe('8080/tcp (*)\n1000-2000/udp (*)\nicmp (*)\n');
    await next.run('close-port', '8080/tcp');
    next.session.commit();
    expect(model.units['api/0']!.ports).toEqual(['1000-2000/udp', 'icmp']);
  });

  test('[fidelity 60] opening a port another unit on the same machine holds exits 1', async () => {
    const model = world();
    model.units['store/0']!.ports = ['8000-8100/tcp'];
    const { run, session } = toolSession(model, 'api/0');
    expect(await run('open-port', '8080/tcp')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'ERROR cannot open 8080/tcp (unit "api/0"): port range conflicts with 8000-8100/tcp (unit "store/0")\n',
    });
    expect((await run('open-port', '8080/udp')).code).toBe(0);
    session.commit();
    expect(model.units['api/0']!.ports).toEqual(['8080/udp']);
  });

  test('usage errors: no argument, bad port', async () => {
    const { run } = toolSession(world(), 'api/0');
    expect(await run('open-port')).toMatchObject({ code: 2, stderr: 'ERROR no port or range specified\n' });
    expect(await run('open-port', '70000')).toMatchObject({
      code: 2,
      stderr: 'ERROR port must be in the range [1, 65535]; got "70000"\n',
    });
    expect(await run('open-port', '80/sctp')).toMatchObject({
      code: 2,
      stderr: 'ERROR protocol must be "tcp", "udp", or "icmp"; got "sctp"\n',
    });
    expect((await run('close-port', 'http')).code).toBe(2);
  });
});

describe('unit-get and network-get', () => {
  test('unit-get returns the machine address; unknown settings exit 2', async () => {
    const model = world();
    const { run } = toolSession(model, 'api/0');
    const address = model.machines[model.units['api/0']!.machine]!.address;
    expect((await run('unit-get', 'private-address')).stdout).toBe(`${address}\n`);
    expect((await run('unit-get', '--format=json', 'public-address')).stdout).toBe(`"${address}"\n`);
    expect(await run('unit-get', 'foo')).toMatchObject({ code: 2, stderr: 'ERROR unknown setting "foo"\n' });
  });

  test('network-get: full JSON shape, single values, several flags, unknown binding', async () => {
    const model = world();
    const { run } = toolSession(model, 'api/0');
    const address = model.machines[model.units['api/0']!.machine]!.address;
    const full = JSON.parse((await run('network-get', '--format=json', 'registration')).stdout);
    expect(full).toEqual({
      'bind-addresses': [
        {
          'mac-address': expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
          'interface-name': 'eth0',
          addresses: [{ hostname: '', value: address, cidr: expect.stringMatching(/\/24$/) }],
        },
      ],
      'egress-subnets': [`${address}/32`],
      'ingress-addresses': [address],
    });
    expect((await run('network-get', 'registration', '--ingress-address')).stdout).toBe(`${address}\n`);
    expect((await run('network-get', '--format=json', 'registration', '--egress-subnets')).stdout).toBe(
      `["${address}/32"]\n`,
    );
    expect(
      JSON.parse(
        (await run('network-get', '--format=json', 'registration', '--bind-address', '--ingress-address')).stdout,
      ),
    ).toEqual({ 'bind-address': address, 'ingress-address': address });
    expect(await run('network-get', 'foo')).toMatchObject({
      code: 1,
      stderr: 'ERROR no network config found for binding "foo"\n',
    });
  });
});
