// The status memo (docs/charm-runtime.md, "The status memo"): a hook leaves out its final
// status-set only when this unit set the same status less than an hour ago, in a hook that
// succeeded, with nothing else setting a status since. Driven through the Juju fake with a real
// charm directory per test.
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type CharmDefinition, defineCharm, runCharm } from './dispatch.js';
import {
  STATUS_MEMO_MAX_AGE_MS,
  hookMaySkipStatus,
  memoShows,
  parseStatusMemo,
  restoreStatusMemo,
  saveStatusMemo,
  statusMemoFile,
  takeStatusMemo,
} from './status-memo.js';
import { type CharmEvent } from '../charm-testing/events.js';
import { addApplication, addTask, fixtureModel } from '../charm-testing/fixtures.js';
import { type Model } from '../charm-testing/model.js';
import { hookEnvironment, runEvent } from '../charm-testing/session.js';

let charmDir: string;
beforeEach(async () => {
  charmDir = await mkdtemp(join(tmpdir(), 'status-memo-'));
});
afterEach(async () => {
  await rm(charmDir, { recursive: true, force: true });
});

const memoFile = (): string => join(charmDir, statusMemoFile('api/0'));
const hook = (name: string): CharmEvent => ({ kind: 'hook', name });
const UPDATE_STATUS = hook('update-status');

/** The message reconcile sets: tests change it between hooks. */
let message = 'ready';

function world(
  def: CharmDefinition = defineCharm({ reconcile: (ctx) => Promise.resolve(ctx.status.active(message)) }),
  units = 1,
) {
  const model = fixtureModel();
  addApplication(model, 'api', { charm: {}, units, run: (io) => runCharm(def, io) });
  return model;
}

/** Runs `event` on `unit` with `dir` as its charm directory; returns the exit code. */
async function run(model: Model, event: CharmEvent, dir = charmDir, unit = 'api/0'): Promise<number> {
  const env = { ...hookEnvironment(model, unit, event), JUJU_CHARM_DIR: dir, CHARM_DIR: dir };
  return (await runEvent(model, unit, event, { env })).exitCode;
}

/** How many times the unit's workload status was set (every status-set adds one entry). */
const statusSets = (model: Model, unit = 'api/0'): number => model.units[unit]!.statusHistory.length;

async function rewriteMemo(change: (memo: Record<string, unknown>) => void): Promise<void> {
  const memo = JSON.parse(await readFile(memoFile(), 'utf8')) as Record<string, unknown>;
  change(memo);
  await writeFile(memoFile(), JSON.stringify(memo), { mode: 0o600 });
}

