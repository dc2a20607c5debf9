import { valueOf } from './fields.js';
import {
  readStorageApi,
  readStorageApiSecret,
  readStorageUnit,
  storageApiSecretContent,
  writeStorageApi,
  writeStorageUnit,
  type StorageUnitBag,
} from './turku-storage-api.js';

const UNIT: StorageUnitBag = {
  'storage-name': 'primary',
  'ssh-host': 'primary.turku.example.com',
  'ssh-port': 22,
  'ssh-user': 'turku-ping',
  'ssh-host-keys': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ root@primary', 'ssh-rsa AAAAB3NzaC1yc2E= root@primary'],
  'space-total-mib': 953_869,
  'space-available-mib': 512_000,
};
const UNIT_BAG = {
  'storage-name': 'primary',
  'ssh-host': 'primary.turku.example.com',
  'ssh-port': '22',
  'ssh-user': 'turku-ping',
  'ssh-host-keys': '["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ root@primary","ssh-rsa AAAAB3NzaC1yc2E= root@primary"]',
  'space-total-mib': '953869',
  'space-available-mib': '512000',
};
const JUJU_ADDRESS_KEYS = {
  'private-address': '10.1.2.3',
  'ingress-address': '10.1.2.3',
  'egress-subnets': '10.1.2.3/32',
};

describe('storage unit bag', () => {
  test('encodes numbers and lists as JSON strings and reads them back', () => {
    expect(writeStorageUnit(UNIT)).toEqual(UNIT_BAG);
    expect(readStorageUnit(UNIT_BAG)).toEqual({ ok: true, value: UNIT });
  });

  test("Juju's address keys in the unit bag are tolerated", () => {
    expect(readStorageUnit({ ...UNIT_BAG, ...JUJU_ADDRESS_KEYS })).toEqual({ ok: true, value: UNIT });
  });

  test('bad JSON names the key', () => {
    expect(readStorageUnit({ ...UNIT_BAG, 'ssh-host-keys': '[ssh-ed25519' })).toEqual({
      ok: false,
      problems: ['ssh-host-keys: expected JSON text'],
    });
  });

  test('a missing key is named', () => {
    const { 'ssh-user': _dropped, ...rest } = UNIT_BAG;
    expect(readStorageUnit(rest)).toEqual({ ok: false, problems: ['ssh-user: required'] });
  });

  test('bad values name the key (and the list item)', () => {
    const result = readStorageUnit({
      ...UNIT_BAG,
      'ssh-port': '70000',
      'ssh-host-keys': '["ssh-ed25519 AAAA\\nssh-rsa BBBB"]',
      'space-total-mib': '"lots"',
      'storage-name': '',
    });
    expect(result).toEqual({
      ok: false,
      problems: [
        'storage-name: must not be empty',
        'ssh-port: expected a port 1-65535',
        'ssh-host-keys.0: must be one line "<keytype> <base64> [comment]"',
        'space-total-mib: expected number, got "lots"',
      ],
    });
    expect(readStorageUnit({ ...UNIT_BAG, 'ssh-host-keys': '[]' })).toEqual({
      ok: false,
      problems: ['ssh-host-keys: expected at least one key'],
    });
  });

  test('the writer refuses a negative space', () => {
    expect(() => writeStorageUnit({ ...UNIT, 'space-available-mib': -1 })).toThrow(
      'cannot encode relation data: space-available-mib: must not be negative',
    );
  });
});

describe('API application bag and secret', () => {
  const APP = { 'api-url': 'https://turku.example.com/v1', 'secret-id': 'secret:cu9k0hlrfhps7f0t6mq0' };

  test('round-trips and ignores unknown keys', () => {
    expect(readStorageApi({ ...writeStorageApi(APP), extra: '1' })).toEqual({ ok: true, value: APP });
    expect(readStorageApi({ 'secret-id': APP['secret-id'] })).toEqual({ ok: false, problems: ['api-url: required'] });
  });

  test('the secret holds a storage_reg credential', () => {
    const content = storageApiSecretContent({ name: 'juju storages:4', secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4' });
    expect(valueOf(readStorageApiSecret(content))['auth-type']).toBe('storage_reg');
    expect(readStorageApiSecret({ ...content, 'auth-type': 'admin' })).toEqual({
      ok: false,
      problems: ['auth-type: expected one of machine_reg, storage_reg'],
    });
    expect(readStorageApiSecret({ ...content, 'auth-type': 'machine_reg' })).toEqual({
      ok: false,
      problems: ['auth-type: expected "storage_reg", got "machine_reg"'],
    });
  });
});
