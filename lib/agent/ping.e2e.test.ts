import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

import { triggerBackup } from '../api/admin/commands.js';
import { tryLock } from '../common/lock.js';
import {
  agentTree,
  captureIo,
  closedPort,
  fakeSshRun,
  registeredAgent,
  removeTempDirs,
  waitFor,
  writeSources,
  type RegisteredAgent,
} from './__tests__/helpers.js';
import { STORAGE_HOST_KEY } from '../../tests/support/api-harness.js';
import { LAST_BACKUPS_FILE } from './last-backups.js';
import { NO_RESULT_LINE_REASON } from './source-outcomes.js';
import { runAgentPing } from './ping.js';
import { cpuHasAes, sshSpeedOptions } from './ssh.js';

afterAll(removeTempDirs);

/** A storage that pulls every offered module into `<record dir>/pulled/<name>` and says Done. */
const PULL = `
  const into = require('node:path').dirname(counter) + '/pulled/';
  for (const [name, { username, password }] of Object.entries(request.sources)) {
    require('node:fs').mkdirSync(into + name, { recursive: true });
    const result = rsync(['-a', 'rsync://' + username + '@127.0.0.1:' + port + '/' + name + '/', into + name + '/'], password);
    if (result.status !== 0) { log('ERROR', 'rsync failed: ' + result.stderr.trim()); process.exit(1); }
    log('INFO', 'Backed up ' + name);
  }
  log('INFO', 'Done');
  process.exit(0);
`;

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

let agent: RegisteredAgent | undefined;
afterEach(async () => {
  await agent?.api.close();
  agent = undefined;
});

