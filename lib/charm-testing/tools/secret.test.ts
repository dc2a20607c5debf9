import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addApplication, fixtureModel, relate, relationEvent, toolSession } from '../fixtures.js';
import { type Model } from '../model.js';
import { runEvent } from '../session.js';

/** api (leader api/0, follower api/1) provides registration to agent (2 units). */
function world(): Model {
  const model = fixtureModel();
  addApplication(model, 'api', { units: 2, endpoints: { registration: 'provides' } });
  addApplication(model, 'agent', { units: 2, endpoints: { registration: 'requires' } });
  addApplication(model, 'other', { units: 1 });
  relate(model, 'api:registration', 'agent:registration');
  return model;
}

async function addCommitted(model: Model, ...args: string[]): Promise<string> {
  const { run, session } = toolSession(model, 'api/0');
  const result = await run('secret-add', ...args);
  expect(result.code).toBe(0);
  session.commit();
  return result.stdout.trim();
}

describe('secret-add', () => {
  test('[fidelity 53] application-owned secret-add by a non-leader exits 1', async () => {
    const model = world();
    const result = await toolSession(model, 'api/1').run('secret-add', 'token=abc');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ERROR .*leader.*\n$/);
    expect((await toolSession(model, 'api/1').run('secret-add', '--owner', 'unit', 'token=abc')).code).toBe(0);
  });

  test('[fidelity 53] the URI matches secret:[0-9a-v]{20}, is usable in the same hook, and nothing exists if the hook fails', async () => {
    const model = world();
    let uri = '';
    model.applications['api']!.executor = {
      kind: 'in-process',
      run: async (io) => {
        uri = (await io.runner.run('secret-add', ['--label', 'reg', 'token=abc'])).stdout.trim();
        await io.runner.run('secret-grant', ['-r', 'registration:0', uri]);
        await io.runner.run('relation-set', ['-r', 'registration:0', '--app', `secret-id=${uri}`]);
        const own = await io.runner.run('secret-get', [uri, '--format=json']);
        io.stdout(own.stdout);
        return 1;
      },
    };
    const outcome = await runEvent(model, 'api/0', { kind: 'hook', name: 'update-status' });
    expect(uri).toMatch(/^secret:[0-9a-v]{20}$/);
    expect(outcome.stdout).toBe('{"token":"abc"}\n');
    expect(model.secrets).toEqual({});
    expect(model.relations[0]!.appBags['api']).toBeUndefined();
  });

  test('content from key=value, key#base64=, key#file= and --file; key validation', async () => {
    const model = world();
    const { run, session } = toolSession(model, 'api/0');
    const dir = mkdtempSync(join(tmpdir(), 'secret-'));
    writeFileSync(join(dir, 'token'), 'from-file');
    writeFileSync(join(dir, 'content.yaml'), 'yaml-key: from-yaml\n');
    const added = await run(
      'secret-add',
      'plain=v',
      `encoded#base64=${Buffer.from('hello').toString('base64')}`,
      `filed#file=${join(dir, 'token')}`,
      '--file',
      join(dir, 'content.yaml'),
    );
    expect(added.code).toBe(0);
    expect((await run('secret-get', added.stdout.trim(), '--format=json')).stdout).toBe(
      '{"encoded":"hello","filed":"from-file","plain":"v","yaml-key":"from-yaml"}\n',
    );
    expect((await run('secret-get', added.stdout.trim(), 'encoded#base64')).stdout).toBe(
      `${Buffer.from('hello').toString('base64')}\n`,
    );
    expect(await run('secret-add', 'x=1')).toMatchObject({ code: 2, stderr: 'ERROR key "x" not valid\n' });
    expect((await run('secret-add', 'Bad-key=1')).code).toBe(2);
    expect((await run('secret-add', 'a--b=1')).code).toBe(2);
    expect((await run('secret-add')).code).toBe(2);
    expect(await run('secret-add', 'foo')).toMatchObject({ code: 2, stderr: 'ERROR key value "foo" not valid\n' });
    expect(await run('secret-add', 'abc=')).toMatchObject({ code: 2, stderr: 'ERROR key value "abc=" not valid\n' });
    expect((await run('secret-add', '--rotate', 'sometimes', 'abc=1')).code).toBe(2);
    session.rollback();
    rmSync(dir, { recursive: true, force: true });
  });

  test('secret-ids lists committed owned secrets only', async () => {
    const model = world();
    const uri = await addCommitted(model, 'token=abc');
    const { run } = toolSession(model, 'api/1');
    await run('secret-add', '--owner', 'unit', 'other=1');
    expect((await run('secret-ids', '--format=json')).stdout).toBe(`["${uri}"]\n`);
    expect((await toolSession(model, 'agent/0').run('secret-ids', '--format=json')).stdout).toBe('[]\n');
  });
});

