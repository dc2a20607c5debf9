import { CharmMetaError, parseCharmMeta, parseCharmMetaFiles } from './charm-meta.js';

const AGENT = `
type: charm
name: agent
title: Backup agent
summary: s
description: d
base: ubuntu@24.04
platforms:
  amd64:
subordinate: true
requires:
  juju-info:
    interface: juju-info
    scope: container
  registration:
    interface: backup-registration
    limit: 1
    optional: false
peers:
  agent-peers:
    interface: agent-peers
provides:
  metrics: prometheus
storage:
  cache:
    type: filesystem
    location: /srv/cache
  disks:
    type: block
    multiple:
      range: 0-
config:
  options:
    schedule:
      type: string
      default: "0 3 * * *"
    port:
      type: int
      default: 8080
    ratio:
      type: float
      default: 1
    verbose:
      type: boolean
    token:
      type: secret
actions:
  backup-now:
    description: Run a backup immediately.
    params:
      tag: {type: string, description: Free-form label}
    required: [tag]
    additionalProperties: false
  list:
    parallel: true
    execution-group: reads
parts:
  charm:
    plugin: dump
`;

const base = (body: string): string => `name: x\nsummary: s\ndescription: d\n${body}`;

describe('parseCharmMeta', () => {
  test('reads the unified charmcraft.yaml: endpoints (short and long form), storage, config and actions', () => {
    const meta = parseCharmMeta(AGENT);
    expect(meta.name).toBe('agent');
    expect(meta.subordinate).toBe(true);
    expect(meta.endpoints).toEqual({
      'juju-info': { role: 'requires', interface: 'juju-info', scope: 'container' },
      registration: { role: 'requires', interface: 'backup-registration', scope: 'global', limit: 1, optional: false },
      'agent-peers': { role: 'peers', interface: 'agent-peers', scope: 'global' },
      metrics: { role: 'provides', interface: 'prometheus', scope: 'global' },
    });
    expect(meta.storage).toEqual({
      cache: { type: 'filesystem', location: '/srv/cache', range: { min: 1, max: 1 } },
      disks: { type: 'block', range: { min: 0, max: null } },
    });
    expect(meta.config).toEqual({
      schedule: { type: 'string', default: '0 3 * * *' },
      port: { type: 'int', default: 8080 },
      ratio: { type: 'float', default: 1 },
      verbose: { type: 'boolean' },
      token: { type: 'secret' },
    });
  });

  test('[fidelity 50] each action becomes a JSON Schema draft 4 object; additionalProperties defaults to true (Juju 3)', () => {
    const meta = parseCharmMeta(AGENT);
    expect(meta.actions['backup-now']).toEqual({
      description: 'Run a backup immediately.',
      parallel: false,
      schema: {
        type: 'object',
        title: 'backup-now',
        description: 'Run a backup immediately.',
        properties: { tag: { type: 'string', description: 'Free-form label' } },
        required: ['tag'],
        additionalProperties: false,
      },
    });
    expect(meta.actions['list']).toEqual({
      parallel: true,
      executionGroup: 'reads',
      schema: { type: 'object', title: 'list', properties: {}, additionalProperties: true },
    });
  });

  test('a subordinate needs a container-scoped requires endpoint', () => {
    expect(() => parseCharmMeta(base('subordinate: true\nrequires:\n  db: pgsql\n'))).toThrow(
      'subordinate charm "x" lacks "requires" relation with container scope',
    );
  });

  test('juju / juju-* endpoint names are reserved except for a subordinate container-scoped requires', () => {
    expect(() => parseCharmMeta(base('provides:\n  juju-info: {interface: juju-info}\n'))).toThrow(
      'charm "x" using a reserved relation name: "juju-info"',
    );
    expect(() => parseCharmMeta(base('requires:\n  juju: {interface: foo}\n'))).toThrow(
      'charm "x" using a reserved relation name: "juju"',
    );
    expect(() => parseCharmMeta(base('requires:\n  juju-info: {interface: juju-info, scope: container}\n'))).toThrow(
      CharmMetaError,
    );
    expect(() => parseCharmMeta(base('provides:\n  info: {interface: juju-thing}\n'))).toThrow(
      'charm "x" relation "info" using a reserved interface: "juju-thing"',
    );
    expect(() => parseCharmMeta(base('provides:\n  db: a\nrequires:\n  db: b\n'))).toThrow(
      'charm "x" using a duplicated relation name: "db"',
    );
  });

  test('config: unknown types, invalid defaults and an options-less file are refused', () => {
    expect(() => parseCharmMeta(base('config:\n  options:\n    x: {type: list}\n'))).toThrow(
      'option "x" has unknown type "list"',
    );
    expect(() => parseCharmMeta(base('config:\n  options:\n    port: {type: int, default: "abc"}\n'))).toThrow(
      'invalid config default: option "port" expected int, got "abc"',
    );
    expect(() => parseCharmMeta(base('config:\n  options:\n    f: {type: boolean, default: 1}\n'))).toThrow(
      /expected boolean/,
    );
    expect(parseCharmMeta(base('config:\n  options:\n    s: {type: string, default: ""}\n')).config).toEqual({
      s: { type: 'string', default: '' },
    });
    expect(parseCharmMeta(base('config:\n  options:\n    s: {description: untyped}\n')).config).toEqual({
      s: { type: 'string', description: 'untyped' },
    });
    expect(() => parseCharmMetaFiles({ metadata: base(''), config: '' })).toThrow(
      'invalid config: empty configuration',
    );
  });

  test('action names, reserved names and $ref are refused', () => {
    expect(() => parseCharmMeta(base('actions:\n  Bad_Name: {}\n'))).toThrow('bad action name Bad_Name');
    expect(() => parseCharmMeta(base('actions:\n  juju-run: {}\n'))).toThrow('bad action name juju-run');
    expect(() => parseCharmMeta(base('actions:\n  a-:\n    {}\n'))).toThrow('bad action name a-');
    expect(() => parseCharmMeta(base('actions:\n  go:\n    params:\n      x: {$ref: "#/y"}\n'))).toThrow(/\$ref/);
  });

  test('storage: location is illegal for block, ranges are parsed and checked', () => {
    expect(() => parseCharmMeta(base('storage:\n  d: {type: block, location: /srv/d}\n'))).toThrow(
      'location may not be specified for "type: block"',
    );
    expect(() =>
      parseCharmMeta(base('storage:\n  d: {type: filesystem, location: /var/lib/juju/storage/d}\n')),
    ).toThrow(/storage directory/);
    const ranges = parseCharmMeta(
      base(
        'storage:\n  a: {type: filesystem, multiple: {range: 2}}\n  b: {type: filesystem, multiple: {range: 1-3}}\n  c: {type: filesystem, multiple: {range: 2+}}\n',
      ),
    ).storage;
    expect([ranges['a']!.range, ranges['b']!.range, ranges['c']!.range]).toEqual([
      { min: 2, max: 2 },
      { min: 1, max: 3 },
      { min: 2, max: null },
    ]);
    expect(() => parseCharmMeta(base('storage:\n  a: {type: filesystem, multiple: {range: 0}}\n'))).toThrow(
      /invalid count range/,
    );
    expect(() => parseCharmMeta(base('storage:\n  a: {type: filesystem, multiple: {range: 3-1}}\n'))).toThrow(
      /invalid count range/,
    );
  });

  test('legacy metadata.yaml + config.yaml + actions.yaml give the same meta', () => {
    const legacy = parseCharmMetaFiles({
      metadata: 'name: api\nsummary: s\ndescription: d\nprovides:\n  registration: backup-registration\n',
      config: 'options:\n  port: {type: int, default: 8080}\n',
      actions: 'ping:\n  description: p\n',
    });
    const unified = parseCharmMeta(
      'type: charm\nname: api\nsummary: s\ndescription: d\nprovides:\n  registration: backup-registration\nconfig:\n  options:\n    port: {type: int, default: 8080}\nactions:\n  ping:\n    description: p\n',
    );
    expect(legacy).toEqual(unified);
    expect(() => parseCharmMeta('summary: no name\n')).toThrow(CharmMetaError);
  });

  test('bases: from base + platforms, from multi-base platforms, or from a packed manifest.yaml', () => {
    expect(parseCharmMeta(AGENT).bases).toEqual([{ name: 'ubuntu', channel: '24.04', architectures: ['amd64'] }]);
    const multi = parseCharmMeta(
      'name: m\nsummary: s\ndescription: d\nplatforms:\n  ubuntu@22.04:amd64:\n  ubuntu@22.04:arm64:\n  ubuntu@20.04:arm64:\n',
    );
    expect(multi.bases).toEqual([
      { name: 'ubuntu', channel: '22.04', architectures: ['amd64', 'arm64'] },
      { name: 'ubuntu', channel: '20.04', architectures: ['arm64'] },
    ]);
    const packed = parseCharmMetaFiles({
      metadata: 'name: m\nsummary: s\ndescription: d\n',
      manifest:
        'bases:\n- {name: ubuntu, channel: "22.04", architectures: [amd64, arm64]}\n- {name: ubuntu, channel: "20.04", architectures: [arm64]}\n',
    });
    expect(packed.bases).toEqual(multi.bases);
    // No base declared: nothing to match (the fake then does not check bases).
    expect(parseCharmMeta('name: m\nsummary: s\ndescription: d\n')).not.toHaveProperty('bases');
    expect(() => parseCharmMeta('name: m\nplatforms:\n  ubuntu@22:amd64:\n')).toThrow(
      new CharmMetaError(
        'invalid charmcraft.yaml: platform "ubuntu@22:amd64" base must look like "ubuntu@24.04", got "ubuntu@22"',
      ),
    );
    expect(() => parseCharmMetaFiles({ metadata: 'name: m\n', manifest: 'bases: {}\n' })).toThrow(
      new CharmMetaError('invalid manifest.yaml: bases must be a list'),
    );
  });
});
