import { readFileSync } from 'node:fs';

import { shellQuote } from '../common/shell-quote.js';
import { JOBS, type Job } from './jobs.js';
import {
  cronCommand,
  jobCommand,
  plan,
  renderCron,
  renderService,
  renderTimer,
  systemdQuote,
  type CommandOptions,
} from './render.js';

const DEFAULTS: CommandOptions = { execPath: '/usr/bin/node', distDir: '/opt/turku/dist' };
const [PING, UPDATE_CONFIG] = JOBS.agent as [Job, Job];
const [STORAGE_UPDATE_CONFIG] = JOBS.storage as [Job];

describe('the schedules of docs/timers.md, "What runs when" and docs/datapath.md, "Programs"', () => {
  test.each([
    [PING, '15m', '5m', '5m', '*/5 * * * *', 300],
    [UPDATE_CONFIG, '1h', '12h', '12h', '0 0,12 * * *', 7200],
    [STORAGE_UPDATE_CONFIG, '5m', '5m', '5m', '*/5 * * * *', 300],
  ])('%s', (job, startup, active, delay, cron, wait) => {
    expect(renderTimer('agent', job)).toContain(
      `[Timer]\nOnStartupSec=${startup}\nOnUnitActiveSec=${active}\nRandomizedDelaySec=${delay}\n`,
    );
    const role = job === STORAGE_UPDATE_CONFIG ? 'storage' : 'agent';
    expect(renderCron(role, (j) => jobCommand(j, DEFAULTS))).toContain(
      `\n${cron} root [ -d /run/systemd/system ] || /usr/bin/node /opt/turku/dist/${job.distPath} --wait=${wait}\n`,
    );
  });

  test('every job is a program of package.json, and its dist path is that bin', () => {
    const { bin } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      bin: Record<string, string>;
    };
    for (const job of [...JOBS.agent, ...JOBS.storage]) expect(bin[job.program]).toBe(`dist/${job.distPath}`);
  });
});

describe('unit and cron text', () => {
  test('the agent ping service and timer', () => {
    const options = { ...DEFAULTS, configDir: '/etc/turku-agent' };
    expect(renderService('agent', PING, jobCommand(PING, options))).toBe(
      `# Written by turku-timers: "turku-timers install agent" rewrites this file and "turku-timers remove agent" deletes it.
# For local changes use a drop-in: systemctl edit turku-agent-ping.service

[Unit]
Description=Turku agent: check in with the API and run the backups that are due
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/bin/node /opt/turku/dist/lib/agent/ping-main.js --config-dir /etc/turku-agent
`,
    );
    expect(renderTimer('agent', PING)).toBe(
      `# Written by turku-timers: "turku-timers install agent" rewrites this file and "turku-timers remove agent" deletes it.
# For local changes use a drop-in: systemctl edit turku-agent-ping.timer

[Unit]
Description=Run turku-agent-ping every 5 minutes

[Timer]
OnStartupSec=15m
OnUnitActiveSec=5m
RandomizedDelaySec=5m

[Install]
WantedBy=timers.target
`,
    );
  });

  test('the agent cron file: a PATH line, then one inert-under-systemd line per job, as root', () => {
    const options = { ...DEFAULTS, binDir: '/usr/local/bin', configDir: '/etc/turku-agent' };
    expect(renderCron('agent', (job) => jobCommand(job, options))).toBe(
      `# Written by turku-timers: "turku-timers install agent" rewrites this file and "turku-timers remove agent" deletes it.
# Each line is inert while systemd runs: the turku-*.timer units schedule these programs there.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
*/5 * * * * root [ -d /run/systemd/system ] || /usr/local/bin/turku-agent-ping --config-dir /etc/turku-agent --wait=300
0 0,12 * * * root [ -d /run/systemd/system ] || /usr/local/bin/turku-update-config --config-dir /etc/turku-agent --wait=7200
`,
    );
  });

  test('paths with spaces are quoted for systemd and for the shell cron runs', () => {
    const options = { execPath: '/opt/node 20/bin/node', distDir: '/opt/turku ts/dist', configDir: '/etc/my agent' };
    const argv = jobCommand(PING, options);
    expect(argv).toEqual([
      '/opt/node 20/bin/node',
      '/opt/turku ts/dist/lib/agent/ping-main.js',
      '--config-dir',
      '/etc/my agent',
    ]);
    expect(renderService('agent', PING, argv)).toContain(
      '\nExecStart="/opt/node 20/bin/node" "/opt/turku ts/dist/lib/agent/ping-main.js" --config-dir "/etc/my agent"\n',
    );
    expect(renderCron('agent', (job) => jobCommand(job, options))).toContain(
      "|| '/opt/node 20/bin/node' '/opt/turku ts/dist/lib/agent/ping-main.js' --config-dir '/etc/my agent' --wait=300\n",
    );
  });

  test('the storage plan: a service, a timer and its enabling link; then the cron file', () => {
    const commandFor = (job: Job) => jobCommand(job, DEFAULTS);
    const summary = (mode: 'systemd' | 'cron' | 'both') =>
      plan('storage', mode, commandFor).map((entry) =>
        entry.kind === 'link' ? `${entry.path} -> ${entry.target}` : entry.path,
      );
    expect(summary('systemd')).toEqual([
      '/etc/systemd/system/turku-storage-update-config.service',
      '/etc/systemd/system/turku-storage-update-config.timer',
      '/etc/systemd/system/timers.target.wants/turku-storage-update-config.timer -> /etc/systemd/system/turku-storage-update-config.timer',
      '/etc/systemd/system/turku-storage-sample-verify.service',
      '/etc/systemd/system/turku-storage-sample-verify.timer',
      '/etc/systemd/system/timers.target.wants/turku-storage-sample-verify.timer -> /etc/systemd/system/turku-storage-sample-verify.timer',
    ]);
    expect(summary('cron')).toEqual(['/etc/cron.d/turku-storage']);
    expect(summary('both')).toEqual([...summary('systemd'), ...summary('cron')]);
  });
});

describe('quoting', () => {
  test.each([
    ['/usr/bin/node', '/usr/bin/node'],
    ['--wait=300', '--wait=300'],
    ['/a b', '"/a b"'],
    ['', '""'],
    ['100%', '"100%%"'],
    ['a $HOME b', '"a $$HOME b"'],
    ['${X}', '"$${X}"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ["it's", '"it\'s"'],
    [';', '";"'],
  ])('systemd: %j is written %s', (arg, quoted) => {
    expect(systemdQuote(arg)).toBe(quoted);
  });

  test.each([
    ['/usr/bin/node', '/usr/bin/node'],
    ['/a b', "'/a b'"],
    ["it's", "'it'\\''s'"],
    ['$HOME', "'$HOME'"],
    ['', "''"],
  ])('shell: %j is written %s', (arg, quoted) => {
    expect(shellQuote(arg)).toBe(quoted);
  });

  test('cron: every % is escaped, quoted or not', () => {
    expect(cronCommand(['/bin/x', '--config-dir', '/etc/100%', '/a b%'])).toBe(
      "/bin/x --config-dir '/etc/100\\%' '/a b\\%'",
    );
  });

  test('control characters are refused; systemd refuses quotes in the executable', () => {
    expect(() => jobCommand(PING, { ...DEFAULTS, configDir: '/etc/a\nb' })).toThrow('control character');
    const argv = jobCommand(PING, { ...DEFAULTS, execPath: "/opt/it's/node" });
    expect(() => renderService('agent', PING, argv)).toThrow('without quotes or backslashes');
    expect(renderCron('agent', () => argv)).toContain("'/opt/it'\\''s/node'");
  });
});