describe('the final status-set is left out when the unit shows it already', () => {
  test('a second identical update-status spawns no status-set; the memo is 0600 and keeps its time', async () => {
    const model = world();
    expect(await run(model, UPDATE_STATUS)).toBe(0);
    expect(statusSets(model)).toBe(1);
    const first = await readFile(memoFile(), 'utf8');
    expect(JSON.parse(first)).toEqual({
      v: 1,
      unit: 'api/0',
      status: 'active',
      message: 'ready',
      setAt: expect.any(Number),
    });
    expect((await stat(memoFile())).mode & 0o777).toBe(0o600);

    expect(await run(model, UPDATE_STATUS)).toBe(0);
    expect(await run(model, hook('config-changed'))).toBe(0);
    expect(statusSets(model)).toBe(1);
    expect(model.units['api/0']!.workloadStatus).toMatchObject({ status: 'active', message: 'ready' });
    // A skip does not renew the time: the hour counts from the last real status-set.
    expect(await readFile(memoFile(), 'utf8')).toBe(first);
  });

  test('units sharing one charm directory (as in the local substrate) keep a memo each', async () => {
    const model = world(undefined, 2);
    for (let round = 0; round < 3; round++) {
      await run(model, UPDATE_STATUS, charmDir, 'api/0');
      await run(model, UPDATE_STATUS, charmDir, 'api/1');
    }
    expect([statusSets(model, 'api/0'), statusSets(model, 'api/1')]).toEqual([1, 1]);
    expect((await readdir(charmDir)).sort()).toEqual(['.turku-status-api-0.json', '.turku-status-api-1.json']);
  });

  test('a different message or status is set', async () => {
    const model = world();
    await run(model, UPDATE_STATUS);
    message = 'ready, 3 machines';
    await run(model, UPDATE_STATUS);
    expect(model.units['api/0']!.workloadStatus.message).toBe('ready, 3 machines');
    message = 'ready';
    expect(statusSets(model)).toBe(2);

    let blocked = false;
    const flipping = world(
      defineCharm({
        reconcile: (ctx) => Promise.resolve(blocked ? ctx.status.blocked('ready') : ctx.status.active('ready')),
      }),
    );
    await run(flipping, UPDATE_STATUS);
    blocked = true;
    await run(flipping, UPDATE_STATUS);
    expect(flipping.units['api/0']!.workloadStatus).toMatchObject({ status: 'blocked', message: 'ready' });
    expect(statusSets(flipping)).toBe(2);
  });

  test('after a failed hook the next hook sets the status again', async () => {
    let fail = false;
    const model = world(
      defineCharm({
        reconcile(ctx) {
          ctx.status.active('ready');
          return fail ? Promise.reject(new Error('disk on fire')) : Promise.resolve();
        },
      }),
    );
    await run(model, UPDATE_STATUS);
    fail = true;
    expect(await run(model, UPDATE_STATUS)).toBe(1);
    // Taken at hook start and not written back: nothing claims what Juju shows now.
    await expect(stat(memoFile())).rejects.toMatchObject({ code: 'ENOENT' });
    fail = false;
    expect(await run(model, UPDATE_STATUS)).toBe(0);
    expect(statusSets(model)).toBe(2);
  });

  test('a status set an hour ago (or in the future) is set again', async () => {
    const model = world();
    await run(model, UPDATE_STATUS);
    await rewriteMemo((memo) => (memo['setAt'] = Date.now() - STATUS_MEMO_MAX_AGE_MS - 1000));
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(2);
    // Renewed: the next one is skipped again.
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(2);

    await rewriteMemo((memo) => (memo['setAt'] = Date.now() + 60_000));
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(3);
  });

  test('lifecycle and storage hooks always set, and leave a memo for the hooks after them', async () => {
    const model = world();
    model.storage['data/0'] = { id: 'data/0', name: 'data', kind: 'filesystem', location: '/srv/data', unit: 'api/0' };
    const lifecycle = ['install', 'start', 'upgrade-charm', 'leader-elected', 'stop', 'remove'].map(hook);
    lifecycle.push({ kind: 'hook', name: 'data-storage-attached', storageId: 'data/0' });
    lifecycle.push({ kind: 'hook', name: 'data-storage-detaching', storageId: 'data/0' });
    await run(model, UPDATE_STATUS);
    for (const event of lifecycle) expect(await run(model, event)).toBe(0);
    expect(statusSets(model)).toBe(1 + lifecycle.length);
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(1 + lifecycle.length);
    expect(lifecycle.map((event) => hookMaySkipStatus(event.name))).toEqual(lifecycle.map(() => false));
    expect(hookMaySkipStatus('leader-settings-changed')).toBe(true);
  });

  test('any status-set during the hook makes the final one run', async () => {
    let midHook: 'unit' | 'application' | 'none' = 'none';
    const model = world(
      defineCharm({
        async reconcile(ctx) {
          if (midHook === 'unit') await ctx.tools.statusSet('maintenance', 'rotating keys');
          if (midHook === 'application') await ctx.tools.run('status-set', ['--application', 'active', '--', 'x']);
          ctx.status.active('ready');
        },
      }),
    );
    await run(model, UPDATE_STATUS);
    midHook = 'unit';
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(3);
    expect(model.units['api/0']!.workloadStatus).toMatchObject({ status: 'active', message: 'ready' });
    midHook = 'application';
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(4);
  });

  test('an action that sets a status removes the memo; one that does not leaves it', async () => {
    const model = world(
      defineCharm({
        reconcile: (ctx) => Promise.resolve(ctx.status.active('ready')),
        actions: {
          pause: { run: (ctx) => Promise.resolve(ctx.status.maintenance('paused')) },
          look: { run: () => Promise.resolve() },
        },
      }),
    );
    const action = (name: string): CharmEvent => ({ kind: 'action', name, taskId: addTask(model, 'api/0', name).id });
    await run(model, UPDATE_STATUS);
    expect(await run(model, action('look'))).toBe(0);
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(1);
    expect(await run(model, action('pause'))).toBe(0);
    expect(model.units['api/0']!.workloadStatus.message).toBe('paused');
    await run(model, UPDATE_STATUS);
    expect(model.units['api/0']!.workloadStatus).toMatchObject({ status: 'active', message: 'ready' });
    expect(statusSets(model)).toBe(3);
  });
});