describe('secret access', () => {
  test('[fidelity 54] without a grant a consumer cannot read; after secret-grant -r every remote unit can', async () => {
    const model = world();
    const uri = await addCommitted(model, 'token=abc');
    const denied = await toolSession(model, 'agent/0').run('secret-get', uri);
    expect(denied).toEqual({ code: 1, stdout: '', stderr: 'ERROR permission denied\n' });
    const { run, session } = toolSession(model, 'api/0', relationEvent(model, 'api/0', 0, 'joined', 'agent/0'));
    expect((await run('secret-grant', uri)).code).toBe(0);
    // Still pending: the grant reaches the model at commit.
    expect((await toolSession(model, 'agent/0').run('secret-get', uri)).code).toBe(1);
    session.commit();
    for (const unit of ['agent/0', 'agent/1']) {
      expect((await toolSession(model, unit).run('secret-get', uri, 'token')).stdout).toBe('abc\n');
    }
    expect((await toolSession(model, 'other/0').run('secret-get', uri)).code).toBe(1);
    // The owner application's units always can.
    expect((await toolSession(model, 'api/1').run('secret-get', uri, 'token')).stdout).toBe('abc\n');
  });

  test('secret-grant --unit grants one unit; a unit of another application is a usage error', async () => {
    const model = world();
    const uri = await addCommitted(model, 'token=abc');
    const { run, session } = toolSession(model, 'api/0');
    expect(await run('secret-grant', uri)).toMatchObject({ code: 2, stderr: 'ERROR no relation id specified\n' });
    expect(await run('secret-grant', '-r', '0', '--unit', 'other/0', uri)).toMatchObject({
      code: 2,
      stderr: 'ERROR cannot specify unit "other/0" in relation to application "agent"\n',
    });
    expect((await run('secret-grant', '-r', '0', '--unit', 'agent/1', uri)).code).toBe(0);
    session.commit();
    expect((await toolSession(model, 'agent/0').run('secret-get', uri)).code).toBe(1);
    expect((await toolSession(model, 'agent/1').run('secret-get', uri)).code).toBe(0);
  });

  test('secret-revoke needs a target and removes the grant at commit', async () => {
    const model = world();
    const uri = await addCommitted(model, 'token=abc');
    const granting = toolSession(model, 'api/0');
    await granting.run('secret-grant', '-r', '0', uri);
    granting.session.commit();
    const { run, session } = toolSession(model, 'api/0');
    expect(await run('secret-revoke', uri)).toMatchObject({
      code: 2,
      stderr: 'ERROR missing relation or application or unit\n',
    });
    expect((await run('secret-revoke', uri, '--app', 'agent')).code).toBe(0);
    session.commit();
    expect((await toolSession(model, 'agent/0').run('secret-get', uri)).code).toBe(1);
  });
});

