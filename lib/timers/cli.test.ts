import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runTimersCli, USAGE, type TimersIo } from './cli.js';

let dir: string;
/** Stands for the running system in the tests that let systemctl run. */
let host: string;
/** An image being built: never the running system. */
let image: string;
let calls: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'turku-timers-'));
  host = join(dir, 'host');
  image = join(dir, 'image');
  await mkdir(host);
  await mkdir(image);
  calls = [];
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function io(overrides: Partial<TimersIo> = {}): TimersIo {
  return {
    execPath: '/usr/bin/node',
    distDir: '/opt/turku/dist',
    hostRoot: host,
    systemctl: (args) => {
      calls.push(args.join(' '));
      return Promise.resolve();
    },
    ...overrides,
  };
}

async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    const relative = path.slice(root.length);
    if (entry.isSymbolicLink()) out.push(`${relative} -> ${await readlink(path)}`);
    else if (entry.isFile()) out.push(`${relative} ${((await stat(path)).mode & 0o777).toString(8)}`);
  }
  return out.sort();
}

const AGENT_UNITS = [
  '/etc/systemd/system/timers.target.wants/turku-agent-ping.timer -> /etc/systemd/system/turku-agent-ping.timer',
  '/etc/systemd/system/timers.target.wants/turku-update-config.timer -> /etc/systemd/system/turku-update-config.timer',
  '/etc/systemd/system/turku-agent-ping.service 644',
  '/etc/systemd/system/turku-agent-ping.timer 644',
  '/etc/systemd/system/turku-update-config.service 644',
  '/etc/systemd/system/turku-update-config.timer 644',
];

