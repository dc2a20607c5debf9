import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { startTestApi, type TestApi } from '../../tests/support/api-harness.js';
import { createAuth, listBackups, listSources } from '../api/admin/commands.js';
import { tryLock } from '../common/lock.js';
import { createWorkloadLogger } from '../common/workload-log.js';
import { recoverAbandonedSessions } from './abandoned-sessions.js';
import { storagePing } from './ping.js';
import { enterScratch, scratchDirectory } from './scratch.js';
import { journalPath, leftoverResult, SessionJournal, sessionLockName } from './session-journal.js';
import { parseStorageSettings, type StorageSettings } from './settings.js';
import { updateStorageConfig } from './update-config.js';

/**
 * Issue 17 item 9, in-process: a killed session leaves a journal and scratch files; the next
 * session of the machine (or turku-storage-update-config) reports each source it left as a
 * failure with a reason, and removes the scratch files. The real kill is in
 * tests/e2e/probe-storage-faults.test.ts.
 */

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3nG1wH6lT6Dk5y8Q0tK0c0mYd8x5c7b3X0oS3Q7yZ1 turku';
const UUID = '3c0e6b1e-6c1c-4c07-9d0e-2f6b9d1a7e55';

let api: TestApi;
let dir: string;
let settings: StorageSettings;