describe('a memo that cannot be trusted means the status is set', () => {
  test('no charm directory, or one that does not exist: always set, no error', async () => {
    const model = world();
    for (const dir of ['', join(charmDir, 'missing')]) {
      expect(await run(model, UPDATE_STATUS, dir)).toBe(0);
      expect(await run(model, UPDATE_STATUS, dir)).toBe(0);
    }
    expect(statusSets(model)).toBe(4);
  });

  test.each([
    ['corrupt', (): Promise<void> => writeFile(memoFile(), '{"v":1,', { mode: 0o600 })],
    ['for another unit', (): Promise<void> => rewriteMemo((memo) => (memo['unit'] = 'api/1'))],
    ['readable by others', (): Promise<void> => chmod(memoFile(), 0o644)],
    ['owned by someone else', (): Promise<void> => chown(memoFile(), 65534, 65534)],
  ])('a memo %s is not trusted, and replaced by a good one', async (_what, spoil) => {
    const model = world();
    await run(model, UPDATE_STATUS);
    await spoil();
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(2);
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(2);
  });

  test('a symbolic link is not followed, and a directory in the way means always set', async () => {
    const model = world();
    const elsewhere = join(charmDir, 'elsewhere.json');
    await run(model, UPDATE_STATUS);
    await writeFile(elsewhere, await readFile(memoFile(), 'utf8'), { mode: 0o600 });
    await rm(memoFile());
    await symlink(elsewhere, memoFile());
    await run(model, UPDATE_STATUS);
    expect(statusSets(model)).toBe(2);
    expect(await readFile(elsewhere, 'utf8')).toContain('"api/0"');

    // A directory in the memo's way is silent: the status is set every time.
    await rm(memoFile());
    await mkdir(memoFile());
    expect(await run(model, UPDATE_STATUS)).toBe(0);
    expect(await run(model, UPDATE_STATUS)).toBe(0);
    expect(statusSets(model)).toBe(4);
  });
});

describe('the memo functions', () => {
  const at = 1_000_000_000_000;
  const memo = { unit: 'api/0', status: 'active' as const, message: 'ready', setAt: at };

  test('memoShows: same unit, status and message, set less than an hour ago', () => {
    const ready = { status: 'active' as const, message: 'ready' };
    expect(memoShows(memo, 'api/0', ready, at)).toBe(true);
    expect(memoShows(memo, 'api/0', ready, at + STATUS_MEMO_MAX_AGE_MS - 1)).toBe(true);
    expect(memoShows(memo, 'api/0', ready, at + STATUS_MEMO_MAX_AGE_MS)).toBe(false);
    expect(memoShows(memo, 'api/0', ready, at - 1)).toBe(false);
    expect(memoShows(memo, 'api/1', ready, at)).toBe(false);
    expect(memoShows(memo, 'api/0', { status: 'active', message: '' }, at)).toBe(false);
    expect(memoShows(undefined, 'api/0', ready, at)).toBe(false);
  });

  test('parseStatusMemo takes only what the runtime writes', () => {
    expect(parseStatusMemo(JSON.stringify({ v: 1, ...memo }))).toEqual(memo);
    for (const bad of [
      '',
      'null',
      '[]',
      JSON.stringify(memo),
      JSON.stringify({ v: 1, ...memo, status: 'error' }),
      JSON.stringify({ v: 1, ...memo, setAt: '1' }),
      JSON.stringify({ v: 1, ...memo, message: 1 }),
    ])
      expect(parseStatusMemo(bad)).toBeUndefined();
  });

  test('takeStatusMemo moves it aside; restore puts it back; save replaces it and leaves nothing else', async () => {
    saveStatusMemo(charmDir, memo);
    expect(takeStatusMemo(charmDir, 'api/0')).toEqual(memo);
    expect(takeStatusMemo(charmDir, 'api/0')).toBeUndefined();
    restoreStatusMemo(charmDir, 'api/0');
    expect(takeStatusMemo(charmDir, 'api/0')).toEqual(memo);
    saveStatusMemo(charmDir, { ...memo, message: 'busy' });
    expect(await readdir(charmDir)).toEqual(['.turku-status-api-0.json']);
    expect(takeStatusMemo(charmDir, 'api/0')).toEqual({ ...memo, message: 'busy' });
    restoreStatusMemo('', 'api/0');
    saveStatusMemo('', memo);
    expect(takeStatusMemo('', 'api/0')).toBeUndefined();
  });
});
