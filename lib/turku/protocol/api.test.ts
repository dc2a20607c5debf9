import fc from 'fast-check';

import {
  AgentPingCheckinRequest,
  AgentPingCheckinResponse,
  AgentPingRestoreResponse,
  HealthResponse,
  MachineLogin,
  StorageLogin,
  StorageUpdateConfigLogin,
  StoragePingCheckinRequest,
  StoragePingCheckinResponse,
  StoragePingSourceUpdateRequest,
  StorageUpdateConfigRequest,
  StorageUpdateConfigResponse,
  UpdateConfigLogin,
  UpdateConfigRequest,
} from './api.js';
import { NewMachineUuid } from './fields.js';
import { formatFirstIssue } from './issues.js';
import { SourceSettings } from './source.js';

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyMaterialForTests0123456789abcdef turku';

/** The first problem, formatted as the API will put it after "Validation error: ". */
function problem(schema: { safeParse(input: unknown): { success: boolean; error?: unknown } }, input: unknown): string {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('accepted');
  return formatFirstIssue(result.error as Parameters<typeof formatFirstIssue>[0]);
}

const registration = (machine: Record<string, unknown>) => ({
  auth: { name: 'Machine Registrations', secret: 'j7FAc9QeWJKY40uvSwMFLZDe1f8rES' },
  machine: {
    uuid: UUID,
    secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL',
    unit_name: 'sql/2',
    ssh_public_key: KEY,
    ...machine,
  },
});

describe('update_config', () => {
  test('accepts a full example and drops unknown keys', () => {
    const request = UpdateConfigRequest.parse(
      registration({
        environment_name: 'prod',
        service_name: 'sql',
        published: true,
        future_key: 1,
        sources: {
          etc: { path: '/etc', username: 'legacy', password: 'legacy' },
          home: {
            path: '/home',
            frequency: 'daily, 0200-0600',
            retention: 'last 7 days, earliest of month',
            exclude: ['*.tmp'],
          },
        },
      }),
    );
    expect(request.machine.sources).toEqual({
      etc: { path: '/etc' },
      home: {
        path: '/home',
        frequency: 'daily, 0200-0600',
        retention: 'last 7 days, earliest of month',
        exclude: ['*.tmp'],
      },
    });
    expect(request.machine).not.toHaveProperty('future_key');
  });

  test('accepts the legacy bare-string auth and a 32-hex UUID, made canonical', () => {
    const request = UpdateConfigRequest.parse({
      ...registration({ uuid: UUID.replaceAll('-', '').toUpperCase() }),
      auth: 'j7FAc9QeWJKY40uvSwMFLZDe1f8rES',
    });
    expect(request.auth).toBe('j7FAc9QeWJKY40uvSwMFLZDe1f8rES');
    expect(request.machine.uuid).toBe(UUID);
  });

  test.each([
    [{}, '"machine" dict required'],
    [{ machine: [] }, '"machine" dict required'],
    [{ machine: { secret: 'x' } }, 'Missing required machine option "uuid"'],
    [{ machine: { uuid: UUID } }, 'Missing required machine option "secret"'],
    [{ machine: { uuid: 'not-a-uuid', secret: 'x' } }, 'Invalid machine UUID'],
    [{ machine: { uuid: UUID, secret: 'x', sources: [] } }, 'Invalid type for "sources"'],
  ])('envelope problems use the original texts: %j', (input, message) => {
    expect(problem(UpdateConfigRequest, input)).toBe(message);
  });

  test.each([
    [
      { home: { frequency: 'daily, 2am' } },
      'source "home": frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)',
    ],
    [{ home: { frequency: 'fortnightly' } }, 'source "home": frequency: unknown period "fortnightly"'],
    [{ etc: { retention: 'earliest of 1 year' } }, 'source "etc": retention: unrecognised clause "earliest of 1 year"'],
    [
      { etc: { retention: 'last 0 snapshots' } },
      'source "etc": retention: count must be at least 1 in "last 0 snapshots"',
    ],
    [{ '../x': { path: '/x' } }, 'source name "../x": must not contain "/", "[" or "]"'],
    [{ '..': { path: '/x' } }, 'source name "..": must not be "." or ".."'],
    [{ 'etc.snapshots': { path: '/x' } }, 'source name "etc.snapshots": must not end in ".snapshots" or ".borg"'],
    [{ ' etc': { path: '/x' } }, 'source name " etc": must not start or end with whitespace'],
    [{ 'a\nb': { path: '/x' } }, 'source name "a\nb": must not contain control characters'],
    [{ etc: { path: '' } }, 'source "etc": path: Too small: expected string to have >=1 characters'],
    [{ etc: { snapshot_mode: 'attic' } }, expect.stringMatching(/^source "etc": snapshot_mode: /)],
    [{ etc: { exclude: ['a\nb'] } }, 'source "etc": exclude.0: must not contain line breaks or NUL'],
    [{ etc: { bwlimit: '10; rm -rf /' } }, 'source "etc": bwlimit: "10; rm -rf /" is not an rsync --bwlimit rate'],
    [
      { etc: { preserve_hard_links: 'yes' } },
      expect.stringMatching(/^source "etc": preserve_hard_links: expected a boolean/),
    ],
  ])('source problems name the source and the key: %j', (sources, message) => {
    expect(problem(UpdateConfigRequest, registration({ sources }))).toEqual(message);
  });

  test('machine fields are one line: no key or name can inject an authorized_keys line', () => {
    expect(problem(UpdateConfigRequest, registration({ ssh_public_key: `${KEY}\nssh-rsa AAAA evil` }))).toBe(
      'machine.ssh_public_key: must be one line "<keytype> <base64> [comment]"',
    );
    expect(problem(UpdateConfigRequest, registration({ unit_name: 'sql/2\nx' }))).toBe(
      'machine.unit_name: must not contain control characters',
    );
  });
});

