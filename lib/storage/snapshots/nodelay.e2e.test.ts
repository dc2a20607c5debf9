import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { memoryLog } from '../../agent/__tests__/helpers.js';
import { startRsyncDaemon } from '../../agent/rsyncd.js';
import { captureLog, describeTree, removeDir, tempDir } from './__tests__/fixtures.js';
import { pushRestore } from './restore.js';
import { runRsync, rsyncUrl } from './rsync.js';

/**
 * Both ends of a connection to the agent's daemon turn Nagle's algorithm off (docs/datapath.md,
 * "The agent's rsync daemon"): the daemon from its configuration, the storage's rsync from its
 * `--sockopts`, on pulls and restores. Each rsync runs under strace, which records the
 * setsockopt(2) calls it makes; without them the small writes of rsync's protocol wait for delayed
 * acknowledgements, 40 ms at a time.
 */

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await removeDir(dir);
});

const NAGLE_OFF = /setsockopt\(\d+, SOL_TCP, TCP_NODELAY, \[1\], 4\) = 0/;

function traced(traceFile: string): string[] {
  return ['strace', '-f', '-qq', '-e', 'trace=setsockopt,listen', '-o', traceFile, 'rsync'];
}

describe('TCP_NODELAY on the connections to the agent’s rsync daemon', () => {
  it('is set by the daemon and by the storage’s pull and restore push, and the data arrives', async () => {
    const root = await tempDir('turku-nodelay-');
    dirs.push(root);
    const data = join(root, 'data');
    await mkdir(join(data, 'sub'), { recursive: true });
    await writeFile(join(data, 'a.txt'), 'a\n');
    await writeFile(join(data, 'sub', 'b.txt'), 'b\n');
    const restored = join(root, 'restored');
    await mkdir(restored);
    const daemonDir = join(root, 'daemon');
    await mkdir(daemonDir, { mode: 0o700 });
    const credentials = {
      username: 'c8a1f0d2-6b7e-4f7a-9d1e-0f5b7c2a9e31',
      password: 'Q2w9NodelayTestPassword0000000',
    };
    const daemonTrace = join(root, 'daemon.trace');
    const daemon = await startRsyncDaemon({
      command: traced(daemonTrace),
      address: '127.0.0.1',
      uid: 'root',
      gid: '*',
      modules: [
        { name: 'data', path: data, readOnly: true, ...credentials },
        { name: 'turku-restore', path: restored, readOnly: false, ...credentials },
      ],
      dir: daemonDir,
      log: memoryLog(),
    });
    const pullTrace = join(root, 'pull.trace');
    const pushTrace = join(root, 'push.trace');
    const pulled = join(root, 'pulled');
    await mkdir(pulled);
    try {
      const pull = await runRsync({
        rsyncCommand: traced(pullTrace),
        url: rsyncUrl(credentials.username, '127.0.0.1', daemon.port, 'data'),
        password: credentials.password,
        destination: pulled,
        log: captureLog(),
      });
      expect(pull.success).toBe(true);
      const push = await pushRestore({
        rsyncCommand: traced(pushTrace),
        dir: pulled,
        url: rsyncUrl(credentials.username, '127.0.0.1', daemon.port, 'turku-restore'),
        password: credentials.password,
        log: captureLog(),
      });
      expect(push.success).toBe(true);
    } finally {
      await daemon.stop();
    }
    expect(await describeTree(pulled)).toEqual(await describeTree(data));
    expect(await describeTree(restored)).toEqual(await describeTree(data));
    expect(await readFile(pullTrace, 'utf8')).toMatch(NAGLE_OFF);
    expect(await readFile(pushTrace, 'utf8')).toMatch(NAGLE_OFF);
    // The daemon sets it on its listening socket, which every accepted connection inherits (Linux).
    const daemonCalls = await readFile(daemonTrace, 'utf8');
    const listening = /\blisten\((\d+), /.exec(daemonCalls)?.[1];
    expect(listening).toBeDefined();
    expect(daemonCalls).toContain(`setsockopt(${listening}, SOL_TCP, TCP_NODELAY, [1], 4) = 0`);
  }, 60_000);
});
