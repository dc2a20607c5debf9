import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { UserError } from '../common/errors.js';
import { formatInZone, localTimeZone } from '../turku/as-of.js';
import {
  captureIo,
  fakeSshRun,
  registeredAgent,
  removeTempDirs,
  tempDir,
  waitFor,
  writeSources,
  type RegisteredAgent,
} from './__tests__/helpers.js';
import { chooseStorage, type StorageGroup } from './groups.js';
import { NO_MANIFEST } from './restore-verify.js';
import { runAgentPing } from './ping.js';
import {
  restoreInfoText,
  STAGED_NOTE,
  storageTreeText,
  UNSUPPORTED_AS_OF,
  UNSUPPORTED_PATH,
  UNSUPPORTED_SCRIPTED_RESTORE,
} from './restore.js';

afterAll(removeTempDirs);

const group = (name: string, sources: string[]): StorageGroup => ({
  storage: {
    name,
    ssh_ping_host: `${name}.example.com`,
    ssh_ping_host_keys: [],
    ssh_ping_port: 22,
    ssh_ping_user: 'u',
  },
  sources,
});

describe('restore output', () => {
  it('prints the storage tree as docs/datapath.md "Restores" shows', () => {
    expect(storageTreeText([group('primary', ['etc', 'home'])])).toBe(
      "This machine's sources are on the following storage units:\n    primary\n        etc\n        home\n\n",
    );
  });

  it('prints the information block as docs/datapath.md "Restores" shows', () => {
    expect(
      restoreInfoText({
        settings: { environment_name: 'prod', service_name: 'sql', unit_name: 'sql/2' },
        uuid: '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d',
        storage: 'primary',
        target: '/var/backups/turku-agent/restore',
        port: 64951,
        module: {
          name: 'turku-restore',
          username: 'ae2eb154-7f15-4524-b4b9-b5df9e7769b1',
          password: 'IBXuDL7DxtpYlSXpfKtHF4vUCsMehG',
        },
      }),
    ).toBe(
      [
        'Machine UUID: 9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d',
        'Machine environment: prod',
        'Machine service: sql',
        'Machine unit: sql/2',
        'Storage unit: primary',
        'Local destination path: /var/backups/turku-agent/restore',
        'Sample restore usage from storage unit:',
        '    cd /var/lib/turku-storage/machines/9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d/',
        '    RSYNC_PASSWORD=IBXuDL7DxtpYlSXpfKtHF4vUCsMehG rsync -avzP --numeric-ids ${P?}/ ' +
          'rsync://ae2eb154-7f15-4524-b4b9-b5df9e7769b1@127.0.0.1:64951/turku-restore/',
        '',
        '',
      ].join('\n'),
    );
  });

  it('leaves out the environment and service when they are not set', () => {
    const text = restoreInfoText({
      settings: { environment_name: undefined, service_name: undefined, unit_name: 'web-1' },
      uuid: 'u',
      storage: 's',
      target: '/r',
      port: 1,
      module: { name: 'm', username: 'a', password: 'b' },
    });
    expect(text.split('\n').slice(0, 2)).toEqual(['Machine UUID: u', 'Machine unit: web-1']);
  });
});

describe('storage choice', () => {
  const one = [group('primary', ['etc'])];
  const two = [group('primary', ['etc']), group('secondary', ['home'])];

  it('takes the only storage, or the named one', () => {
    expect(chooseStorage(one, undefined).storage.name).toBe('primary');
    expect(chooseStorage(two, 'secondary').storage.name).toBe('secondary');
  });

  it('says what is wrong otherwise', () => {
    expect(() => chooseStorage(two, undefined)).toThrow(
      new UserError('Multiple storages found.  Please use --restore-storage to specify one.'),
    );
    expect(() => chooseStorage(one, 'tertiary')).toThrow(new UserError('Cannot find appropriate storage "tertiary"'));
  });
});

let agent: RegisteredAgent | undefined;
afterEach(async () => {
  await agent?.api.close();
  agent = undefined;
});

/** An original-style storage: announces restore mode and holds the session until end-of-file. */
const HOLD = `
  log('INFO', 'Restore mode active on port ' + port + '.  Good luck.');
  await waitForEof();
  process.exit(0);
`;