describe('turku-agent-ping check-in', () => {
  it('offers the due local sources to their storage and lets it pull them', async () => {
    agent = await registeredAgent(PULL);
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(0);
    expect(io.out()).toBe('');
    // Our one line, then the storage's console passed through.
    expect(io.err()).toMatch(
      /^\[[^\]]+ turku-agent-ping\] INFO: Offering etc to storage primary\n\[2024-12-15 07:00:00,000 primary\] INFO: Backed up etc\n\[2024-12-15 07:00:00,000 primary\] INFO: Done\n$/,
    );

    const pulled = join(dirname(agent.record), 'pulled', 'etc');
    expect(await readFile(join(pulled, 'sub', 'deep.txt'), 'utf8')).toBe('deep\n');
    expect(existsSync(join(dirname(agent.record), 'pulled', 'home'))).toBe(false);

    const seen = (await fakeSshRun(agent.record, 1))!;
    const port = seen.request!.port;
    const sources = seen.request!.sources as Record<string, { username: string; password: string }>;
    expect(Object.keys(sources)).toEqual(['etc']);
    expect(sources.etc!.username).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(sources.etc!.password).toMatch(/^[A-Za-z0-9]{30}$/);
    expect(seen.input).toBe(
      `{"verbose":true,"action":"checkin","port":${port},"sources":{"etc":` +
        `{"username":"${sources.etc!.username}","password":"${sources.etc!.password}"}}}\n.\n`,
    );
    expect(port).toBeGreaterThanOrEqual(49152);
    const knownHostsOption = seen.argv[4]!;
    expect(seen.argv).toEqual([
      '-T',
      '-o',
      'BatchMode=yes',
      '-o',
      knownHostsOption,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'CheckHostIP=no',
      '-o',
      'ExitOnForwardFailure=yes',
      '-o',
      'ServerAliveInterval=60',
      '-o',
      'ServerAliveCountMax=10',
      ...sshSpeedOptions(cpuHasAes()),
      '-i',
      join(agent.tree.varDir, 'ssh_key'),
      '-R',
      `${port}:127.0.0.1:${port}`,
      '-p',
      '22',
      '-l',
      'turku-ping',
      'primary.example.com',
      'turku-ping-remote',
    ]);
    expect(knownHostsOption).toMatch(/^UserKnownHostsFile=\//);
    expect(seen.knownHosts).toBe(`primary.example.com ${STORAGE_HOST_KEY}\n`);
    // Everything private is gone, the daemon is stopped and the lock released.
    expect(existsSync(dirname(knownHostsOption.split('=')[1]!))).toBe(false);
    expect(await accepts(port)).toBe(false);
    expect(existsSync(join(agent.tree.lockDir, 'turku-agent-ping.lock'))).toBe(false);
  }, 30_000);

  it('offers only sources this machine still has', async () => {
    agent = await registeredAgent(PULL);
    await writeSources(agent.tree, { etc: { path: agent.data } });
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'home');
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(0);
    expect(Object.keys((await fakeSshRun(agent.record, 1))!.request!.sources as object)).toEqual(['etc']);
  }, 30_000);

  it('does nothing when nothing is due', async () => {
    agent = await registeredAgent(PULL);
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(0);
    expect([io.out(), io.err()]).toEqual(['', '']);
    expect(await fakeSshRun(agent.record, 1)).toBeUndefined();
    expect(existsSync(join(agent.tree.varDir, LAST_BACKUPS_FILE))).toBe(false);
  }, 30_000);

  it('names the storage host and port when ssh cannot connect (real ssh)', async () => {
    const port = await closedPort();
    agent = await registeredAgent('', { storage: { ssh_ping_host: '127.0.0.1', ssh_ping_port: port }, ssh: ['ssh'] });
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(1);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(
      `turku-agent-ping: Cannot connect to storage primary at 127.0.0.1:${port} with ssh: ` +
        `ssh: connect to host 127.0.0.1 port ${port}: Connection refused`,
    );
    expect((await lastBackups(agent.tree.varDir)).etc).toMatchObject({
      last_session: { storage: 'primary', ok: false },
      last_success: null,
    });
  }, 30_000);

  it('reports a daemon that cannot start in one line', async () => {
    agent = await registeredAgent(PULL, { config: { rsyncd_command: ['/nonexistent/rsync'] } });
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(1);
    expect(io.err().trimEnd().split('\n').at(-1)).toBe(
      'turku-agent-ping: Storage primary: Cannot run the rsync daemon (/nonexistent/rsync): not found',
    );
    expect(await fakeSshRun(agent.record, 1)).toBeUndefined();
  }, 30_000);

  it('stops the session, the daemon and removes its files when interrupted', async () => {
    agent = await registeredAgent(`await new Promise(() => undefined);`);
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const io = captureIo();
    const running = runAgentPing(['-c', agent.tree.configDir], io);
    await waitFor(async () => (await fakeSshRun(agent!.record, 1))?.request !== undefined);
    io.interrupt();
    expect(await running).toBe(1);
    expect(io.err()).toMatch(/\nturku-agent-ping: Interrupted; the backup session was stopped\n$/);
    const seen = (await fakeSshRun(agent.record, 1))!;
    expect(existsSync(dirname(seen.argv[4]!.split('=')[1]!))).toBe(false);
    expect(await accepts(seen.request!.port)).toBe(false);
  }, 30_000);
});

