import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleError, checkBundleSubordinates, parseBundle } from './bundle.js';

const BUNDLE = `
description: Backup service (test deployment)
default-base: ubuntu@24.04
applications:
  api:
    charm: ./api_amd64.charm
    num_units: 2
    to: ["0", "1"]
    options:
      port: 8080
    constraints: mem=2G
    expose: true
  store:
    charm: ./store_amd64.charm
    num_units: 3
    to: ["lxd:0"]
    storage:
      backups: rootfs,1,10G
  agent:
    charm: ./agent_amd64.charm
    options:
      schedule: "0 * * * *"
machines:
  "0": {constraints: cores=2}
  "1": {}
relations:
  - ["agent:juju-info", "api:juju-info"]
  - ["agent:registration", "api:registration"]
  - ["api:backup", "store:backup"]
`;

describe('parseBundle', () => {
  test('reads applications, placements (short lists repeat the last), machines and relations; local charms resolve against the bundle dir', () => {
    const bundle = parseBundle(BUNDLE, { bundleDir: '/srv/bundles' });
    expect(bundle.defaultBase).toBe('ubuntu@24.04');
    expect(bundle.applications['api']).toEqual({
      name: 'api',
      charm: '/srv/bundles/api_amd64.charm',
      numUnits: 2,
      to: ['0', '1'],
      placement: ['0', '1'],
      options: { port: 8080 },
      storage: {},
      expose: true,
      constraints: 'mem=2G',
    });
    expect(bundle.applications['store']).toMatchObject({
      to: ['lxd:0', 'lxd:0', 'lxd:0'],
      storage: { backups: 'rootfs,1,10G' },
    });
    expect(bundle.applications['agent']).toMatchObject({ numUnits: 0, to: [], expose: false });
    expect(bundle.relations).toEqual([
      ['agent:juju-info', 'api:juju-info'],
      ['agent:registration', 'api:registration'],
      ['api:backup', 'store:backup'],
    ]);
  });

  test('refuses what juju deploy refuses, with its messages', () => {
    const apps = (extra: string): string =>
      `applications:\n  a: {charm: ./a.charm, num_units: 1}\n  b: {charm: ./b.charm, num_units: 1}\n${extra}`;
    expect(() => parseBundle('services:\n  a: {charm: ./a.charm}\n')).toThrow(/services/);
    expect(() => parseBundle(apps('relations:\n  - ["a:x"]\n'))).toThrow('relation ["a:x"] has 1 endpoint(s), not 2');
    expect(() => parseBundle(apps('relations:\n  - ["a:x", "c:y"]\n'))).toThrow(
      'refers to application "c" not defined in this bundle',
    );
    expect(() => parseBundle(apps('relations:\n  - ["a:x", "a:y"]\n'))).toThrow('relates an application to itself');
    expect(() => parseBundle(apps('relations:\n  - ["a:x", "b:y"]\n  - ["b:y", "a:x"]\n'))).toThrow(
      'is defined more than once',
    );
    expect(() =>
      parseBundle(
        'applications:\n  a: {charm: ./a.charm, num_units: 1, to: ["0", "1"]}\nmachines:\n  "0": {}\n  "1": {}\n',
      ),
    ).toThrow('too many units specified in unit placement for application "a"');
    expect(() => parseBundle('applications:\n  a: {charm: ./a.charm, num_units: 1, to: ["3"]}\n')).toThrow(
      'placement "3" refers to a machine not defined in this bundle',
    );
    expect(() => parseBundle('applications:\n  a: {charm: ./a.charm, num_units: 1}\nmachines:\n  "0": {}\n')).toThrow(
      'machine "0" is not referred to by a placement directive',
    );
    expect(() => parseBundle('applications:\n  a: {charm: ./a.charm, num_units: 1, scale: 1}\n')).toThrow(
      /both "num_units" and "scale"/,
    );
    expect(() =>
      parseBundle('series: noble\ndefault-base: ubuntu@24.04\napplications:\n  a: {charm: ./a.charm}\n'),
    ).toThrow(/both "series" and "default-base"/);
  });

  test('subordinates with units or placement are refused', () => {
    const sub = (app: string): boolean => app === 'agent';
    expect(() =>
      checkBundleSubordinates(parseBundle('applications:\n  agent: {charm: ./agent.charm, num_units: 1}\n'), sub),
    ).toThrow(new BundleError('application "agent" is subordinate but has non-zero num_units'));
    expect(() =>
      checkBundleSubordinates(
        parseBundle(
          'applications:\n  api: {charm: ./api.charm, num_units: 1}\n  agent: {charm: ./agent.charm, to: ["api"]}\n',
        ),
        sub,
      ),
    ).toThrow('application "agent" is subordinate but specifies unit placement');
    expect(() => checkBundleSubordinates(parseBundle(BUNDLE), sub)).not.toThrow();
  });

  test('overlays: relations append, a bare application removes it (and its relations), options merge', () => {
    const overlay = `
applications:
  store:
  api:
    options:
      debug: true
relations:
  - ["agent:registration2", "api:registration2"]
`;
    const bundle = parseBundle(BUNDLE, { overlays: [overlay] });
    expect(Object.keys(bundle.applications)).toEqual(['api', 'agent']);
    expect(bundle.applications['api']!.options).toEqual({ port: 8080, debug: true });
    expect(bundle.relations).toEqual([
      ['agent:juju-info', 'api:juju-info'],
      ['agent:registration', 'api:registration'],
      ['agent:registration2', 'api:registration2'],
    ]);
    // A multi-document bundle applies its later documents as overlays.
    const multi = parseBundle(`${BUNDLE}---\napplications:\n  agent:\n`);
    expect(Object.keys(multi.applications)).toEqual(['api', 'store']);
  });

  test('include-file:// and include-base64:// options read files next to the bundle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
    writeFileSync(join(dir, 'motd.txt'), 'hello');
    const bundle = parseBundle(
      'applications:\n  a: {charm: a, options: {motd: "include-file://motd.txt", b64: "include-base64://./motd.txt"}}\n',
      { bundleDir: dir },
    );
    expect(bundle.applications['a']).toMatchObject({
      charm: 'a',
      options: { motd: 'hello', b64: Buffer.from('hello').toString('base64') },
    });
  });
});