describe('interactive restore (--restore)', () => {
  it('prints the documented output, accepts a push with the printed credentials and ends on Ctrl-C', async () => {
    agent = await registeredAgent(HOLD, { config: { environment_name: 'prod' } });
    const io = captureIo();
    const running = runAgentPing(['-c', agent.tree.configDir, '--restore'], io);
    try {
      await waitFor(() => io.err().includes('Restore mode active'));

      const restorePath = join(agent.tree.root, '..', 'restore');
      const output = io.out();
      const match = /RSYNC_PASSWORD=(\w+) rsync -avzP --numeric-ids \$\{P\?\}\/ (rsync:\/\/[^ \n]+)\n/.exec(output);
      expect(match).not.toBeNull();
      const [, password, url] = match!;
      const port = Number(/127\.0\.0\.1:(\d+)\//.exec(url!)![1]);
      expect(output).toBe(
        'Entering restore mode.\n\n' +
          "This machine's sources are on the following storage units:\n    primary\n        etc\n        home\n\n" +
          `Machine UUID: ${agent.uuid}\nMachine environment: prod\nMachine unit: sql/2\nStorage unit: primary\n` +
          `Local destination path: ${(await fakeSshRestorePath(agent)) ?? restorePath}\n` +
          'Sample restore usage from storage unit:\n' +
          `    cd /var/lib/turku-storage/machines/${agent.uuid}/\n` +
          `    RSYNC_PASSWORD=${password} rsync -avzP --numeric-ids \${P?}/ ${url}\n\n` +
          `${STAGED_NOTE}\n\n`,
      );
      expect(io.err()).toBe(
        `[2024-12-15 07:00:00,000 primary] INFO: Restore mode active on port ${port}.  Good luck.\n`,
      );
      const seen = (await fakeSshRun(agent.record, 1))!;
      expect(seen.input).toBe(`{"verbose":true,"action":"restore","port":${port}}\n.\n`);

      // The operator's push from the storage side lands in the restore directory.
      const source = await tempDir();
      await writeFile(join(source, 'restored.txt'), 'back again\n');
      const push = await execa('rsync', ['-a', `${source}/`, url!], {
        env: { RSYNC_PASSWORD: password! },
        reject: false,
      });
      expect(push.stderr).toBe('');
    } finally {
      io.interrupt(); // ends the session even when an expectation failed
    }
    expect(await running).toBe(0);
    expect((await fakeSshRun(agent.record, 1))!.eof).toBe(true);
    // Staged during the session, moved in when it ended; the target keeps its own 0700.
    const target = (await fakeSshRestorePath(agent))!;
    expect(io.out().split('\n').at(-2)).toBe(`Session ended; what the storage pushed is in ${target}`);
    expect(await readFile(join(target, 'restored.txt'), 'utf8')).toBe('back again\n');
    expect((await stat(target)).mode & 0o777).toBe(0o700);
  }, 30_000);

  it('ends by itself after --restore-timeout', async () => {
    agent = await registeredAgent(HOLD);
    const io = captureIo();
    const started = Date.now();
    expect(await runAgentPing(['-c', agent.tree.configDir, '--restore', '--restore-timeout', '0.5'], io)).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await fakeSshRun(agent.record, 1))!.eof).toBe(true);
    // Created for the session, for root only (a push with rsync -a may change it later).
    expect((await stat((await fakeSshRestorePath(agent))!)).mode & 0o777).toBe(0o700);
  }, 30_000);

  it('says so when no local source has a storage', async () => {
    agent = await registeredAgent(HOLD);
    await writeSources(agent.tree, { other: { path: '/srv' } });
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir, '--restore'], io)).toBe(1);
    expect(io.out()).toBe('Entering restore mode.\n\n');
    expect(io.err()).toBe('turku-agent-ping: Cannot find any appropriate sources.\n');
  }, 30_000);

  it('refuses an unknown --restore-storage', async () => {
    agent = await registeredAgent(HOLD);
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir, '--restore', '--restore-storage', 'other'], io)).toBe(1);
    expect(io.err()).toBe('turku-agent-ping: Cannot find appropriate storage "other"\n');
    expect(await fakeSshRun(agent.record, 1)).toBeUndefined();
  }, 30_000);
});

