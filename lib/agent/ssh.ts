import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { errorMessage, isErrno, UserError } from '../common/errors.js';
import { lastLine } from '../common/process.js';
import { hasControlCharacters } from '../turku/names.js';
import type { StorageEndpoint } from '../turku/protocol/descriptor.js';
import { RESTORE_REMOTE_COMMAND } from '../turku/protocol/storage-busy.js';
import { dieWithParent } from './die-with-parent.js';
import { trackProcessGroup } from './exit-cleanup.js';

/**
 * The SSH side of a session (docs/datapath.md, "The SSH client"): the pinned known-hosts file, the
 * client's argv, and running it with the request on stdin.
 */

/** The dummy remote command; the storage's forced command replaces it. */
export const REMOTE_COMMAND = 'turku-ping-remote';

/**
 * One `<host> <key>` line per pinned key. On a port other than 22, ssh looks the host up as
 * `[host]:port`, so the same keys are listed under that name as well.
 */
export function knownHostsText(
  storage: Pick<StorageEndpoint, 'ssh_ping_host' | 'ssh_ping_port' | 'ssh_ping_host_keys'>,
): string {
  checkHost(storage.ssh_ping_host);
  const names = [storage.ssh_ping_host];
  if (storage.ssh_ping_port !== 22) names.push(`[${storage.ssh_ping_host}]:${storage.ssh_ping_port}`);
  let text = '';
  for (const name of names) {
    for (const key of storage.ssh_ping_host_keys) {
      if (hasControlCharacters(key) || key.trim() === '') {
        throw new UserError(`Storage ${storage.ssh_ping_host} has an unusable pinned host key`);
      }
      text += `${name} ${key.trim()}\n`;
    }
  }
  return text;
}

export interface SshArgvOptions {
  /** `ssh_command`, e.g. `["ssh"]`; copied, never modified. */
  readonly command: readonly string[];
  readonly knownHostsFile: string;
  /** `<var_dir>/ssh_key`. */
  readonly keyFile: string;
  /** The tunnel port P, the same on both ends. */
  readonly port: number;
  /** `rsyncd_local_address`: where the tunnel ends on this machine. */
  readonly localAddress: string;
  readonly storage: Pick<StorageEndpoint, 'ssh_ping_host' | 'ssh_ping_port' | 'ssh_ping_user'>;
  /** Whether this CPU has AES instructions (default: read from /proc/cpuinfo, `cpuHasAes`). */
  readonly aes?: boolean;
  /** A restore's session: it asks for {@link RESTORE_REMOTE_COMMAND}, which the storage's gate reads. */
  readonly restore?: boolean;
}

/**
 * The ciphers in OpenSSH's default set, AES-GCM first: with AES instructions it costs each end
 * about half the CPU of chacha20-poly1305, ssh's own first choice (docs/datapath.md, "The SSH
 * client"). A storage picks the first of these its sshd allows, so one without AES-GCM still works.
 */
export const AES_FIRST_CIPHERS =
  'aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr';

/**
 * Options chosen for speed (docs/datapath.md, "The SSH client"). Options in `ssh_command` come
 * first on the command line, and ssh keeps the first value it reads, so an operator can override
 * each of them there.
 *   - Ciphers: AES-GCM first on a CPU with AES instructions; ssh's default order otherwise.
 *   - The key exchange stays ssh's default, post-quantum hybrid first: backups hold a machine's
 *     secrets, worth protecting from traffic recorded today and decrypted later. (Leaving out
 *     sntrup761 would save the client some 70 ms of CPU per login on OpenSSH 9.2; a site may do
 *     that in `ssh_command`.)
 *   - Compression: never in ssh; the storage's `rsync_compress` decides for the data.
 */
export function sshSpeedOptions(aes: boolean): string[] {
  return [...(aes ? ['-o', `Ciphers=${AES_FIRST_CIPHERS}`] : []), '-o', 'Compression=no'];
}

let aesCache: boolean | undefined;

/** Whether this CPU has AES instructions, from /proc/cpuinfo; false when it cannot be read. */
export function cpuHasAes(): boolean {
  if (aesCache === undefined) {
    try {
      aesCache = cpuinfoHasAes(readFileSync('/proc/cpuinfo', 'latin1'));
    } catch {
      aesCache = false;
    }
  }
  return aesCache;
}

/** The `aes` flag on a `flags` (x86) or `Features` (ARM) line of /proc/cpuinfo's text. */
export function cpuinfoHasAes(cpuinfo: string): boolean {
  return /^(?:flags|features)\s*:.*\baes\b/im.test(cpuinfo);
}

