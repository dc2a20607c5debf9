// The charm's layer of the workload config, built without touching the machine.
import { DEFAULT_VERIFY_BYTES_PER_DAY, parseStorageSettings } from '../../../lib/storage/settings.js';
import { storageConfigObject, storageName, volumeName, type StorageConfigInputs } from './config-files.js';
import { StorageConfig } from './schemas.js';

const inputs: StorageConfigInputs = {
  config: StorageConfig.parse({
    'snapshot-mode': 'borg',
    'high-water-pct': 70,
    timezone: 'Europe/Paris',
    'ssh-port': 2222,
  }),
  name: 'turku-storage-1',
  secret: 's'.repeat(40),
  apiUrl: 'http://10.0.0.1:8080/v1',
  registration: { name: 'juju storages:1', secret: 'r'.repeat(30) },
  volumes: [
    { name: 'backups-0', path: '/srv/turku-storage/backups/0' },
    { name: 'backups-3', path: '/srv/turku-storage/backups/3' },
  ],
  sshHost: '10.0.0.7',
  pingUser: 'turku-ping',
  paths: {
    varDir: '/var/lib/turku-storage',
    lockDir: '/var/lib/turku-storage/lock',
    logFile: '/var/log/turku-storage/turku-storage.log',
    authorizedKeysFile: '/var/lib/turku-storage/ping/.ssh/authorized_keys',
    hostKeysGlob: '/etc/ssh/ssh_host_*_key.pub',
    pingCommand: '/usr/local/bin/turku-storage-ping --config-dir /etc/turku-storage',
  },
};

test('the config object is what the workload reads, with the charm config mapped to its keys', () => {
  const object = storageConfigObject(inputs);
  const settings = parseStorageSettings(object);
  expect(settings).toMatchObject({
    name: 'turku-storage-1',
    api_url: 'http://10.0.0.1:8080/v1',
    api_auth_name: 'juju storages:1',
    snapshot_mode: 'borg',
    rsync_compress: false,
    accept_new_high_water_pct: 70,
    timezone: 'Europe/Paris',
    ssh_ping_host: '10.0.0.7',
    ssh_ping_port: 2222,
    ssh_ping_user: 'turku-ping',
    authorized_keys_user: 'turku-ping',
    authorized_keys_command: '/usr/local/bin/turku-storage-ping --config-dir /etc/turku-storage',
    original_agent_tunnels: true,
    var_dir: '/var/lib/turku-storage',
  });
  expect(Object.keys(settings.volumes)).toEqual(['backups-0', 'backups-3']);
});

test('rsync-compress true reaches the workload as rsync_compress', () => {
  const config = { ...inputs.config, 'rsync-compress': true };
  expect(parseStorageSettings(storageConfigObject({ ...inputs, config })).rsync_compress).toBe(true);
});

test('original-agent-tunnels false reaches the workload as original_agent_tunnels', () => {
  const config = { ...inputs.config, 'original-agent-tunnels': false };
  expect(parseStorageSettings(storageConfigObject({ ...inputs, config })).original_agent_tunnels).toBe(false);
});

test('max-concurrent-backups reaches the workload as max_concurrent_backups; 0 leaves its default', () => {
  const config = { ...inputs.config, 'max-concurrent-backups': 6 };
  expect(parseStorageSettings(storageConfigObject({ ...inputs, config })).max_concurrent_backups).toBe(6);
  expect(storageConfigObject(inputs)).not.toHaveProperty('max_concurrent_backups');
});

test('max-waiting-backups reaches the workload as max_waiting_backups; -1 leaves its default, 0 is none', () => {
  for (const places of [0, 3]) {
    const config = { ...inputs.config, 'max-waiting-backups': places };
    expect(parseStorageSettings(storageConfigObject({ ...inputs, config })).max_waiting_backups).toBe(places);
  }
  expect(storageConfigObject(inputs)).not.toHaveProperty('max_waiting_backups');
});

test('verify-bytes-per-day reaches the workload as verify_bytes_per_day; 0 turns it off', () => {
  const config = { ...inputs.config, 'verify-bytes-per-day': 0 };
  expect(parseStorageSettings(storageConfigObject({ ...inputs, config })).verify_bytes_per_day).toBe(0);
  expect(parseStorageSettings(storageConfigObject(inputs)).verify_bytes_per_day).toBe(DEFAULT_VERIFY_BYTES_PER_DAY);
});

test('min-age and immutable-snapshots reach the workload; the capable chattr is named when the charm made one', () => {
  const defaults = parseStorageSettings(storageConfigObject(inputs));
  expect(defaults).toMatchObject({ min_age: 7 * 86_400, immutable_snapshots: true, chattr_command: ['chattr'] });
  const config = { ...inputs.config, 'min-age': '36h', 'immutable-snapshots': false };
  const chattrCommand = ['/usr/local/lib/turku-storage/chattr'];
  expect(parseStorageSettings(storageConfigObject({ ...inputs, config, chattrCommand }))).toMatchObject({
    min_age: 36 * 3_600,
    immutable_snapshots: false,
    chattr_command: chattrCommand,
  });
});

test('without a registration credential no api_auth keys are written', () => {
  const object = storageConfigObject({ ...inputs, registration: undefined });
  expect(object).not.toHaveProperty('api_auth_name');
  expect(object).not.toHaveProperty('api_auth_secret');
});

test('storage names and volume names', () => {
  expect(storageName('', 'turku-storage/4')).toBe('turku-storage-4');
  expect(storageName('backup-{unit}', 'turku-storage/4')).toBe('backup-4');
  expect(storageName('primary', 'turku-storage/0')).toBe('primary');
  expect(volumeName('backups/12')).toBe('backups-12');
});

test('config schema defaults match the declared ones and refuse bad values naming the key', () => {
  expect(StorageConfig.parse({})).toEqual({
    'storage-name': '',
    'snapshot-mode': 'link-dest',
    'rsync-compress': false,
    'high-water-pct': 80,
    timezone: 'UTC',
    'ssh-host': '',
    'ssh-port': 22,
    'ping-user': 'turku-ping',
    'original-agent-tunnels': true,
    'max-concurrent-backups': 0,
    'max-waiting-backups': -1,
    'verify-bytes-per-day': 4 * 1024 ** 3,
    'min-age': '7d',
    'immutable-snapshots': true,
  });
  for (const [key, value] of [
    ['timezone', 'Nowhere/Special'],
    ['min-age', 'a week'],
    ['ssh-host', 'two words'],
    ['storage-name', 'line\nbreak'],
  ] as const) {
    const result = StorageConfig.safeParse({ [key]: value });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([key]);
  }
});