describe('install and remove under --root', () => {
  test('systemd: units and enabling links, written once, then unchanged; remove deletes them', async () => {
    const args = ['--root', image, '--mode', 'systemd', '--config-dir', '/etc/turku-agent'];
    const first = await runTimersCli(['install', 'agent', ...args], io());
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toEqual([
      `wrote ${image}/etc/systemd/system/turku-agent-ping.service`,
      `wrote ${image}/etc/systemd/system/turku-agent-ping.timer`,
      `linked ${image}/etc/systemd/system/timers.target.wants/turku-agent-ping.timer -> /etc/systemd/system/turku-agent-ping.timer`,
      `wrote ${image}/etc/systemd/system/turku-update-config.service`,
      `wrote ${image}/etc/systemd/system/turku-update-config.timer`,
      `linked ${image}/etc/systemd/system/timers.target.wants/turku-update-config.timer -> /etc/systemd/system/turku-update-config.timer`,
      `systemctl not run (${image} is not the running system): the timers are enabled and start when systemd boots`,
    ]);
    expect(await tree(image)).toEqual(AGENT_UNITS);
    expect(await readFile(join(image, 'etc/systemd/system/turku-agent-ping.service'), 'utf8')).toContain(
      '\nExecStart=/usr/bin/node /opt/turku/dist/lib/agent/ping-main.js --config-dir /etc/turku-agent\n',
    );

    const again = await runTimersCli(['install', 'agent', ...args], io());
    expect(again.exitCode).toBe(0);
    expect(again.stdout.filter((line) => !line.startsWith('unchanged '))).toEqual([first.stdout.at(-1)]);
    expect(await tree(image)).toEqual(AGENT_UNITS);

    const removed = await runTimersCli(['remove', 'agent', '--root', image], io());
    expect(removed.exitCode).toBe(0);
    expect(removed.stdout).toHaveLength(7);
    expect(removed.stdout.at(-1)).toBe(`systemctl not run (${image} is not the running system)`);
    expect(await tree(image)).toEqual([]);
    expect((await runTimersCli(['remove', 'agent', '--root', image], io())).stdout).toEqual([
      `nothing to remove for the agent under ${image}`,
    ]);
    expect(calls).toEqual([]);
  });

  test('cron: one file, mode 0644 whatever the umask, idempotent; remove deletes it', async () => {
    const previous = process.umask(0o077);
    try {
      const args = ['--root', image, '--mode', 'cron', '--bin-dir', '/usr/local/bin'];
      const first = await runTimersCli(['install', 'storage', ...args], io());
      expect(first).toMatchObject({ exitCode: 0, stdout: [`wrote ${image}/etc/cron.d/turku-storage`] });
      expect(await tree(image)).toEqual(['/etc/cron.d/turku-storage 644']);
      expect(await readFile(join(image, 'etc/cron.d/turku-storage'), 'utf8')).toContain(
        '\n*/5 * * * * root [ -d /run/systemd/system ] || /usr/local/bin/turku-storage-update-config --wait=300\n',
      );
      expect((await runTimersCli(['install', 'storage', ...args], io())).stdout).toEqual([
        `unchanged ${image}/etc/cron.d/turku-storage`,
      ]);
      const removed = await runTimersCli(['remove', 'storage', '--root', image], io());
      expect(removed).toMatchObject({ exitCode: 0, stdout: [`removed ${image}/etc/cron.d/turku-storage`] });
      expect(await tree(image)).toEqual([]);
    } finally {
      process.umask(previous);
    }
  });

  test('a path with spaces reaches the files quoted', async () => {
    await runTimersCli(['install', 'agent', '--root', image, '--mode', 'both', '--config-dir', '/srv/my agent'], io());
    expect(await readFile(join(image, 'etc/systemd/system/turku-update-config.service'), 'utf8')).toContain(
      'ExecStart=/usr/bin/node /opt/turku/dist/lib/agent/update-config-main.js --config-dir "/srv/my agent"\n',
    );
    expect(await readFile(join(image, 'etc/cron.d/turku-agent'), 'utf8')).toContain(
      "update-config-main.js --config-dir '/srv/my agent' --wait=7200\n",
    );
  });

  test('auto: systemd when <root>/run/systemd/system exists, else cron', async () => {
    await runTimersCli(['install', 'storage', '--root', image], io());
    expect(await tree(image)).toEqual(['/etc/cron.d/turku-storage 644']);
    await mkdir(join(image, 'run/systemd/system'), { recursive: true });
    const switched = await runTimersCli(['install', 'storage', '--root', image], io());
    expect(switched.stdout).toContain(`removed ${image}/etc/cron.d/turku-storage`);
    expect(await tree(image)).toEqual([
      '/etc/systemd/system/timers.target.wants/turku-storage-sample-verify.timer -> /etc/systemd/system/turku-storage-sample-verify.timer',
      '/etc/systemd/system/timers.target.wants/turku-storage-update-config.timer -> /etc/systemd/system/turku-storage-update-config.timer',
      '/etc/systemd/system/turku-storage-sample-verify.service 644',
      '/etc/systemd/system/turku-storage-sample-verify.timer 644',
      '/etc/systemd/system/turku-storage-update-config.service 644',
      '/etc/systemd/system/turku-storage-update-config.timer 644',
    ]);
  });

  test('switching from systemd to cron takes the units away; cron under systemd is warned about', async () => {
    await runTimersCli(['install', 'agent', '--root', image, '--mode', 'systemd'], io());
    await mkdir(join(image, 'run/systemd/system'), { recursive: true });
    const result = await runTimersCli(['install', 'agent', '--root', image, '--mode', 'cron'], io());
    expect(result.exitCode).toBe(0);
    expect(result.stderr[0]).toBe(
      `turku-timers: warning: systemd runs under ${image}, so the cron lines stay inert there: use --mode systemd or both`,
    );
    expect(await tree(image)).toEqual(['/etc/cron.d/turku-agent 644']);
  });

  test('files not written by turku-timers: install refuses, remove leaves them', async () => {
    await mkdir(join(image, 'etc/cron.d'), { recursive: true });
    await writeFile(join(image, 'etc/cron.d/turku-agent'), '*/5 * * * * root turku-agent-ping\n');
    const install = await runTimersCli(['install', 'agent', '--root', image, '--mode', 'both'], io());
    expect(install.exitCode).toBe(1);
    expect(install.stderr).toEqual([
      `turku-timers: ${image}/etc/cron.d/turku-agent exists and was not written by turku-timers: move it away first`,
    ]);
    expect(await tree(image)).toEqual(['/etc/cron.d/turku-agent 644']);

    await runTimersCli(['install', 'agent', '--root', image, '--mode', 'systemd'], io());
    const remove = await runTimersCli(['remove', 'agent', '--root', image], io());
    expect(remove.exitCode).toBe(0);
    expect(remove.stderr).toEqual([
      `turku-timers: warning: left ${image}/etc/cron.d/turku-agent alone: it was not written by turku-timers`,
    ]);
    expect(await tree(image)).toEqual(['/etc/cron.d/turku-agent 644']);
  });

  test('programs missing under the root are warned about, not refused', async () => {
    await mkdir(join(image, 'usr/local/bin'), { recursive: true });
    await writeFile(join(image, 'usr/local/bin/turku-agent-ping'), '');
    const result = await runTimersCli(
      ['install', 'agent', '--root', image, '--mode', 'cron', '--bin-dir', '/usr/local/bin'],
      io(),
    );
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toEqual([
      `turku-timers: warning: ${image}/usr/local/bin/turku-update-config does not exist: the turku-update-config job fails until it is installed`,
    ]);
  });

  test('a write failure is one line and exit status 1', async () => {
    const file = join(dir, 'not-a-directory');
    await writeFile(file, '');
    const result = await runTimersCli(['install', 'agent', '--root', file, '--mode', 'cron'], io());
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toMatch(new RegExp(`^turku-timers: cannot (read|write) ${file}/etc/cron.d/turku-agent: `));
  });
});