/** The restore directory the agent used (from the daemon it offered, via the printed block). */
async function fakeSshRestorePath(registered: RegisteredAgent): Promise<string | undefined> {
  const config = JSON.parse(await readFile(join(registered.tree.configDir, 'config.d', '50-test.json'), 'utf8')) as {
    restore_path?: string;
  };
  return config.restore_path;
}

/** Our storage's scripted restore: pushes a "snapshot" into the offered module, then says so. */
const SCRIPTED = `
  await waitForEof(); // the agent ends stdin right after the request
  const { restore } = request;
  const snapshot = require('node:path').dirname(counter) + '/snapshot/';
  require('node:fs').mkdirSync(snapshot + 'sub', { recursive: true });
  require('node:fs').writeFileSync(snapshot + 'sub/file.txt', 'from the snapshot\\n');
  const result = rsync(['-a', snapshot, 'rsync://' + restore.username + '@127.0.0.1:' + port + '/' + restore.module + '/'], restore.password);
  if (result.status !== 0) { log('ERROR', 'rsync failed: ' + result.stderr.trim()); process.exit(1); }
  log('INFO', 'Scripted restore finished: ' + restore.source + ' snapshot etc-2024-12-15T06:40:00');
  process.exit(0);
`;

describe('scripted restore (--restore-source)', () => {
  it('asks the storage to push the snapshot and reports the result', async () => {
    agent = await registeredAgent(SCRIPTED);
    const target = join(await tempDir(), 'new', 'target');
    const io = captureIo();
    const code = await runAgentPing(
      ['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-target', target],
      io,
    );
    expect(io.err()).toBe(
      '[2024-12-15 07:00:00,000 primary] INFO: Scripted restore finished: etc snapshot etc-2024-12-15T06:40:00\n',
    );
    expect(code).toBe(0);
    expect(io.out()).toBe(`Restored etc (latest) from primary into ${target}\n`);
    expect(await readFile(join(target, 'sub', 'file.txt'), 'utf8')).toBe('from the snapshot\n');

    const seen = (await fakeSshRun(agent.record, 1))!;
    const restore = (seen.request as unknown as { restore: { username: string; password: string } }).restore;
    expect(seen.input).toBe(
      `{"verbose":true,"action":"restore","port":${seen.request!.port},"restore":{"source":"etc","snapshot":"latest",` +
        `"module":"turku-restore","username":"${restore.username}","password":"${restore.password}","progress":true}}\n.\n`,
    );
    expect(seen.eof).toBe(true);
  }, 30_000);

  it('tells an original storage apart and points at the interactive session', async () => {
    agent = await registeredAgent(HOLD);
    const io = captureIo();
    const code = await runAgentPing(
      ['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-snapshot', 'etc-2024-12-14T06:40:00'],
      io,
    );
    expect(code).toBe(1);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(`turku-agent-ping: ${UNSUPPORTED_SCRIPTED_RESTORE}`);
    expect(io.out()).toBe('');
  }, 30_000);

  it('fails with the storage’s last error', async () => {
    agent = await registeredAgent(`
      log('INFO', 'Looking for snapshot ' + request.restore.snapshot);
      log('ERROR', 'Scripted restore failed: Snapshot "' + request.restore.snapshot + '" of etc not found');
      process.exit(1);`);
    const io = captureIo();
    const code = await runAgentPing(
      ['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-snapshot', 'x'],
      io,
    );
    expect(code).toBe(1);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(
      'turku-agent-ping: Restoring etc from primary failed: Snapshot "x" of etc not found',
    );
  }, 30_000);

  it('shows the storage’s progress, and the snapshot, its time and the totals it reports', async () => {
    agent = await registeredAgent(`
      await waitForEof();
      const { restore } = request;
      const say = (kind, body) => process.stdout.write('turku-restore-' + kind + ' ' + JSON.stringify({ version: 1, ...body }) + '\\n');
      say('progress', { bytes: 0, files: 0, total_bytes: null, total_files: null, seconds: 0 });
      say('progress', { bytes: 5000000, files: 3, total_bytes: 20000000, total_files: 12, seconds: 2 });
      process.stdout.write('something else\\n');
      say('done', { source: restore.source, snapshot: 'etc_20261025-014500_ab12', time: '2026-10-25T01:45:00.000Z',
        path: restore.path ?? null, bytes: 20000000, files: 12, seconds: 4.25, extra: 'ignored' });
      log('INFO', 'Scripted restore finished: ' + restore.source + ' snapshot etc_20261025-014500_ab12');
      process.exit(0);`);
    const target = join(await tempDir(), 'target');
    const io = captureIo();
    const argv = ['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-target', target];
    // The agent's zone decides how times read and show (tests/e2e/restore-asof.test.ts sets TZ for it).
    expect(
      await runAgentPing([...argv, '--restore-as-of', '2026-10-25T01:50:00Z', '--restore-path', 'conf/'], io),
    ).toBe(0);
    const taken = formatInZone(new Date('2026-10-25T01:45:00Z'), localTimeZone());
    // Not a terminal: plain lines, the second one within 5 s of the first is left out.
    expect(io.out()).toBe(
      'Restoring: 0 B, 0 files, 0 B/s\n' +
        'something else\n' +
        `Restored etc path conf snapshot etc_20261025-014500_ab12 (taken ${taken}) from primary into ${target}\n` +
        'Totals: 12 files, 20000000 bytes in 4.3 s\n',
    );
    const seen = (await fakeSshRun(agent.record, 1))!;
    expect(seen.request).toMatchObject({
      restore: { source: 'etc', snapshot: '(as-of)', as_of: '2026-10-25T01:50:00.000Z', path: 'conf', progress: true },
    });
  }, 30_000);

  it('does not keep what a storage without --restore-path support pushed (the whole snapshot)', async () => {
    agent = await registeredAgent(SCRIPTED);
    const parent = await tempDir();
    const io = captureIo();
    const argv = ['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-target', join(parent, 't')];
    expect(await runAgentPing([...argv, '--restore-path', 'sub'], io)).toBe(1);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(`turku-agent-ping: ${UNSUPPORTED_PATH}`);
    expect(await readdir(parent)).toEqual([]);
  }, 30_000);

  it('says when a storage does not know --restore-as-of (it refuses the placeholder snapshot)', async () => {
    agent = await registeredAgent(`
      await waitForEof();
      log('ERROR', 'Scripted restore failed: Snapshot "' + request.restore.snapshot + '" not found for source "etc"');
      process.exit(1);`);
    const io = captureIo();
    const argv = ['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-as-of', '2026-12-01T10:00Z'];
    expect(await runAgentPing(argv, io)).toBe(1);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(`turku-agent-ping: ${UNSUPPORTED_AS_OF}`);
  }, 30_000);

  it.each([
    [
      ['--restore-source', 'etc', '--restore-snapshot', 'x', '--restore-as-of', '2026-12-01'],
      'Give --restore-snapshot or --restore-as-of, not both',
    ],
    [['--restore', '--restore-as-of', '2026-12-01'], '--restore-as-of and --restore-path need --restore-source'],
    [['--restore', '--verify'], '--verify needs --restore-source'],
    [['--restore-source', 'etc', '--restore-path', '../etc'], '--restore-path "../etc": it contains ..'],
    [
      ['--restore-source', 'etc', '--restore-path', '/etc'],
      '--restore-path "/etc": it is absolute; give it relative to the source, e.g. etc/ssh',
    ],
    [
      ['--restore-source', 'etc', '--restore-as-of', 'yesterday'],
      '--restore-as-of: "yesterday" names a day but not a time of day; add one, e.g. "yesterday 14:00"',
    ],
  ])(
    'refuses %j with exit 2 before asking anything',
    async (args, message) => {
      agent = await registeredAgent(SCRIPTED);
      const io = captureIo();
      expect(await runAgentPing(['-c', agent.tree.configDir, ...args], io)).toBe(2);
      expect(io.err()).toBe(`turku-agent-ping: ${message}\n`);
      expect(await fakeSshRun(agent.record, 1)).toBeUndefined();
    },
    30_000,
  );

  it('leaves a source the API does not list to the storage to judge', async () => {
    agent = await registeredAgent(`
      await waitForEof();
      log('ERROR', 'Scripted restore failed: No backups of source "' + request.restore.source + '" on this storage');
      process.exit(1);`);
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir, '--restore-source', 'nope'], io)).toBe(1);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(
      'turku-agent-ping: Restoring nope from primary failed: No backups of source "nope" on this storage',
    );
    expect((await fakeSshRun(agent.record, 1))?.request).toMatchObject({ restore: { source: 'nope' } });
  }, 30_000);

  it('--verify against a storage that sends no manifest: restored, said plainly, exit 1', async () => {
    agent = await registeredAgent(SCRIPTED);
    const target = join(await tempDir(), 'target');
    const io = captureIo();
    const argv = ['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-target', target, '--verify'];
    expect(await runAgentPing(argv, io)).toBe(1);
    expect(io.out()).toBe(`Restored etc (latest) from primary into ${target}\nNot verified: ${NO_MANIFEST}\n`);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(`turku-agent-ping: Restored, but not verified: ${NO_MANIFEST}`);
    expect(await readFile(join(target, 'sub', 'file.txt'), 'utf8')).toBe('from the snapshot\n');
    expect((await fakeSshRun(agent.record, 1))?.request).toMatchObject({ restore: { progress: true, verify: true } });
  }, 30_000);
});