describe('turku-agent-ping record of its sessions (last-backups.json)', () => {
  /** PULL, then our storage's result line: the first session succeeds, the second fails etc. */
  const REPORTS = `
    const into = require('node:path').dirname(counter) + '/pulled/';
    const sources = {};
    for (const [name, { username, password }] of Object.entries(request.sources)) {
      require('node:fs').mkdirSync(into + name, { recursive: true });
      const result = rsync(['-a', 'rsync://' + username + '@127.0.0.1:' + port + '/' + name + '/', into + name + '/'], password);
      sources[name] = n === 2
        ? { success: false, snapshot: null, summary: 'rsync exited with return code 23 (some files could not be read)', reported: true }
        : { success: result.status === 0, snapshot: 'etc-1', summary: null, reported: true };
    }
    sources.other = { success: false, skipped: true, summary: 'Skipped other: not offered', reported: true };
    log('INFO', 'Done');
    process.stdout.write('before\\n');
    process.stdout.write('turku-result ' + JSON.stringify({ version: 1, sources }) + '\\n');
    process.exit(0);
  `;

  it('records each source as the storage reported it, says which failed, and exits 1 then', async () => {
    agent = await registeredAgent(REPORTS);
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const before = new Date().toISOString();
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(0);
    // The result line is taken out of the storage's output; the rest passes through.
    expect(io.out()).toBe('before\n');
    const file = join(agent.tree.varDir, LAST_BACKUPS_FILE);
    const first = await lastBackups(agent.tree.varDir);
    expect(Object.keys(first)).toEqual(['etc']);
    const time = first.etc!.last_session.time;
    expect(time >= before && time <= new Date().toISOString()).toBe(true);
    expect(first.etc).toEqual({
      last_session: { time, storage: 'primary', ok: true, outcome: 'ok' },
      last_success: time,
    });
    expect((await stat(file)).mode & 0o777).toBe(0o644);

    // A failed source says so in one line, keeps the time of the last success, and exits 1.
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const second = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], second)).toBe(1);
    expect(second.err()).toMatch(
      /\nturku-agent-ping: Storage primary: source etc failed: rsync exited with return code 23 \(some files could not be read\)\n$/,
    );
    const records = await lastBackups(agent.tree.varDir);
    expect(records.etc!.last_session).toMatchObject({
      storage: 'primary',
      ok: false,
      outcome: 'failed',
      reason: 'rsync exited with return code 23 (some files could not be read)',
    });
    expect(records.etc!.last_session.time > time).toBe(true);
    expect(records.etc!.last_success).toBe(time);
  }, 30_000);

  it('records unknown with a storage that sends no result line (an original one), and exits 0', async () => {
    agent = await registeredAgent(PULL);
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(0);
    expect(io.err()).not.toMatch(/turku-agent-ping: /);
    const records = await lastBackups(agent.tree.varDir);
    expect(records.etc).toEqual({
      last_session: expect.objectContaining({ ok: false, outcome: 'unknown', reason: NO_RESULT_LINE_REASON }),
      last_success: null,
    });
  }, 30_000);

  it('records a failure with the reason when the session ends without a result line and not with 0', async () => {
    agent = await registeredAgent(`log('ERROR', 'Could not report the result of etc'); process.exit(1);`);
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(1);
    const reason =
      'the session ended before the storage reported results (exit status 1): ' +
      '[2024-12-15 07:00:00,000 primary] ERROR: Could not report the result of etc';
    expect(io.err()).toMatch(
      new RegExp(`\\nturku-agent-ping: Storage primary: source etc failed: ${escape(reason)}\\n$`),
    );
    expect((await lastBackups(agent.tree.varDir)).etc!.last_session).toMatchObject({ outcome: 'failed', reason });
  }, 30_000);

  it('removes what a killed earlier session left: its credentials and its processes', async () => {
    agent = await registeredAgent(PULL);
    const leftover = join(agent.tree.varDir, 'sessions', 'session-Left0v');
    await mkdir(leftover, { recursive: true });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(leftover, 'rsyncd.secrets'), 'user:secret\n');
    await writeFile(join(leftover, 'owner.pid'), '999999\n');
    // Stands in for a daemon still running from that directory (its command line names it).
    const { spawn } = await import('node:child_process');
    const daemon = spawn(
      process.execPath,
      ['-e', 'setInterval(() => {}, 1000)', '--', `--config=${leftover}/rsyncd.conf`],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => daemon.once('exit', (_code, signal) => resolve(signal)));
    const io = captureIo();
    // Nothing is due: the sweep happens all the same.
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(0);
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(leftover)).toBe(false);
    expect(io.err()).toContain(`Removed what an earlier session left behind (agent pid 999999): ${leftover}`);
  }, 30_000);
  it('still backs up when the record cannot be written, with a warning', async () => {
    agent = await registeredAgent(PULL);
    await mkdir(join(agent.tree.varDir, LAST_BACKUPS_FILE, 'in-the-way'), { recursive: true });
    await triggerBackup(agent.api.api.ctx, agent.uuid, 'etc');
    const io = captureIo();
    expect(await runAgentPing(['-c', agent.tree.configDir], io)).toBe(0);
    expect(io.err()).toMatch(/\] INFO: Done\n.*\] WARNING: Cannot record the session in .*: /);
    expect(existsSync(join(dirname(agent.record), 'pulled', 'etc', 'file.txt'))).toBe(true);
  }, 30_000);
});

