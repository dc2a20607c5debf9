import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execa } from 'execa';

import { AGENT_SOCKET, dispatchWrapper, TOOLS_DIR, toolScript } from './hook-scripts.js';

const run = promisify(execFile);

describe('the dispatch wrapper of a charm in LXD machines', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lxd-hook-scripts-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** Runs the wrapper with a fake `lxc` that records each call and plays a machine whose charm stamp is `stamp`. */
  async function dispatch(stamp: string): Promise<string[][]> {
    const charm = join(dir, 'charm');
    await run('mkdir', ['-p', join(charm, 'node', 'amd64'), join(charm, 'node', 'arm64')]);
    await writeFile(join(charm, '.unpacked-from'), '123 456\n');
    const calls = join(dir, 'calls');
    await writeFile(
      join(dir, 'lxc'),
      [
        '#!/bin/sh',
        `printf '%s\\0' "$@" >> ${calls}; printf '\\n' >> ${calls}`,
        `case "$*" in *"cat "*.unpacked-from*) printf '${stamp}' ;; esac`,
        `case "$*" in *"tar -xf"*) cat > /dev/null ;; esac`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const wrapper = join(dir, 'dispatch');
    await writeFile(
      wrapper,
      dispatchWrapper({
        hostCharmDir: charm,
        containerPrefix: 'turku-m-m',
        skipNodeArchs: ['arm64'],
        hooksLog: join(dir, 'hooks.log'),
      }),
      { mode: 0o755 },
    );
    // As the simulator runs a dispatch: stdin the null device, only the hook environment.
    await execa(wrapper, [], {
      stdin: 'ignore',
      extendEnv: false,
      env: {
        PATH: `${dir}:/usr/bin:/bin`,
        JUJU_MACHINE_ID: '0/lxd/2',
        JUJU_UNIT_NAME: 'turku-api/0',
        JUJU_DISPATCH_PATH: 'hooks/install',
        JUJU_CHARM_DIR: charm,
        JUJU_AGENT_SOCKET_ADDRESS: '/tmp/host.sock',
        JUJU_RELATION_ID: 'db:3',
        OTHER: 'not passed',
      },
    });
    const text = await readFile(calls, 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\0').slice(0, -1));
  }

  it('runs the real dispatch in the unit machine with the hook environment and the machine paths', async () => {
    const calls = await dispatch('123 456\n');
    const last = calls.at(-1)!;
    const charmDir = '/var/lib/juju/agents/unit-turku-api-0/charm';
    expect(last.slice(0, 4)).toEqual(['exec', 'turku-m-m0-lxd-2', '--cwd', charmDir]);
    expect(last.at(-1)).toBe(`${charmDir}/dispatch`);
    const env = last.flatMap((arg, i) => (last[i - 1] === '--env' ? [arg] : []));
    expect(env).toEqual(
      expect.arrayContaining([
        'JUJU_UNIT_NAME=turku-api/0',
        'JUJU_RELATION_ID=db:3',
        `JUJU_CHARM_DIR=${charmDir}`,
        `JUJU_AGENT_SOCKET_ADDRESS=${AGENT_SOCKET}`,
      ]),
    );
    expect(env.find((e) => e.startsWith('PATH='))).toMatch(new RegExp(`^PATH=${TOOLS_DIR}:`));
    // The host's paths and other variables stay on the host.
    expect(env.filter((e) => e.includes('/tmp/host.sock') || e.startsWith('OTHER=') || e.includes(dir))).toEqual([]);
    // The charm is in place already (same stamp): no copy.
    expect(calls.filter((call) => call.includes('tar'))).toEqual([]);
    expect(await readFile(join(dir, 'hooks.log'), 'utf8')).toMatch(/turku-api\/0 hooks\/install exit=0/);
  });

  it('copies the charm first when the machine has another version', async () => {
    const calls = await dispatch('old\n');
    expect(
      calls.some((call) => call.join(' ').includes('tar -xf - -C /var/lib/juju/agents/unit-turku-api-0/charm')),
    ).toBe(true);
  });

  it('runs each hook tool on the charm Node.js of the machine architecture', () => {
    const script = toolScript('relation-get');
    expect(script).toMatch(/x86_64\) arch=amd64/);
    expect(script).toMatch(/exec "\$JUJU_CHARM_DIR\/node\/\$arch\/bin\/node" \S+\/relation-get "\$@"/);
  });
});
