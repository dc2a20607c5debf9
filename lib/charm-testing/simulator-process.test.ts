// The simulator driving a real `dispatch` executable through the tool server (CharmExecutor
// kind 'process'): the same argv a charm on a machine would send.
import { jest } from '@jest/globals';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCharmMeta } from '../charm-pack/charm-meta.js';
import { ModelSimulator } from './simulator.js';
import { ToolServer } from './tool-server.js';

jest.setTimeout(60_000);

let server: ToolServer;
beforeAll(async () => {
  server = await ToolServer.start();
});
afterAll(async () => {
  await server.close();
});

test('a process charm runs every hook through dispatch and its relation-set reaches the remote unit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-charm-'));
  const log = join(dir, 'events.log');
  const dispatch = join(dir, 'dispatch');
  writeFileSync(
    dispatch,
    `#!/bin/sh
echo "$JUJU_UNIT_NAME $JUJU_DISPATCH_PATH" >> ${log}
case "$JUJU_DISPATCH_PATH" in
  hooks/backup-relation-created) relation-set -r "$JUJU_RELATION_ID" greeting=hello || exit 1 ;;
esac
exit 0
`,
  );
  chmodSync(dispatch, 0o755);
  const sim = new ModelSimulator({ seed: 1, toolServer: server });
  await sim.deploy('api', {
    meta: parseCharmMeta('name: api\nsummary: s\ndescription: d\nrequires:\n  backup: {interface: backup}\n'),
    executor: { kind: 'process', dispatch, charmDir: dir },
  });
  let seen = '';
  await sim.deploy('store', {
    meta: parseCharmMeta('name: store\nsummary: s\ndescription: d\nprovides:\n  backup: {interface: backup}\n'),
    executor: {
      kind: 'in-process',
      run: async (io) => {
        if (io.env['JUJU_HOOK_NAME'] === 'backup-relation-changed') {
          seen = (await io.runner.run('relation-get', ['greeting', io.env['JUJU_REMOTE_UNIT'] ?? ''])).stdout.trim();
        }
        return 0;
      },
    },
  });
  await sim.integrate('api', 'store');
  await sim.settle();
  expect(seen).toBe('hello');
  expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
    'api/0 hooks/install',
    'api/0 hooks/backup-relation-created',
    'api/0 hooks/leader-elected',
    'api/0 hooks/config-changed',
    'api/0 hooks/start',
    'api/0 hooks/backup-relation-joined',
    'api/0 hooks/backup-relation-changed',
  ]);
});

test('[substrate] a hook that outlives hookTimeoutMs is killed and fails the unit, saying so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-charm-'));
  const dispatch = join(dir, 'dispatch');
  // install never ends; a hook that would run after it would leave this mark.
  writeFileSync(
    dispatch,
    `#!/bin/sh
case "$JUJU_DISPATCH_PATH" in
  hooks/install) exec sleep 600 ;;
esac
touch ${join(dir, 'ran-after')}
`,
  );
  chmodSync(dispatch, 0o755);
  const sim = new ModelSimulator({ seed: 1, toolServer: server, hookTimeoutMs: 500 });
  await sim.deploy('api', {
    meta: parseCharmMeta('name: api\nsummary: s\ndescription: d\n'),
    executor: { kind: 'process', dispatch, charmDir: dir },
  });
  const started = Date.now();
  await sim.settle();
  expect(Date.now() - started).toBeLessThan(10_000);
  const unit = (sim.status() as { applications: { api: { units: Record<string, unknown> } } }).applications.api.units[
    'api/0'
  ];
  expect(unit).toMatchObject({ 'workload-status': { current: 'error', message: 'hook failed: "install"' } });
  expect(sim.model.logs.map((line) => line.message)).toContain('install did not finish within 0.5 s: killed');
  expect(existsSync(join(dir, 'ran-after'))).toBe(false);
});

test('[substrate] the time limit reaches what the hook started: TERM first, then KILL for what ignores it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-charm-'));
  const dispatch = join(dir, 'dispatch');
  // A wrapper's shape: the hook is a child of dispatch, not dispatch itself. One grandchild
  // notes the TERM it gets; the other ignores TERM and only KILL ends it.
  writeFileSync(
    dispatch,
    `#!/bin/sh
sh -c 'trap "touch ${join(dir, 'got-term')}; exit 0" TERM; echo $$ > ${join(dir, 'polite.pid')}; while :; do sleep 0.1; done' &
sh -c 'trap "" TERM; echo $$ > ${join(dir, 'stubborn.pid')}; while :; do sleep 0.1; done' &
wait
`,
  );
  chmodSync(dispatch, 0o755);
  const sim = new ModelSimulator({ seed: 1, toolServer: server, hookTimeoutMs: 500 });
  await sim.deploy('api', {
    meta: parseCharmMeta('name: api\nsummary: s\ndescription: d\n'),
    executor: { kind: 'process', dispatch, charmDir: dir },
  });
  await sim.settle();
  expect(sim.model.logs.map((line) => line.message)).toContain('install did not finish within 0.5 s: killed');
  expect(existsSync(join(dir, 'got-term'))).toBe(true);
  for (const name of ['polite.pid', 'stubborn.pid']) {
    const pid = Number(readFileSync(join(dir, name), 'utf8'));
    expect([name, await endsWithin(pid, 5_000)]).toEqual([name, true]);
  }
});

/** Whether the process is gone (or a zombie, killed and waiting for its reaper) within `ms`. */
async function endsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    let state: string;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? '';
    } catch {
      return true;
    }
    if (state === 'Z' || state === 'X') return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