describe('source settings', () => {
  test("coerce the original's loose types", () => {
    expect(
      SourceSettings.parse({
        bwlimit: 1024,
        snapshot_mode: '',
        preserve_hard_links: 1,
        shared_service: 'true',
        large_rotating_files: 'false',
        large_modifying_files: 0,
      }),
    ).toEqual({
      bwlimit: '1024',
      snapshot_mode: null,
      preserve_hard_links: true,
      shared_service: true,
      large_rotating_files: false,
      large_modifying_files: false,
    });
  });

  test('null means "the default" for frequency and retention, and "" keeps everything', () => {
    expect(SourceSettings.parse({ frequency: null, retention: '' })).toEqual({ frequency: null, retention: '' });
  });

  test.each(['10', '1.5M', '512K', '2MiB', '100k', '1G+1'])('bwlimit %s is accepted', (bwlimit) => {
    expect(SourceSettings.parse({ bwlimit }).bwlimit).toBe(bwlimit);
  });
});

describe('machine UUIDs', () => {
  test('every random v4 UUID is accepted (the original rejected about 0.36%)', () => {
    fc.assert(fc.property(fc.uuid({ version: 4 }), (uuid) => NewMachineUuid.safeParse(uuid).success));
  });

  test.each([
    ['00000000-0000-0000-0000-000000000000', 'nil'],
    ['ffffffff-ffff-ffff-ffff-ffffffffffff', 'all ones'],
    ['9bef0a75-5a9b-43f7-c66a-7e8c6d7ad91d', 'not the RFC 4122 variant'],
  ])('%s (%s) is refused for registration', (uuid) => {
    const result = NewMachineUuid.safeParse(uuid);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('Invalid UUID format');
  });
});

