import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { startTestApi, type TestApi } from '../../tests/support/api-harness.js';
import { createAuth, listBackups, listSources, triggerBackup } from '../api/admin/commands.js';
import { tryLock } from '../common/lock.js';
import { createWorkloadLogger } from '../common/workload-log.js';
import { effectiveMode, storagePing } from './ping.js';
import { parseStorageSettings, type StorageSettings } from './settings.js';
import { updateStorageConfig } from './update-config.js';

/**
 * The forced command's flow, in-process and without ssh: its reading of the request, its lock,
 * the sessions it refuses, and the race of a source that became due after the agent's check-in.
 * Backups through a real tunnel are in tests/e2e/backup.test.ts (and the fault probes beside it).
 */

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3nG1wH6lT6Dk5y8Q0tK0c0mYd8x5c7b3X0oS3Q7yZ1 turku';
const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';

let api: TestApi;
let dir: string;
let settings: StorageSettings;

beforeAll(async () => {
  api = await startTestApi('sqlite');
  dir = await mkdtemp(join(tmpdir(), 'turku-storage-ping-'));
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
  await updateStorageConfig(settings, {
    log: session().log,
    authName: storageAuth.name,
    authSecret: storageAuth.secret,
  });
  const machineAuth = await createAuth(api.api.ctx, 'machine_reg');
  const registered = await api.post('update_config', {
    auth: machineAuth,
    machine: {
      uuid: UUID,
      secret: 'machine-secret-0123456789',
      unit_name: 'sql/2',
      ssh_public_key: KEY,
      sources: { etc: { path: '/etc' } },
    },
  });
  expect(registered.status).toBe(200);
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

function session(input = '') {
  const lines: string[] = [];
  const stream = new PassThrough();
  if (input !== '') stream.write(input);
  const log = createWorkloadLogger({ name: 'primary', consoleLevel: 'debug', console: (line) => lines.push(line) });
  return { stream, log, lines, text: () => lines.join('') };
}

test('end of input before any request aborts the session without calling the API', async () => {
  const s = session();
  s.stream.end();
  expect(await storagePing(settings, { uuid: UUID, input: s.stream, log: s.log })).toBe(1);
  expect(s.text()).toContain('ERROR: session aborted');
  expect(s.text()).not.toContain('API request');
});

test('invalid JSON and a missing port are refused', async () => {
  const bad = session('{not json\n.\n');
  expect(await storagePing(settings, { uuid: UUID, input: bad.stream, log: bad.log })).toBe(1);
  expect(bad.text()).toContain('ERROR: Invalid input JSON');
  const portless = session('{"action": "checkin"}\n.\n');
  expect(await storagePing(settings, { uuid: UUID, input: portless.stream, log: portless.log })).toBe(1);
  expect(portless.text()).toContain('ERROR: Port required');
});

test('a second session for the same machine is refused while the first holds the lock', async () => {
  const held = await tryLock(dir, `turku-storage-ping-${UUID}`);
  try {
    const s = session('{"port": 50000}\n.\n');
    expect(await storagePing(settings, { uuid: UUID, input: s.stream, log: s.log })).toBe(1);
    expect(s.text()).toContain(`Another session for machine ${UUID} is in progress`);
  } finally {
    await held!.release();
  }
});

test('an interactive restore holds the session until the agent closes it, without calling the API', async () => {
  const s = session('{"verbose": true, "action": "restore", "port": 64951}\n.\n');
  let finished = false;
  const done = storagePing(settings, { uuid: UUID, input: s.stream, log: s.log }).then((code) => {
    finished = true;
    return code;
  });
  // The line comes once the session holds; on a busy machine that can take a while.
  for (const deadline = Date.now() + 30_000; !s.text().includes('Restore mode active') && !finished;) {
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Still held a moment later: it waits for the agent, not for a timer.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(finished).toBe(false);
  expect(s.text()).toMatch(
    /\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} primary\] INFO: Restore mode active on port 64951\. {2}Good luck\.\n/,
  );
  s.stream.end();
  expect(await done).toBe(0);
  expect(s.text()).toContain('INFO: Restore mode finished');
  expect(s.text()).not.toContain('API request');
});

test('a source that became due after the agent checked in is reported as skipped and stays due', async () => {
  await triggerBackup(api.api.ctx, UUID, 'etc');
  const s = session('{"verbose": true, "port": 50001, "sources": {}}\n.\n');
  const output: string[] = [];
  const write = (text: string) => void output.push(text);
  expect(await storagePing(settings, { uuid: UUID, input: s.stream, log: s.log, output: write })).toBe(0);
  expect(s.text()).toContain('Skipped etc: not offered by the agent in this session');
  // The session's result line for the agent (lib/storage/session-outcome.ts), after everything else.
  expect(output).toEqual([
    'turku-result {"version":1,"sources":{"etc":{"success":false,"snapshot":null,' +
      '"summary":"Skipped etc: not offered by the agent in this session","skipped":true,"reported":true}}}\n',
  ]);
  const [log] = await listBackups(api.api.ctx, 1);
  expect(log).toMatchObject({
    source: 'etc',
    success: false,
    skipped: true,
    snapshot: null,
    summary: 'Skipped etc: not offered by the agent in this session',
  });
  const [source] = await listSources(api.api.ctx, UUID);
  expect(source).toMatchObject({ failure_count: 0, healthy: true });
  expect(new Date(source!.date_next_backup).getTime()).toBeLessThanOrEqual(api.clock.getTime());
});

test('the effective mode: storage default, large files force none, the source decides, unknown falls back', () => {
  const warnings: string[] = [];
  const log = { warning: (message: string) => warnings.push(message) };
  const descriptor = (extra: object) =>
    ({ large_rotating_files: false, large_modifying_files: false, snapshot_mode: null, ...extra }) as never;
  expect(effectiveMode('link-dest', descriptor({}), log)).toBe('link-dest');
  expect(effectiveMode('link-dest', descriptor({ large_rotating_files: true }), log)).toBe('none');
  expect(effectiveMode('borg', descriptor({ large_modifying_files: true }), log)).toBe('borg');
  expect(effectiveMode('none', descriptor({ snapshot_mode: 'borg' }), log)).toBe('borg');
  expect(effectiveMode('borg', descriptor({ snapshot_mode: 'attic' }), log)).toBe('borg');
  expect(warnings).toEqual(['Unsupported snapshot mode "attic"; using the storage default "borg"']);
});

test('a stored source whose name breaks the source-name rule (imported before it) is reported failed with the rule', async () => {
  await api.api.ctx.db.transaction(async (tx) => {
    await tx.run(
      `INSERT INTO sources (id, machine_id, name, comment, path, filter, exclude, frequency, retention, bwlimit,
         snapshot_mode, preserve_hard_links, shared_service, large_rotating_files, large_modifying_files, active,
         success, published, date_added, date_updated, date_next_backup, failure_count)
       SELECT 'f3a1c2d4-5b6e-4f70-8a91-b2c3d4e5f607', machine_id, '-rf', comment, path, filter, exclude, frequency,
         retention, bwlimit, snapshot_mode, preserve_hard_links, shared_service, large_rotating_files,
         large_modifying_files, active, success, published, date_added, date_updated, date_next_backup, failure_count
       FROM sources WHERE name = 'etc'`,
    );
  });
  await triggerBackup(api.api.ctx, UUID, '-rf');
  const s = session('{"verbose": true, "port": 50001, "sources": {}}\n.\n');
  await storagePing(settings, { uuid: UUID, input: s.stream, log: s.log });
  const logs = await listBackups(api.api.ctx, 5);
  expect(logs.find((log) => log.source === '-rf')).toMatchObject({
    success: false,
    summary: 'Invalid source name: must not start with "-" (rsync would read it as an option)',
  });
});