/** A fresh argv per session. `-R` names no bind address, so the storage listens on localhost. */
export function sshArgv(options: SshArgvOptions): string[] {
  const { storage } = options;
  checkHost(storage.ssh_ping_host);
  if (storage.ssh_ping_user === '' || storage.ssh_ping_user.startsWith('-') || /\s/.test(storage.ssh_ping_user)) {
    throw new UserError(`Storage ${storage.ssh_ping_host} has an unusable ssh user "${storage.ssh_ping_user}"`);
  }
  const target = options.localAddress.includes(':') ? `[${options.localAddress}]` : options.localAddress;
  return [
    ...options.command,
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${options.knownHostsFile}`,
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
    ...sshSpeedOptions(options.aes ?? cpuHasAes()),
    '-i',
    options.keyFile,
    '-R',
    `${options.port}:${target}:${options.port}`,
    '-p',
    String(storage.ssh_ping_port),
    '-l',
    storage.ssh_ping_user,
    storage.ssh_ping_host,
    options.restore === true ? RESTORE_REMOTE_COMMAND : REMOTE_COMMAND,
  ];
}

function checkHost(host: string): void {
  if (host === '' || host.startsWith('-') || /\s/.test(host) || hasControlCharacters(host)) {
    throw new UserError(`Unusable storage host name "${host}"`);
  }
}

export interface SshResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Everything ssh wrote on stderr: the storage's console log and ssh's own messages. */
  readonly stderr: string;
  /** Whether `stop` ended the session. */
  readonly stopped: boolean;
}

/** ssh's own status for a failed connection, or for an error it reports itself. */
export const SSH_FAILURE = 255;

/**
 * The remote end could not listen on P (docs/datapath.md, "A backup, step by step" step 3): worth a
 * retry on another port.
 */
export function isForwardFailure(result: Pick<SshResult, 'exitCode' | 'stderr'>): boolean {
  return result.exitCode === SSH_FAILURE && result.stderr.includes('remote port forwarding failed');
}

export interface SshRunOptions {
  readonly argv: readonly string[];
  /**
   * The framed request (`encodeStdinRequest`), or a promise of it: ssh then connects while the
   * request is still being prepared, and the remote command waits for it. A rejected promise ends
   * the session before anything was asked: stdin is closed and ssh terminated.
   */
  readonly request: string | Promise<string>;
  /**
   * `hold`: stdin stays open until ssh exits or `stop` fires (a check-in, an interactive
   * restore); `end`: end-of-file right after the request (a scripted restore).
   */
  readonly stdin: 'hold' | 'end';
  /** Ends the session: stdin is closed, and ssh is terminated if it is still there after `graceMs`. */
  readonly stop?: AbortSignal;
  readonly graceMs?: number;
  /** Each chunk of ssh's stderr as it arrives (passed through to the operator). */
  readonly onStderr?: (text: string) => void;
  /** What the remote command prints on stdout (ours: a check-in's `turku-result` line only). */
  readonly onStdout?: (text: string) => void;
}

const MAX_KEPT_STDERR = 1024 * 1024;

export function runSsh(options: SshRunOptions): Promise<SshResult> {
  const [program, ...args] = options.argv;
  if (program === undefined) return Promise.reject(new UserError('ssh_command is empty'));
  return new Promise((resolve, reject) => {
    // Its own process group, so a terminal's Ctrl-C reaches only the agent, which then closes
    // stdin and lets the storage end the session cleanly. The tunnel dies with the agent, even
    // when the agent is killed (die-with-parent.ts).
    const [wrapped, ...wrappedArgs] = dieWithParent([program, ...args]);
    const child = spawn(wrapped!, wrappedArgs, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const untrack = child.pid === undefined ? () => false : trackProcessGroup(child.pid);
    let stderr = '';
    let stopped = false;
    const timers: NodeJS.Timeout[] = [];
    child.stdout.on('data', (chunk: Buffer) => options.onStdout?.(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      options.onStderr?.(text);
      stderr += text;
      if (stderr.length > MAX_KEPT_STDERR) stderr = stderr.slice(-MAX_KEPT_STDERR);
    });
    // ssh may exit before reading its input (no connection); that is reported by its status.
    child.stdin.on('error', () => undefined);
    const send = (request: string) => {
      // Not after the session was stopped, or ssh is gone.
      if (child.stdin.writableEnded || child.stdin.destroyed) return;
      child.stdin.write(request);
      if (options.stdin === 'end') child.stdin.end();
    };
    if (typeof options.request === 'string') send(options.request);
    else {
      options.request.then(send, () => {
        child.stdin.end();
        signal(child.pid, 'SIGTERM');
      });
    }

    const onStop = () => {
      stopped = true;
      child.stdin.end();
      timers.push(
        setTimeout(() => signal(child.pid, 'SIGTERM'), options.graceMs ?? 0),
        setTimeout(() => signal(child.pid, 'SIGKILL'), (options.graceMs ?? 0) + 10_000),
      );
    };
    if (options.stop?.aborted) onStop();
    else options.stop?.addEventListener('abort', onStop, { once: true });

    const finish = () => {
      untrack();
      timers.forEach(clearTimeout);
      options.stop?.removeEventListener('abort', onStop);
    };
    child.once('error', (error) => {
      finish();
      const reason = isErrno(error, 'ENOENT') ? 'not found' : errorMessage(error);
      reject(new UserError(`Cannot run ssh (${program}): ${reason}`));
    });
    child.once('close', (exitCode, exitSignal) => {
      finish();
      child.stdin.destroy();
      resolve({ exitCode, signal: exitSignal, stderr, stopped });
    });
  });
}

function signal(pid: number | undefined, name: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** One line for an ssh that could not get a session going: the storage and its last word. */
export function sshFailureMessage(
  storage: { readonly name: string; readonly ssh_ping_host: string; readonly ssh_ping_port: number },
  stderr: string,
): string {
  const reason = lastLine(stderr);
  return (
    `Cannot connect to storage ${storage.name} at ${storage.ssh_ping_host}:${storage.ssh_ping_port} with ssh` +
    (reason === '' ? '' : `: ${reason}`)
  );
}
