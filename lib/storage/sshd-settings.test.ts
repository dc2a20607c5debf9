// The storage's sshd settings as the real OpenSSH server reads them: `sshd -T -C` prints the
// effective configuration for one connection, after Match blocks and Includes.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

import {
  knowsUnusedConnectionTimeout,
  LOGIN_GRACE_TIME_SECONDS,
  pingUserMatchBlock,
  storageSshdDropIn,
  storageSshdSettings,
  UNUSED_CONNECTION_TIMEOUT_SECONDS,
} from './sshd-settings.js';

const SSHD = '/usr/sbin/sshd';
let dir: string;
let hostKey: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'turku-sshd-settings-'));
  hostKey = join(dir, 'ssh_host_ed25519_key');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey], { stdin: 'ignore' });
  // sshd -T wants the privilege separation directory, as sshd itself does.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** `sshd -T` for a login by `user` from an agent's address: keyword → value (lower case, as sshd prints them). */
async function effective(configFile: string, user: string): Promise<Map<string, string>> {
  const { stdout } = await execa(SSHD, ['-T', '-f', configFile, '-C', `user=${user},host=agent,addr=192.0.2.7`]);
  return new Map(
    stdout.split('\n').map((line) => {
      const space = line.indexOf(' ');
      return [line.slice(0, space), line.slice(space + 1)] as [string, string];
    }),
  );
}

async function writeConfig(name: string, lines: readonly string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, [`HostKey ${hostKey}`, `PidFile ${join(dir, 'sshd.pid')}`, ...lines, ''].join('\n'));
  return file;
}

const FORWARDING_DENIED = {
  allowstreamlocalforwarding: 'no',
  allowagentforwarding: 'no',
  x11forwarding: 'no',
  permittunnel: 'no',
  gatewayports: 'no',
};

describe('a whole storage config (local substrate, tests, benchmark)', () => {
  let config: string;
  beforeAll(async () => {
    config = await writeConfig('whole.conf', [
      'ListenAddress 127.0.0.1:2222',
      ...storageSshdSettings({ authorizedKeysFile: join(dir, 'authorized_keys'), pingUser: 'turku-ping' }),
    ]);
  });

  test('the ping user: remote TCP forwarding on loopback only, every other kind denied, idle logins closed', async () => {
    const settings = await effective(config, 'turku-ping');
    expect(Object.fromEntries(settings)).toMatchObject({
      ...FORWARDING_DENIED,
      allowtcpforwarding: 'remote',
      permitlisten: 'localhost:* 127.0.0.1:*',
      permitopen: 'none',
      permittty: 'no',
      maxsessions: '1',
      unusedconnectiontimeout: String(UNUSED_CONNECTION_TIMEOUT_SECONDS),
      clientaliveinterval: '30',
      clientalivecountmax: '4',
      logingracetime: String(LOGIN_GRACE_TIME_SECONDS),
      maxstartups: '100:30:200',
      authenticationmethods: 'publickey',
      passwordauthentication: 'no',
      permitrootlogin: 'forced-commands-only',
    });
  });

  test('every other user: no forwarding of any kind', async () => {
    const settings = await effective(config, 'someone-else');
    expect(Object.fromEntries(settings)).toMatchObject({ ...FORWARDING_DENIED, allowtcpforwarding: 'no' });
  });

  test('a shorter unused-connection timeout for tests, and none', async () => {
    const short = await writeConfig('short.conf', [
      ...storageSshdSettings({
        authorizedKeysFile: join(dir, 'authorized_keys'),
        pingUser: 'turku-ping',
        unusedConnectionTimeoutSeconds: 3,
      }),
    ]);
    expect((await effective(short, 'turku-ping')).get('unusedconnectiontimeout')).toBe('3');
    expect(pingUserMatchBlock('turku-ping', { unusedConnectionTimeoutSeconds: 0 })).toContain(
      '  UnusedConnectionTimeout none',
    );
  });
});

describe("the charm's drop-in on a machine whose main config allows everything", () => {
  let config: string;
  beforeAll(async () => {
    const dropInDir = join(dir, 'sshd_config.d');
    await mkdir(dropInDir, { recursive: true });
    await writeFile(join(dropInDir, 'turku-storage.conf'), storageSshdDropIn('turku-ping'));
    // As Debian and Ubuntu ship it: the Include first, then the operator's own (here permissive) settings.
    config = await writeConfig('main.conf', [
      `Include ${dropInDir}/*.conf`,
      'AllowTcpForwarding yes',
      'AllowStreamLocalForwarding yes',
      'X11Forwarding yes',
      'PermitTunnel yes',
      'LoginGraceTime 120',
    ]);
  });

  test('the ping user gets the Match block whatever the main file says later', async () => {
    const settings = await effective(config, 'turku-ping');
    expect(Object.fromEntries(settings)).toMatchObject({
      ...FORWARDING_DENIED,
      allowtcpforwarding: 'remote',
      permitlisten: 'localhost:* 127.0.0.1:*',
      unusedconnectiontimeout: String(UNUSED_CONNECTION_TIMEOUT_SECONDS),
      logingracetime: String(LOGIN_GRACE_TIME_SECONDS),
    });
  });

  test("the machine's other users keep its own settings (the Match block ends with the drop-in)", async () => {
    const settings = await effective(config, 'operator');
    expect(Object.fromEntries(settings)).toMatchObject({
      allowtcpforwarding: 'yes',
      allowstreamlocalforwarding: 'yes',
      x11forwarding: 'yes',
      permittunnel: 'yes',
      unusedconnectiontimeout: 'none',
    });
  });
});

test('a user name sshd could misread is refused', () => {
  expect(() => pingUserMatchBlock('ping user')).toThrow('not a user name');
  expect(() => pingUserMatchBlock('a,b')).toThrow('not a user name');
});

test('UnusedConnectionTimeout only for an sshd that knows it (OpenSSH 9.2 and later)', () => {
  expect(knowsUnusedConnectionTimeout('OpenSSH_9.2, OpenSSL 3.0.19 27 Jan 2026')).toBe(true);
  expect(knowsUnusedConnectionTimeout('OpenSSH_9.6p1 Ubuntu-3ubuntu13, OpenSSL 3.0.13 30 Jan 2024')).toBe(true);
  expect(knowsUnusedConnectionTimeout('OpenSSH_10.0p2, OpenSSL 3.5.0')).toBe(true);
  // 8.9 has no -V: its usage text carries the version.
  expect(knowsUnusedConnectionTimeout('unknown option -- V\nOpenSSH_8.9p1 Ubuntu-3ubuntu0.10, OpenSSL 3.0.2')).toBe(
    false,
  );
  expect(knowsUnusedConnectionTimeout('OpenSSH_9.1p1')).toBe(false);
  expect(storageSshdDropIn('turku-ping', { unusedConnectionTimeoutSeconds: null })).not.toContain(
    'UnusedConnectionTimeout',
  );
});
