// The storage's SSH door: a drop-in that limits what the ping user's logins may do (no forwarding
// but the agent's loopback tunnel, no terminal, idle logins closed), checked with sshd's own
// parser before sshd rereads it. The settings themselves are lib/storage/sshd-settings.ts.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

import { failureLine, reloadDaemon, type Host, type RunResult } from '../../../lib/charm-host/index.js';
import { writeFileAtomic } from '../../../lib/common/atomic-write.js';
import {
  knowsUnusedConnectionTimeout,
  SSHD_DROP_IN,
  storageSshdDropIn,
  UNUSED_CONNECTION_TIMEOUT_SECONDS,
} from '../../../lib/storage/sshd-settings.js';
import { MACHINE_PATHS } from './paths.js';

const SSHD = '/usr/sbin/sshd';
const MAIN_CONFIG = '/etc/ssh/sshd_config';
/** Debian and Ubuntu: the unit is ssh.service, the pid file sshd's default. */
const DAEMON = { unit: 'ssh.service', pidFile: '/run/sshd.pid' } as const;
/** The digest of the drop-in sshd last reread, so a hook reloads it only after a change. */
const APPLIED_STAMP = `${MACHINE_PATHS.charmDir}/sshd-drop-in.applied`;

/** What a login as the ping user must get, as `sshd -T` prints it. */
function expectedSettings(unusedTimeout: boolean): Readonly<Record<string, string>> {
  return {
    allowtcpforwarding: 'remote',
    allowstreamlocalforwarding: 'no',
    allowagentforwarding: 'no',
    x11forwarding: 'no',
    permittunnel: 'no',
    permittty: 'no',
    ...(unusedTimeout ? { unusedconnectiontimeout: String(UNUSED_CONNECTION_TIMEOUT_SECONDS) } : {}),
  };
}

export type SshDoor =
  /** `warning`: what this sshd cannot do (an OpenSSH older than 9.2 cannot close unused logins). */
  | { readonly kind: 'secured'; readonly reloaded: boolean; readonly warning?: string }
  /** No sshd configuration under a test root: nothing to secure. */
  | { readonly kind: 'no-sshd' }
  | { readonly kind: 'blocked'; readonly problem: string };

/**
 * Installs (or refreshes) the drop-in for `pingUser`, checks it with `sshd -t` and that sshd
 * really applies it to the ping user (`sshd -T`), then has sshd reread its configuration. A
 * drop-in sshd refuses is rolled back, the previous one kept; the main file is never edited.
 */
export async function secureSshDoor(host: Host, pingUser: string): Promise<SshDoor> {
  const main = host.path(MAIN_CONFIG);
  const mainText = await readFile(main, 'utf8').catch(() => undefined);
  if (mainText === undefined) {
    if (!host.isSystemRoot) return { kind: 'no-sshd' };
    return { kind: 'blocked', problem: `sshd: ${MAIN_CONFIG} is missing (is openssh-server installed?)` };
  }
  const version = await host.run([SSHD, '-V']);
  const unusedTimeout = knowsUnusedConnectionTimeout(`${version.stdout}\n${version.stderr}`);
  const warning = unusedTimeout
    ? undefined
    : `${/OpenSSH_\S+/.exec(version.stderr)?.[0] ?? 'this sshd'} has no UnusedConnectionTimeout (OpenSSH 9.2+): ` +
      'a login that never runs the forced command is not closed by sshd';
  const dropIn = host.path(SSHD_DROP_IN);
  const text = storageSshdDropIn(pingUser, unusedTimeout ? {} : { unusedConnectionTimeoutSeconds: null });
  const previous = await readFile(dropIn, 'utf8').catch(() => undefined);
  if (previous !== text) {
    await mkdir(dirname(dropIn), { recursive: true, mode: 0o755 });
    await writeFileAtomic(dropIn, text, { mode: 0o644 });
  }
  // sshd's checks want its privilege separation directory, which its service creates when it starts.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const check = await host.run([SSHD, '-t', '-f', main]);
  if (check.exitCode !== 0) {
    if (previous !== text) {
      if (previous === undefined) await rm(dropIn, { force: true });
      else await writeFileAtomic(dropIn, previous, { mode: 0o644 });
    }
    const kept = previous === undefined ? 'not installed' : 'the previous one kept';
    return { kind: 'blocked', problem: `sshd -t fails with ${SSHD_DROP_IN} (${kept}): ${sshdComplaint(check)}` };
  }
  const effective = await host.run([SSHD, '-T', '-f', main, '-C', `user=${pingUser},host=turku-agent,addr=192.0.2.1`]);
  if (effective.exitCode !== 0) {
    return { kind: 'blocked', problem: `sshd -T for ${pingUser}: ${failureLine(effective)}` };
  }
  const differs = settingsDiffering(effective.stdout, expectedSettings(unusedTimeout));
  if (differs.length > 0) return { kind: 'blocked', problem: notAppliedProblem(mainText, pingUser, differs) };

  const digest = createHash('sha256').update(text).digest('hex');
  const stamp = host.path(APPLIED_STAMP);
  const secured = (reloaded: boolean): SshDoor => ({ kind: 'secured', reloaded, ...(warning ? { warning } : {}) });
  if ((await readFile(stamp, 'utf8').catch(() => '')) === digest) return secured(false);
  const reloaded = (await reloadDaemon(host, DAEMON)) === 'reloaded';
  await mkdir(dirname(stamp), { recursive: true, mode: 0o700 });
  await writeFileAtomic(stamp, digest, { mode: 0o600 });
  return secured(reloaded);
}

/** Removes the drop-in (the unit is leaving) and has sshd reread its configuration. */
export async function removeSshDoor(host: Host): Promise<boolean> {
  const dropIn = host.path(SSHD_DROP_IN);
  const present = (await readFile(dropIn, 'utf8').catch(() => undefined)) !== undefined;
  await rm(host.path(APPLIED_STAMP), { force: true });
  if (!present) return false;
  await rm(dropIn, { force: true });
  await reloadDaemon(host, DAEMON);
  return true;
}

/** sshd's reasons (`<file> line <n>: Bad configuration option: …`), without its closing "terminating" line. */
function sshdComplaint(result: RunResult): string {
  const lines = result.stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/: terminating, \d+ bad configuration options$/.test(line));
  const text = lines.length > 0 ? lines.join('; ') : failureLine(result);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function settingsDiffering(sshdT: string, expected: Readonly<Record<string, string>>): string[] {
  const actual = new Map(
    sshdT
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .map(([key, ...value]) => [key!.toLowerCase(), value.join(' ')] as const),
  );
  return Object.entries(expected)
    .filter(([key, value]) => actual.get(key) !== value)
    .map(([key]) => `${key} ${actual.get(key) ?? '(unset)'}`);
}

function notAppliedProblem(mainText: string, pingUser: string, differs: readonly string[]): string {
  const includesDropIns = mainText.split('\n').some((line) => /^\s*Include\s+\S*sshd_config\.d\//i.test(line));
  if (!includesDropIns) {
    return (
      `sshd: ${MAIN_CONFIG} does not include ${dirname(SSHD_DROP_IN)}/*.conf, so ${SSHD_DROP_IN} is not applied; ` +
      `add "Include ${dirname(SSHD_DROP_IN)}/*.conf" at its top`
    );
  }
  return (
    `sshd: ${pingUser}'s logins get ${differs.join(', ')} despite ${SSHD_DROP_IN}: ` +
    'an earlier drop-in or Match block overrides it'
  );
}