beforeAll(async () => {
  api = await startTestApi('sqlite');
  dir = await mkdtemp(join(tmpdir(), 'turku-abandoned-'));
  await mkdir(join(dir, 'volume'));
  settings = parseStorageSettings({
    name: 'primary',
    secret: 'storage-secret-0123456789',
    api_url: api.url,
    volumes: { main: { path: join(dir, 'volume') } },
    ssh_ping_host: '10.0.0.1',
    ssh_ping_host_keys: [],
    authorized_keys_file: join(dir, 'authorized_keys'),
    lock_dir: dir,
    var_dir: join(dir, 'var'),
    log_file: '',
  });
  const storageAuth = await createAuth(api.api.ctx, 'storage_reg');
  await updateStorageConfig(settings, { log: quiet(), authName: storageAuth.name, authSecret: storageAuth.secret });
  const machineAuth = await createAuth(api.api.ctx, 'machine_reg');
  const registered = await api.post('update_config', {
    auth: machineAuth,
    machine: {
      uuid: UUID,
      secret: 'machine-secret-0123456789',
      unit_name: 'sql/2',
      ssh_public_key: KEY,
      sources: { etc: { path: '/etc' }, home: { path: '/home' } },
    },
  });
  expect(registered.status).toBe(200);
  await updateStorageConfig(settings, { log: quiet() });
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

function quiet() {
  return createWorkloadLogger({ name: 'primary', consoleLevel: 'debug', console: () => undefined });
}

/** What a session killed during the pull of `etc` leaves: its journal entry and a scratch file. */
async function killedSession(begin: Date, scratchWrittenAt: Date): Promise<void> {
  const journal = await SessionJournal.open(settings.var_dir, UUID, (problem) => {
    throw new Error(problem);
  });
  await journal.pulling('etc', begin.getTime() / 1000);
  const scratch = scratchDirectory(settings.var_dir, UUID);
  await mkdir(join(scratch, 'turku-output-x'), { recursive: true });
  await writeFile(join(scratch, 'turku-output-x', 'output'), 'etc/passwd\n');
  const { utimes } = await import('node:fs/promises');
  for (const path of [join(scratch, 'turku-output-x', 'output'), join(scratch, 'turku-output-x'), scratch]) {
    await utimes(path, scratchWrittenAt, scratchWrittenAt);
  }
}

test('the journal: entered before the pull, gone once reported; a lost report keeps the result', async () => {
  const journal = await SessionJournal.open(settings.var_dir, UUID, () => undefined);
  await journal.pulling('etc', 1000);
  expect((await stat(journalPath(settings.var_dir, UUID))).mode & 0o777).toBe(0o600);
  const result = { success: true, snapshot: 's', summary: null, time_begin: 1000, time_end: 1010 };
  await journal.unreported('etc', result);
  expect((await SessionJournal.open(settings.var_dir, UUID, () => undefined)).leftovers(undefined)).toEqual([
    ['etc', result],
  ]);
  await journal.reported('etc');
  await expect(stat(journalPath(settings.var_dir, UUID))).rejects.toMatchObject({ code: 'ENOENT' });
});

test('a journal rewritten by root (turku-storage-update-config) stays its directory owner’s', async () => {
  const journals = join(settings.var_dir, 'sessions');
  await mkdir(journals, { recursive: true, mode: 0o700 });
  const { chown } = await import('node:fs/promises');
  await chown(journals, 65534, 65534);
  try {
    const journal = await SessionJournal.open(settings.var_dir, UUID, () => undefined);
    await journal.pulling('etc', 1000);
    expect(await stat(journalPath(settings.var_dir, UUID))).toMatchObject({ uid: 65534, gid: 65534 });
    await journal.reported('etc');
  } finally {
    await chown(journals, 0, 0);
  }
});

test('an abandoned pull is a failure that says when the session was last seen alive', () => {
  const result = leftoverResult(
    { state: 'pulling', time_begin: Date.parse('2026-01-02T03:04:05Z') / 1000 },
    new Date('2026-01-02T03:09:00Z'),
  );
  expect(result).toEqual({
    success: false,
    snapshot: null,
    summary:
      "the storage's session ended unexpectedly (killed or crashed) at 2026-01-02T03:09:00Z, " +
      'during the pull begun at 2026-01-02T03:04:05Z',
    time_begin: Date.parse('2026-01-02T03:04:05Z') / 1000,
    time_end: Date.parse('2026-01-02T03:09:00Z') / 1000,
  });
});

test('the next session reports the abandoned source as failed, and sweeps the scratch files', async () => {
  await killedSession(new Date('2026-01-02T03:04:05Z'), new Date('2026-01-02T03:06:07Z'));
  const lines: string[] = [];
  const log = createWorkloadLogger({ name: 'primary', consoleLevel: 'debug', console: (line) => lines.push(line) });
  const input = new PassThrough();
  input.end('{"port": 50001, "sources": {}}\n.\n');
  expect(await storagePing(settings, { uuid: UUID, input, log })).toBe(0);
  const [report] = await listBackups(api.api.ctx, 1);
  expect(report).toMatchObject({
    source: 'etc',
    success: false,
    skipped: false,
    summary:
      "the storage's session ended unexpectedly (killed or crashed) at 2026-01-02T03:06:07Z, " +
      'during the pull begun at 2026-01-02T03:04:05Z',
  });
  const [etc] = (await listSources(api.api.ctx, UUID)).filter((source) => source.name === 'etc');
  expect(etc).toMatchObject({ failure_count: 1 });
  await expect(stat(journalPath(settings.var_dir, UUID))).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await readdir(join(settings.var_dir, 'scratch'))).toEqual([]);
});

test('turku-storage-update-config reports it too, but never while a session holds the machine', async () => {
  await killedSession(new Date('2026-01-03T00:00:00Z'), new Date('2026-01-03T00:01:00Z'));
  const held = await tryLock(settings.lock_dir, sessionLockName(UUID));
  try {
    expect(await recoverAbandonedSessions(settings, quiet())).toBe(0);
    expect((await readdir(scratchDirectory(settings.var_dir, UUID))).length).toBe(1);
  } finally {
    await held!.release();
  }
  expect(await recoverAbandonedSessions(settings, quiet())).toBe(1);
  // The test API's clock stands still: find the entry by its text, not by its place.
  const reports = await listBackups(api.api.ctx, 100);
  expect(
    reports.filter((row) =>
      row.summary?.endsWith('at 2026-01-03T00:01:00Z, during the pull begun at 2026-01-03T00:00:00Z'),
    ),
  ).toMatchObject([{ source: 'etc', success: false }]);
  await expect(stat(journalPath(settings.var_dir, UUID))).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await readdir(join(settings.var_dir, 'scratch'))).toEqual([]);
});

test('a session’s temporary directory is its private scratch directory, removed at its end', async () => {
  // TMPDIR, which os.tmpdir() reads on each call (jest gives tests their own copy of the
  // environment, so os.tmpdir() itself is checked in tests/e2e/probe-storage-faults.test.ts).
  const outside = process.env.TMPDIR;
  const scratch = await enterScratch(settings.var_dir, UUID);
  const inside = process.env.TMPDIR ?? '';
  try {
    expect(inside).toBe(scratch.dir);
    expect((await stat(scratch.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(settings.var_dir, 'scratch'))).mode & 0o777).toBe(0o700);
    await writeFile(join(inside, 'x'), 'x');
  } finally {
    await scratch.leave();
  }
  expect(process.env.TMPDIR).toBe(outside);
  await expect(stat(inside)).rejects.toMatchObject({ code: 'ENOENT' });
});