describe('on the running system', () => {
  beforeEach(async () => {
    await mkdir(join(host, 'run/systemd/system'), { recursive: true });
    for (const program of ['agent/ping-main.js', 'agent/update-config-main.js', 'storage/update-config-main.js']) {
      await mkdir(join(host, 'opt/turku/dist/lib', program, '..'), { recursive: true });
      await writeFile(join(host, 'opt/turku/dist/lib', program), '');
    }
  });

  test('install reloads systemd and enables and starts the timers; remove disables them first', async () => {
    const install = await runTimersCli(['install', 'agent'], io());
    expect(install.exitCode).toBe(0);
    expect(calls).toEqual(['daemon-reload', 'enable --now turku-agent-ping.timer turku-update-config.timer']);
    expect(install.stdout.slice(-2)).toEqual([
      'ran systemctl daemon-reload',
      'ran systemctl enable --now turku-agent-ping.timer turku-update-config.timer',
    ]);

    calls = [];
    await runTimersCli(['install', 'agent'], io());
    expect(calls).toEqual(['enable --now turku-agent-ping.timer turku-update-config.timer']);

    calls = [];
    const remove = await runTimersCli(['remove', 'agent'], io());
    expect(remove.exitCode).toBe(0);
    expect(calls).toEqual(['disable --now turku-agent-ping.timer turku-update-config.timer', 'daemon-reload']);
    expect(await tree(join(host, 'etc'))).toEqual([]);
    expect(remove.stderr).toEqual([]);
  });

  test('switching to cron disables the timers before their units go', async () => {
    await runTimersCli(['install', 'storage'], io());
    calls = [];
    const result = await runTimersCli(['install', 'storage', '--mode', 'cron'], io());
    expect(result.exitCode).toBe(0);
    expect(calls).toEqual([
      'disable --now turku-storage-update-config.timer turku-storage-sample-verify.timer',
      'daemon-reload',
    ]);
    expect(await tree(join(host, 'etc'))).toEqual(['/cron.d/turku-storage 644']);
  });

  test('a systemctl failure is one line and exit status 1', async () => {
    const failing = io({ systemctl: () => Promise.reject(new Error('systemctl daemon-reload failed: Access denied')) });
    const result = await runTimersCli(['install', 'storage'], failing);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toEqual(['turku-timers: systemctl daemon-reload failed: Access denied']);
  });

  test('without systemd running, systemctl is skipped and said so', async () => {
    await rm(join(host, 'run'), { recursive: true });
    const result = await runTimersCli(['install', 'agent', '--mode', 'systemd'], io());
    expect(result.stdout.at(-1)).toBe(
      'systemctl not run (systemd is not running): the timers are enabled and start when systemd boots',
    );
    expect(calls).toEqual([]);
  });
});

describe('render', () => {
  test('prints every file under its path and writes nothing', async () => {
    const result = await runTimersCli(['render', 'storage', '--root', image, '--mode', 'both'], io());
    expect(result.exitCode).toBe(0);
    const headings = result.stdout.filter((line) => line.startsWith('==> '));
    expect(headings).toEqual([
      `==> ${image}/etc/systemd/system/turku-storage-update-config.service <==`,
      `==> ${image}/etc/systemd/system/turku-storage-update-config.timer <==`,
      `==> ${image}/etc/systemd/system/timers.target.wants/turku-storage-update-config.timer -> /etc/systemd/system/turku-storage-update-config.timer <==`,
      `==> ${image}/etc/systemd/system/turku-storage-sample-verify.service <==`,
      `==> ${image}/etc/systemd/system/turku-storage-sample-verify.timer <==`,
      `==> ${image}/etc/systemd/system/timers.target.wants/turku-storage-sample-verify.timer -> /etc/systemd/system/turku-storage-sample-verify.timer <==`,
      `==> ${image}/etc/cron.d/turku-storage <==`,
    ]);
    expect(result.stdout.join('\n')).toContain('OnStartupSec=5m\nOnUnitActiveSec=5m\nRandomizedDelaySec=5m\n');
    await expect(lstat(join(image, 'etc'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('bad usage: exit status 2 and one line', () => {
  test.each([
    [[], 'missing command: install, remove or render (see --help)'],
    [['start', 'agent'], 'unknown command "start": expected install, remove or render'],
    [['install'], 'missing role: install agent or install storage'],
    [['install', 'api'], 'unknown role "api": expected agent or storage'],
    [['install', 'agent', 'extra'], 'unexpected argument "extra"'],
    [['install', 'agent', '--mode', 'upstart'], '--mode must be systemd, cron, both or auto, not "upstart"'],
    [
      ['install', 'agent', '--config-dir', 'etc/turku'],
      '--config-dir must be an absolute path (the jobs do not run here), not "etc/turku"',
    ],
    [['install', 'agent', '--bin-dir', '/opt/"bin"'], '--bin-dir must not contain quotes or backslashes'],
    [['install', 'agent', '--config-dir', '/etc/a\nb'], '--config-dir must not contain control characters'],
    [['install', 'agent', '--root', ''], '--root must not be empty'],
  ])('%j', async (argv, message) => {
    const result = await runTimersCli(argv, io());
    expect(result).toEqual({ exitCode: 2, stdout: [], stderr: [`turku-timers: ${message}`] });
    expect(calls).toEqual([]);
  });

  test('an unknown flag', async () => {
    const result = await runTimersCli(['install', 'agent', '--force'], io());
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toMatch(/^turku-timers: Unknown option '--force'/);
  });

  test('--help prints the usage', async () => {
    expect(await runTimersCli(['--help'], io())).toEqual({ exitCode: 0, stdout: [USAGE], stderr: [] });
  });
});