describe('agent check-in and restore', () => {
  const descriptor = {
    path: '/etc',
    retention: 'last 5 days, earliest of month',
    bwlimit: null,
    filter: ['- *.swp', '+ /etc/ssl/', 'dir-merge .turku-filter'],
    exclude: ['/etc/shadow-'],
    shared_service: false,
    large_rotating_files: false,
    large_modifying_files: false,
    snapshot_mode: null,
    preserve_hard_links: false,
    storage: {
      name: 'primary',
      ssh_ping_host: 'primary.turku.example.com',
      ssh_ping_host_keys: ['ssh-ed25519 AAAAC3Nza root@primary'],
      ssh_ping_port: 22,
      ssh_ping_user: 'turku-ping',
    },
  };

  test('request', () => {
    expect(AgentPingCheckinRequest.parse({ machine: { uuid: UUID, secret: 's' } })).toEqual({
      machine: { uuid: UUID, secret: 's' },
    });
    expect(problem(AgentPingCheckinRequest, { machine: { uuid: UUID } })).toBe(
      'Missing required machine option "secret"',
    );
  });

  test("response: the original's (machine.scheduled_sources only) and ours (plus the top-level copy)", () => {
    const original = { machine: { scheduled_sources: { etc: descriptor } } };
    expect(AgentPingCheckinResponse.parse(original)).toEqual(original);
    const ours = { ...original, scheduled_sources: { etc: descriptor } };
    expect(AgentPingCheckinResponse.parse(ours)).toEqual(ours);
    // machine.scheduled_sources is what the agent reads, and the original always sends it.
    expect(AgentPingCheckinResponse.safeParse({ scheduled_sources: {} }).success).toBe(false);
  });

  test('descriptor nulls and loose types the original may send are read with its defaults', () => {
    const parsed = AgentPingRestoreResponse.parse({
      machine: {
        sources: {
          etc: { ...descriptor, bwlimit: 1024, filter: null, exclude: null, shared_service: 1, retention: null },
          orphan: { path: '/x', retention: 'last 5 days', storage: null },
        },
      },
    });
    expect(parsed.machine.sources.etc).toMatchObject({
      bwlimit: '1024',
      filter: [],
      exclude: [],
      shared_service: true,
    });
    expect(parsed.machine.sources.orphan).toMatchObject({ storage: null, snapshot_mode: null, filter: [] });
  });

  test('descriptors from older APIs: missing newer keys get defaults, unknown keys are kept', () => {
    const { bwlimit: _b, snapshot_mode: _s, preserve_hard_links: _p, filter: _f, ...old } = descriptor;
    const parsed = AgentPingRestoreResponse.parse({
      machine: { sources: { etc: { ...old, username: 'legacy-user', password: 'legacy-pass' } } },
    });
    expect(parsed.machine.sources.etc).toMatchObject({
      bwlimit: null,
      snapshot_mode: null,
      preserve_hard_links: false,
      filter: [],
      username: 'legacy-user',
      password: 'legacy-pass',
    });
  });
});