describe('turku-agent-ping quiet exits', () => {
  it('exits 0 silently when not registered yet', async () => {
    const tree = await agentTree();
    const io = captureIo();
    expect(await runAgentPing(['-c', tree.configDir], io)).toBe(0);
    expect([io.out(), io.err()]).toEqual(['', '']);
  });

  it('exits 0 silently when unpublished, without asking the API', async () => {
    const port = await closedPort();
    const tree = await registeredLooking({ api_url: `http://127.0.0.1:${port}/v1`, published: false });
    const io = captureIo();
    expect(await runAgentPing(['-c', tree.configDir], io)).toBe(0);
    expect(io.err()).toBe('');
  });

  it('exits 0 silently when the go/no-go program says no or cannot run', async () => {
    const port = await closedPort();
    const tree = await registeredLooking({ api_url: `http://127.0.0.1:${port}/v1`, gonogo_program: ['false'] });
    for (const flags of [[], ['--gonogo-program', "sh -c 'exit 3'"], ['--gonogo-program', '/nonexistent/check']]) {
      const io = captureIo();
      expect(await runAgentPing(['-c', tree.configDir, ...flags], io)).toBe(0);
      expect(io.err()).toBe('');
    }
    // A yes goes on to the API, which is not there: that is an error naming it.
    const io = captureIo();
    expect(await runAgentPing(['-c', tree.configDir, '--gonogo-program', 'sh -c "exit 0"'], io)).toBe(1);
    expect(io.err()).toMatch(
      new RegExp(`^turku-agent-ping: Cannot reach the API at http://127\\.0\\.0\\.1:${port}/v1: `),
    );
  });

  it('logs and exits 0 when another check-in or a restore holds the lock', async () => {
    const tree = await registeredLooking({ api_url: 'http://127.0.0.1:1/v1' });
    await mkdir(join(tree.root, 'lock'), { recursive: true });
    const lock = await tryLock(join(tree.root, 'lock'), 'turku-agent-ping');
    try {
      const io = captureIo();
      expect(await runAgentPing(['-c', tree.configDir], io)).toBe(0);
      expect(io.err()).toMatch(/\] INFO: Another turku-agent-ping \(check-in or restore\) is running; skipping/);
    } finally {
      await lock?.release();
    }
  });

  it('exits 2 on a bad flag', async () => {
    const io = captureIo();
    expect(await runAgentPing(['--restore-timeout', 'soon'], io)).toBe(2);
    expect(io.err()).toBe('turku-agent-ping: --restore-timeout expects a number of seconds, not "soon"\n');
  });
});

type Records = Record<
  string,
  {
    last_session: { time: string; storage: string; ok: boolean; outcome: string; reason?: string };
    last_success: string | null;
  }
>;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function lastBackups(varDir: string): Promise<Records> {
  return (JSON.parse(await readFile(join(varDir, LAST_BACKUPS_FILE), 'utf8')) as { sources: Records }).sources;
}

/** A tree with an identity and a key file, without any API behind it. */
async function registeredLooking(config: Record<string, unknown>) {
  const tree = await agentTree({
    machine_uuid: '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d',
    machine_secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL',
    ...config,
  });
  await mkdir(tree.varDir, { recursive: true });
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(tree.varDir, 'ssh_key'), 'private');
  await writeFile(join(tree.varDir, 'ssh_key.pub'), 'ssh-ed25519 AAAA turku\n');
  return tree;
}
