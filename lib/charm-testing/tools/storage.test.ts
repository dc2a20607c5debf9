import { addApplication, fixtureModel, toolSession } from '../fixtures.js';
import { type Model } from '../model.js';
import { addStorageInstance } from '../pending.js';

function world(): Model {
  const model = fixtureModel();
  addApplication(model, 'store', {
    charm: {
      storage: {
        backups: { type: 'filesystem', location: '/srv/backups', range: { min: 1, max: null } },
        single: { type: 'filesystem', location: '/srv/single', range: { min: 1, max: 1 } },
        scratch: { type: 'filesystem', range: { min: 0, max: null } },
      },
    },
  });
  const unit = model.units['store/0']!;
  addStorageInstance(model, unit, 'backups');
  addStorageInstance(model, unit, 'single');
  return model;
}

describe('storage tools', () => {
  test('[fidelity 20] storage-get without -s outside a storage hook exits 2', async () => {
    const { run } = toolSession(world(), 'store/0');
    expect(await run('storage-get')).toEqual({ code: 2, stdout: '', stderr: 'ERROR no storage instance specified\n' });
  });

  test('storage-get: map or one attribute, defaults to the hook storage, rejects other attributes', async () => {
    const model = world();
    const { run } = toolSession(model, 'store/0', {
      kind: 'hook',
      name: 'backups-storage-attached',
      storageId: 'backups/0',
    });
    expect((await run('storage-get', '--format=json')).stdout).toBe(
      '{"kind":"filesystem","location":"/srv/backups/backups/0"}\n',
    );
    expect((await run('storage-get', '-s', 'single/0', 'location')).stdout).toBe('/srv/single\n');
    expect(await run('storage-get', 'size')).toMatchObject({
      code: 1,
      stderr: 'ERROR invalid storage attribute "size"\n',
    });
  });

  test('storage-list and storage-add (created at commit, mount point rules)', async () => {
    const model = world();
    const { run, session } = toolSession(model, 'store/0');
    expect((await run('storage-list', '--format=json')).stdout).toBe('["backups/0","single/0"]\n');
    expect((await run('storage-list', '--format=json', 'scratch')).stdout).toBe('[]\n');
    expect((await run('storage-add', 'backups=2', 'scratch')).code).toBe(0);
    expect(model.units['store/0']!.storage).toEqual(['backups/0', 'single/0']);
    session.commit();
    expect(model.units['store/0']!.storage).toEqual(['backups/0', 'single/0', 'backups/1', 'backups/2', 'scratch/0']);
    expect(model.storage['backups/2']!.location).toBe('/srv/backups/backups/2');
    expect(model.storage['scratch/0']!.location).toBe('/var/lib/juju/storage/scratch/0');
    expect((await run('storage-add')).code).toBe(2);
    expect((await run('storage-add', 'nope=1')).code).toBe(1);
  });

  test('storage-add is discarded on rollback', async () => {
    const model = world();
    const { run, session } = toolSession(model, 'store/0');
    await run('storage-add', 'backups=1');
    session.rollback();
    session.commit();
    expect(model.units['store/0']!.storage).toEqual(['backups/0', 'single/0']);
  });
});