describe('storage messages', () => {
  test('storage_update_config: a full example; floats floored', () => {
    const parsed = StorageUpdateConfigRequest.parse({
      auth: { name: 'Storage Registrations', secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4' },
      storage: {
        name: 'primary',
        secret: 'x'.repeat(30),
        ssh_ping_host: 'primary.turku.example.com',
        ssh_ping_port: 22,
        ssh_ping_user: 'turku-ping',
        ssh_ping_host_keys: ['ssh-ed25519 AAAAC3Nza root@primary'],
        space_total: 953869.7,
        space_available: 512000.2,
        published: true,
        comment: 'rack 4',
        snapshot_modes: ['link-dest', 'none', 'borg'],
      },
    });
    expect(parsed.storage).toMatchObject({ space_total: 953869, space_available: 512000 });
  });

  test.each([
    [StorageUpdateConfigRequest, {}, 'Missing required option "storage"'],
    [StoragePingCheckinRequest, { storage: { name: 'p', secret: 's' } }, 'Missing required option "machine"'],
    [
      StoragePingCheckinRequest,
      { storage: { name: 'p', secret: 's' }, machine: {} },
      'Missing required option "machine.uuid"',
    ],
    [
      StoragePingSourceUpdateRequest,
      { storage: { name: 'p', secret: 's' }, machine: { uuid: UUID } },
      'Missing required option "machine.sources"',
    ],
  ])('missing parts use the original texts (%#)', (schema, input, message) => {
    expect(problem(schema, input)).toBe(message);
  });

  test('storage_update_config rejects a port out of range and a multi-line host key', () => {
    const storage = { name: 'p', secret: 's' };
    expect(problem(StorageUpdateConfigRequest, { storage: { ...storage, ssh_ping_port: 70000 } })).toMatch(
      /^storage\.ssh_ping_port: /,
    );
    expect(
      problem(StorageUpdateConfigRequest, { storage: { ...storage, ssh_ping_host_keys: ['ssh-ed25519 AAAA\nx'] } }),
    ).toBe('storage.ssh_ping_host_keys.0: must be one line "<keytype> <base64> [comment]"');
  });

  test('responses: machines keyed by UUID, and the storage check-in', () => {
    const machines = {
      machines: {
        [UUID]: {
          environment_name: 'prod',
          service_name: 'sql',
          unit_name: 'sql/2',
          comment: null,
          ssh_public_key: KEY,
        },
      },
    };
    expect(StorageUpdateConfigResponse.parse(machines)).toEqual(machines);
    const checkin = {
      machine: { uuid: UUID, environment_name: 'prod', service_name: 'sql', unit_name: 'sql/2', scheduled_sources: {} },
    };
    expect(StoragePingCheckinResponse.parse(checkin)).toEqual(checkin);
  });

  test('storage_ping_source_update: a full example, and names the original accepted', () => {
    const parsed = StoragePingSourceUpdateRequest.parse({
      storage: { name: 'primary', secret: 's' },
      machine: {
        uuid: UUID,
        sources: {
          etc: {
            success: true,
            snapshot: 'etc_20241215-031215_1a2b',
            summary: 'Base snapshot: etc_20241214-031207_9c0e\n',
            time_begin: 1734232320.41,
            time_end: 1734232335.97,
            skipped: false,
          },
          '../imported': { success: false, snapshot: null, summary: 'Invalid source name' },
        },
      },
    });
    expect(Object.keys(parsed.machine.sources)).toEqual(['etc', '../imported']);
  });
});

describe('login parts, read before authentication', () => {
  test('a machine login needs only its two keys present; their types wait for authentication', () => {
    expect(MachineLogin.parse({ machine: { uuid: 42, secret: null, extra: 1 } })).toEqual({
      machine: { uuid: 42, secret: null },
    });
    expect(problem(MachineLogin, {})).toBe('"machine" dict required');
    expect(problem(MachineLogin, { machine: [] })).toBe('"machine" dict required');
    expect(problem(MachineLogin, { machine: { secret: 's' } })).toBe('Missing required machine option "uuid"');
    expect(problem(MachineLogin, { machine: { uuid: 'u' } })).toBe('Missing required machine option "secret"');
  });

  test('an unusable registration auth or storage credential reads as none, not as an error', () => {
    const machine = { uuid: UUID, secret: 's' };
    for (const auth of [42, ['x'], { name: 'n' }, { name: 'a\u0000b', secret: 's' }, null]) {
      expect(UpdateConfigLogin.parse({ auth, machine }).auth).toBeUndefined();
    }
    expect(UpdateConfigLogin.parse({ auth: 'bare', machine }).auth).toBe('bare');
    for (const storage of ['x', 42, null, [], { name: 5, secret: ['s'] }, { name: 'a\u0000', secret: 's\u0000' }]) {
      expect(StorageLogin.parse({ storage }).storage).toEqual({ name: undefined, secret: undefined });
    }
    expect(StorageUpdateConfigLogin.parse({ storage: { name: 'n', secret: 's' } }).storage).toEqual({
      name: 'n',
      secret: 's',
    });
    expect(problem(StorageLogin, {})).toBe('Missing required option "storage"');
  });
});

describe('health', () => {
  test('a full example', () => {
    const health = {
      healthy: true,
      date: '2024-12-15T07:00:00.123456+00:00',
      counts: { auth: 2, storage: 1, machine: 15, source: 40, filter_set: 3, backup_log: 5120 },
    };
    expect(HealthResponse.parse(health)).toEqual(health);
  });
});