describe('revisions and tracking', () => {
  async function granted(): Promise<{ model: Model; uri: string }> {
    const model = world();
    const uri = await addCommitted(model, '--label', 'reg', 'token=one');
    const { run, session } = toolSession(model, 'api/0');
    await run('secret-grant', '-r', 'registration:0', uri);
    session.commit();
    return { model, uri };
  }

  test('[fidelity 55] first read tracks; after secret-set the consumer reads the old revision until --refresh; --peek shows the new one', async () => {
    const { model, uri } = await granted();
    const id = uri.slice('secret:'.length);
    expect(
      (await toolSession(model, 'agent/0').run('secret-get', uri, '--label', 'registration', 'token')).stdout,
    ).toBe('one\n');
    expect(model.secrets[id]!.consumers['agent/0']).toEqual({ tracked: 1, notifiedRevision: 1, label: 'registration' });
    const owner = toolSession(model, 'api/0');
    await owner.run('secret-set', uri, 'token=two');
    await owner.run('secret-set', uri, 'token=three');
    expect((await owner.run('secret-get', uri, '--peek', 'token')).stdout).toBe('three\n');
    owner.session.commit();
    expect(model.secrets[id]!.revisions.map((revision) => revision.revision)).toEqual([1, 2]);

    const consumer = toolSession(model, 'agent/0');
    expect((await consumer.run('secret-get', '--label', 'registration', '--format=json')).stdout).toBe(
      '{"token":"one"}\n',
    );
    expect((await consumer.run('secret-get', '--label', 'registration', '--peek')).stdout).toBe('token: three\n');
    expect(model.secrets[id]!.consumers['agent/0']!.tracked).toBe(1);
    expect((await consumer.run('secret-get', uri, '--refresh', 'token')).stdout).toBe('three\n');
    expect(model.secrets[id]!.consumers['agent/0']!.tracked).toBe(2);
    expect((await consumer.run('secret-get', uri, 'token')).stdout).toBe('three\n');
  });

  // Since Juju 3.1.7 the owner is a consumer like any other (juju/juju PR 16598, the secrets
  // manager facade's getConsumedRevision): it reads the revision it tracks until --refresh.
  test('[fidelity 55] the owner tracks a revision too: stale until --refresh, --peek does not move it', async () => {
    const { model, uri } = await granted();
    const id = uri.slice('secret:'.length);
    const first = toolSession(model, 'api/0');
    expect((await first.run('secret-get', uri, 'token')).stdout).toBe('one\n');
    expect(model.secrets[id]!.consumers['api/0']).toEqual({ tracked: 1, notifiedRevision: 1 });
    await first.run('secret-set', uri, 'token=two');
    first.session.commit();

    const next = toolSession(model, 'api/0');
    expect((await next.run('secret-get', uri, 'token')).stdout).toBe('one\n');
    expect((await next.run('secret-get', '--label', 'reg', '--peek')).stdout).toBe('token: two\n');
    expect(model.secrets[id]!.consumers['api/0']!.tracked).toBe(1);
    expect((await next.run('secret-get', '--label', 'reg', '--refresh')).stdout).toBe('token: two\n');
    expect(model.secrets[id]!.consumers['api/0']!.tracked).toBe(2);
    expect((await next.run('secret-get', uri, 'token')).stdout).toBe('two\n');
  });

  test('[fidelity 55] in the hook that changed it, --refresh reads the new content and tracks it at commit', async () => {
    const { model, uri } = await granted();
    const id = uri.slice('secret:'.length);
    await toolSession(model, 'api/0').run('secret-get', uri);
    const repair = toolSession(model, 'api/0');
    await repair.run('secret-set', uri, 'token=two');
    // Without a flag the owner still reads what it tracks; --peek and --refresh see this hook's change.
    expect((await repair.run('secret-get', uri, 'token')).stdout).toBe('one\n');
    expect((await repair.run('secret-get', uri, '--peek', 'token')).stdout).toBe('two\n');
    expect((await repair.run('secret-get', uri, '--refresh', 'token')).stdout).toBe('two\n');
    expect(model.secrets[id]!.consumers['api/0']!.tracked).toBe(1);
    repair.session.commit();
    expect(model.secrets[id]!.consumers['api/0']!.tracked).toBe(2);
    expect((await toolSession(model, 'api/0').run('secret-get', uri, 'token')).stdout).toBe('two\n');

    // A failed hook tracks nothing new.
    const failed = toolSession(model, 'api/0');
    await failed.run('secret-set', uri, 'token=three');
    await failed.run('secret-get', uri, '--refresh');
    failed.session.rollback();
    expect(model.secrets[id]!.consumers['api/0']!.tracked).toBe(2);
    expect(model.secrets[id]!.revisions.map((revision) => revision.revision)).toEqual([1, 2]);
  });

  test('a secret added in this hook reads its content whatever the flags; the first read after tracks the latest', async () => {
    const model = world();
    const { run, session } = toolSession(model, 'api/0');
    const uri = (await run('secret-add', 'token=new')).stdout.trim();
    for (const flags of [[], ['--peek'], ['--refresh']])
      expect((await run('secret-get', uri, ...flags, 'token')).stdout).toBe('new\n');
    session.commit();
    const id = uri.slice('secret:'.length);
    expect(model.secrets[id]!.consumers).toEqual({});
    // A non-leader of the owning application reads it and tracks it too.
    expect((await toolSession(model, 'api/1').run('secret-get', uri, 'token')).stdout).toBe('new\n');
    expect(model.secrets[id]!.consumers['api/1']).toEqual({ tracked: 1, notifiedRevision: 1 });
  });

  test('a first read with --peek starts tracking the latest revision (Juju creates the record)', async () => {
    const { model, uri } = await granted();
    const id = uri.slice('secret:'.length);
    await toolSession(model, 'agent/1').run('secret-get', uri, '--peek');
    expect(model.secrets[id]!.consumers['agent/1']).toEqual({ tracked: 1, notifiedRevision: 1 });
  });

  test('secret-get flag errors and missing keys', async () => {
    const { model, uri } = await granted();
    const { run } = toolSession(model, 'agent/0');
    expect(await run('secret-get', uri, '--peek', '--refresh')).toMatchObject({
      code: 2,
      stderr: 'ERROR specify one of --peek or --refresh but not both\n',
    });
    expect(await run('secret-get')).toMatchObject({ code: 2, stderr: 'ERROR require either a secret URI or label\n' });
    expect(await run('secret-get', uri, 'nope')).toMatchObject({
      code: 1,
      stderr: 'ERROR secret key value "nope" not found\n',
    });
    expect((await run('secret-get', 'secret:0000000000000000000v')).code).toBe(1);
    expect(await run('secret-get', 'token')).toMatchObject({ code: 2, stderr: 'ERROR secret URI "token" not valid\n' });
  });

  test('owner-only operations: secret-set and secret-info-get', async () => {
    const { model, uri } = await granted();
    expect((await toolSession(model, 'agent/0').run('secret-set', uri, 'token=x')).code).toBe(1);
    expect((await toolSession(model, 'api/1').run('secret-set', uri, 'token=x')).code).toBe(1);
    expect((await toolSession(model, 'agent/0').run('secret-info-get', uri)).code).toBe(1);
    expect(await toolSession(model, 'api/0').run('secret-set')).toMatchObject({
      code: 2,
      stderr: 'ERROR missing secret URI\n',
    });
    const info = JSON.parse(
      (await toolSession(model, 'api/1').run('secret-info-get', '--label', 'reg', '--format=json')).stdout,
    );
    expect(info).toEqual({ [uri.slice(7)]: { revision: 1, label: 'reg', owner: 'application' } });
  });

  test('secret-remove of one revision or the whole secret, at commit', async () => {
    const { model, uri } = await granted();
    const id = uri.slice(7);
    const setter = toolSession(model, 'api/0');
    await setter.run('secret-set', uri, 'token=two');
    setter.session.commit();
    const remover = toolSession(model, 'api/0');
    expect((await remover.run('secret-remove', uri, '--revision', '1')).code).toBe(0);
    expect(model.secrets[id]!.revisions).toHaveLength(2);
    remover.session.commit();
    expect(model.secrets[id]!.revisions.map((revision) => revision.revision)).toEqual([2]);
    const whole = toolSession(model, 'api/0');
    await whole.run('secret-remove', uri);
    whole.session.commit();
    expect(model.secrets[id]).toBeUndefined();
  });
});
