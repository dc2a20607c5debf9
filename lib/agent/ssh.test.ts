import { describe, expect, it } from '@jest/globals';

import { UserError } from '../common/errors.js';
import {
  AES_FIRST_CIPHERS,
  cpuinfoHasAes,
  isForwardFailure,
  knownHostsText,
  sshArgv,
  sshFailureMessage,
} from './ssh.js';

const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@primary';
const KEY_B = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY=';
const storage = {
  name: 'primary',
  ssh_ping_host: 'primary.turku.example.com',
  ssh_ping_host_keys: [KEY_A, KEY_B],
  ssh_ping_port: 22,
  ssh_ping_user: 'turku-ping',
};

describe('sshArgv', () => {
  it('is the documented command line, with no bind address in -R', () => {
    expect(
      sshArgv({
        command: ['ssh'],
        knownHostsFile: '/tmp/x/known_hosts',
        keyFile: '/var/lib/turku-agent/ssh_key',
        port: 57123,
        localAddress: '127.0.0.1',
        storage,
        aes: false,
      }).join(' '),
    ).toBe(
      'ssh -T -o BatchMode=yes -o UserKnownHostsFile=/tmp/x/known_hosts -o StrictHostKeyChecking=yes ' +
        '-o CheckHostIP=no -o ExitOnForwardFailure=yes -o ServerAliveInterval=60 -o ServerAliveCountMax=10 ' +
        '-o Compression=no ' +
        '-i /var/lib/turku-agent/ssh_key -R 57123:127.0.0.1:57123 ' +
        '-p 22 -l turku-ping primary.turku.example.com turku-ping-remote',
    );
  });

  it('puts AES-GCM first on a CPU with AES instructions, with the other default ciphers after it', () => {
    const argv = sshArgv({
      command: ['ssh'],
      knownHostsFile: 'k',
      keyFile: 'i',
      port: 50000,
      localAddress: '127.0.0.1',
      storage,
      aes: true,
    });
    expect(argv.slice(argv.indexOf('ServerAliveCountMax=10') + 1, argv.indexOf('-i'))).toEqual([
      '-o',
      `Ciphers=${AES_FIRST_CIPHERS}`,
      '-o',
      'Compression=no',
    ]);
    expect(AES_FIRST_CIPHERS.split(',').slice(0, 3)).toEqual([
      'aes128-gcm@openssh.com',
      'aes256-gcm@openssh.com',
      'chacha20-poly1305@openssh.com',
    ]);
  });

  it('builds a fresh argv each time and leaves the configured command alone', () => {
    const command = ['ssh', '-4'];
    const options = { command, knownHostsFile: 'k', keyFile: 'i', localAddress: '127.0.0.1', storage };
    const first = sshArgv({ ...options, port: 50000 });
    const second = sshArgv({ ...options, port: 50001, storage: { ...storage, ssh_ping_port: 2222 } });
    expect(command).toEqual(['ssh', '-4']);
    expect(first.slice(0, 3)).toEqual(['ssh', '-4', '-T']);
    expect(second.filter((word) => word === '-R')).toHaveLength(1);
    expect(second).toContain('50001:127.0.0.1:50001');
    expect(second.slice(-5)).toEqual(['2222', '-l', 'turku-ping', 'primary.turku.example.com', 'turku-ping-remote']);
  });

  it("asks for a restore's own remote command on a restore's session (the storage's session gate reads it)", () => {
    const options = {
      command: ['ssh'],
      knownHostsFile: 'k',
      keyFile: 'i',
      localAddress: '127.0.0.1',
      storage,
      port: 1,
    };
    expect(sshArgv({ ...options, restore: true }).at(-1)).toBe('turku-ping-remote restore');
    expect(sshArgv({ ...options, restore: false }).at(-1)).toBe('turku-ping-remote');
  });

  it('brackets an IPv6 local address', () => {
    const argv = sshArgv({
      command: ['ssh'],
      knownHostsFile: 'k',
      keyFile: 'i',
      port: 50000,
      localAddress: '::1',
      storage,
    });
    expect(argv).toContain('50000:[::1]:50000');
  });

  it.each(['-oProxyCommand=x', 'two words', ''])('refuses the host %j', (host) => {
    const options = { command: ['ssh'], knownHostsFile: 'k', keyFile: 'i', port: 1, localAddress: '127.0.0.1' };
    expect(() => sshArgv({ ...options, storage: { ...storage, ssh_ping_host: host } })).toThrow(UserError);
  });
});

describe('cpuinfoHasAes', () => {
  it('finds the flag on x86 and ARM, and not elsewhere', () => {
    expect(cpuinfoHasAes('processor\t: 0\nflags\t\t: fpu sse2 aes avx2\n')).toBe(true);
    expect(cpuinfoHasAes('processor\t: 0\nFeatures\t: fp asimd aes pmull sha1\n')).toBe(true);
    expect(cpuinfoHasAes('processor\t: 0\nflags\t\t: fpu sse2 avx2 vaes_x\n')).toBe(false);
    expect(cpuinfoHasAes('model name\t: AES-less\nflags\t\t: fpu\n')).toBe(false);
  });
});

describe('knownHostsText', () => {
  it('pins each key to the host', () => {
    expect(knownHostsText(storage)).toBe(`primary.turku.example.com ${KEY_A}\nprimary.turku.example.com ${KEY_B}\n`);
  });

  it('also lists the [host]:port form ssh looks up on other ports', () => {
    expect(knownHostsText({ ...storage, ssh_ping_port: 2222, ssh_ping_host_keys: [KEY_A] })).toBe(
      `primary.turku.example.com ${KEY_A}\n[primary.turku.example.com]:2222 ${KEY_A}\n`,
    );
  });

  it('refuses a key that would add a line', () => {
    expect(() => knownHostsText({ ...storage, ssh_ping_host_keys: [`${KEY_A}\nevil.example.com ${KEY_B}`] })).toThrow(
      UserError,
    );
  });
});

describe('ssh outcomes', () => {
  it('recognises a forward failure only with status 255 and the message', () => {
    const stderr = 'Warning: remote port forwarding failed for listen port 57123\n';
    expect(isForwardFailure({ exitCode: 255, stderr })).toBe(true);
    expect(isForwardFailure({ exitCode: 1, stderr })).toBe(false);
    expect(isForwardFailure({ exitCode: 255, stderr: 'ssh: connect to host x port 22: Connection refused\n' })).toBe(
      false,
    );
  });

  it('names the storage, host and port with ssh’s last word', () => {
    expect(sshFailureMessage(storage, 'debug\nssh: connect to host x port 22: Connection refused\n\n')).toBe(
      'Cannot connect to storage primary at primary.turku.example.com:22 with ssh: ' +
        'ssh: connect to host x port 22: Connection refused',
    );
    expect(sshFailureMessage(storage, '')).toBe(
      'Cannot connect to storage primary at primary.turku.example.com:22 with ssh',
    );
  });
});