it('creates the default restore directory from restore_path', async () => {
  agent = await registeredAgent(SCRIPTED);
  const io = captureIo();
  expect(await runAgentPing(['-c', agent.tree.configDir, '--restore-source', 'etc'], io)).toBe(0);
  const target = (await fakeSshRestorePath(agent))!;
  expect(io.out()).toBe(`Restored etc (latest) from primary into ${target}\n`);
  expect(await readFile(join(target, 'sub', 'file.txt'), 'utf8')).toBe('from the snapshot\n');
}, 30_000);

describe('restore target rules', () => {
  it('refuses a non-empty target with one line and exit 2, before anything is written or asked', async () => {
    agent = await registeredAgent(SCRIPTED);
    const target = await tempDir();
    await writeFile(join(target, 'mine'), 'keep me\n');
    for (const mode of [['--restore-source', 'etc'], ['--restore']]) {
      const io = captureIo();
      expect(await runAgentPing(['-c', agent.tree.configDir, ...mode, '--restore-target', target], io)).toBe(2);
      expect(io.err()).toBe(
        `turku-agent-ping: Restore target ${target} is not empty; empty it, choose another, or merge into it (--restore-merge)\n`,
      );
      expect(io.out()).toBe('');
    }
    expect(await readdir(target)).toEqual(['mine']);
    expect(await fakeSshRun(agent.record, 1)).toBeUndefined();
  }, 30_000);

  it('--restore-merge writes into it and keeps the target’s other entries and mode', async () => {
    agent = await registeredAgent(SCRIPTED);
    const target = await tempDir();
    await chmod(target, 0o710);
    await writeFile(join(target, 'mine'), 'keep me\n');
    const io = captureIo();
    const argv = ['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-target', target, '--restore-merge'];
    expect(await runAgentPing(argv, io)).toBe(0);
    expect((await readdir(target)).sort()).toEqual(['mine', 'sub']);
    expect(await readFile(join(target, 'sub', 'file.txt'), 'utf8')).toBe('from the snapshot\n');
    expect((await stat(target)).mode & 0o777).toBe(0o710);
  }, 30_000);

  it('a failed restore removes the directories it created, and only those', async () => {
    agent = await registeredAgent(`
      await waitForEof();
      const { restore } = request;
      const snapshot = require('node:path').dirname(counter) + '/snapshot/';
      require('node:fs').mkdirSync(snapshot + 'a/b/c', { recursive: true });
      rsync(['-a', snapshot, 'rsync://' + restore.username + '@127.0.0.1:' + port + '/' + restore.module + '/'], restore.password);
      log('ERROR', 'Scripted restore failed: rsync exited with return code 11');
      process.exit(1);`);
    const parent = await tempDir();
    const target = join(parent, 'new', 'target');
    const io = captureIo();
    expect(
      await runAgentPing(['-c', agent.tree.configDir, '--restore-source', 'etc', '--restore-target', target], io),
    ).toBe(1);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(
      'turku-agent-ping: Restoring etc from primary failed: rsync exited with return code 11',
    );
    expect(await readdir(parent)).toEqual([]);
  }, 30_000);
});
