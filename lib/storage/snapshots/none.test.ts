import { jest } from '@jest/globals';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { captureLog, describeTree, descriptor, makeJob, removeDir, tempDir } from './__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from './__tests__/rsync-daemon.js';
import { runSnapshotMode } from './index.js';

// Real rsync daemons and borg processes: generous for a loaded CI machine.
jest.setTimeout(30_000);

let root: string;
let source: string;
let machineDir: string;
let daemon: RsyncDaemon;

beforeAll(async () => {
  root = await tempDir('none');
  source = join(root, 'source');
  machineDir = join(root, 'machine');
  await mkdir(join(source, 'sub'), { recursive: true });
  await mkdir(machineDir);
  await writeFile(join(source, 'sub', 'file'), 'one\n');
  await writeFile(join(source, 'skip.log'), 'noise\n');
  daemon = await startRsyncDaemon({ data: { path: source } });
});

afterAll(async () => {
  await daemon.stop();
  await removeDir(root);
});

describe('none mode', () => {
  test('mirrors in place, with no snapshot, summary or retention', async () => {
    const log = captureLog();
    const job = makeJob(
      { machineDir, varDir: join(root, 'var'), url: daemon.url('data'), password: daemon.password, log },
      { descriptor: descriptor({ retention: 'last 1 snapshot', exclude: ['*.log'] }) },
    );
    expect(await runSnapshotMode('none', job)).toEqual({ success: true, snapshot: null, summary: null });
    await writeFile(join(source, 'sub', 'file'), 'two\n');
    // Same size: rsync's quick check needs another mtime to notice the change.
    await utimes(join(source, 'sub', 'file'), new Date('2021-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z'));
    await writeFile(join(machineDir, 'data', 'gone'), 'deleted by --delete');
    expect(await runSnapshotMode('none', job)).toEqual({ success: true, snapshot: null, summary: null });

    expect(await readdir(machineDir)).toEqual(['data']);
    const expected = await describeTree(source);
    delete expected['skip.log'];
    expect(await describeTree(join(machineDir, 'data'))).toEqual(expected);
    for (const running of log.at('debug').filter((line) => line.startsWith('Running: '))) {
      expect(running).toContain(' --inplace ');
      expect(running).not.toContain('--link-dest');
    }
  });

  test('an rsync failure is reported', async () => {
    const job = makeJob({
      machineDir,
      varDir: join(root, 'var'),
      url: daemon.url('data'),
      password: 'wrong',
      log: captureLog(),
    });
    expect(await runSnapshotMode('none', job)).toEqual({
      success: false,
      snapshot: null,
      summary: 'agent refused credentials (rsync exit code 5)',
    });
  });
});
